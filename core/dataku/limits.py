"""The pages' limits, counted by the application's own limiters (``core.runtime.guards``).

- every posted look-up (Cek Bansos), usul and tracked ticket: the address's
  ``SIKS_PUBLIC_REQUESTS_PER_MINUTE``, shared with ``/public/graphql`` (``cekbansos.count_request``,
  ``usul.count_request``);
- every region-choosing page (the Cek Bansos and Usul steps province → village, a database query
  each): the address's ``SIKS_DATAKU_REGION_STEPS_PER_MINUTE``, a looser limit of its own, since a
  look-up needs four steps before it and the steps read a small indexed list;
- every tracking of one ticket code, from all addresses together: ``SIKS_DATAKU_TICKET_CHECKS_PER_HOUR``,
  keyed by a keyed hash of the code (the counter store holds no ticket codes).

A refusal is a ``Refused``: HTTP 429 with the seconds to wait, or 503 when the counter store cannot be
reached (the page is not answered uncounted).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from core.dataku.i18n import N_, Message
from core.runtime.guards import Guards
from core.runtime.ratelimit import LimiterUnavailable, RateLimiter


@dataclass(frozen=True, slots=True)
class Refused:
    """A request not answered: HTTP ``status``, a message, and seconds to wait when limited."""

    status: int
    message: Message
    retry_after: int = 0


async def charge(limiter: RateLimiter, key: str, unavailable: str, too_many: str) -> Refused | None:
    """Count one hit of ``key``; the refusals say ``unavailable`` (the store cannot count) or ``too_many``
    (with ``limit`` and ``seconds``)."""
    try:
        verdict = await limiter.hit(key)
    except LimiterUnavailable:
        return Refused(503, Message(unavailable), 60)
    if not verdict.allowed:
        return Refused(
            429, Message(too_many, {"limit": limiter.limit, "seconds": verdict.retry_after}), verdict.retry_after
        )
    return None


async def count_region_step(guards: Guards, address: str) -> Refused | None:
    """Charge one region-choosing page to the address."""
    return await charge(
        guards.region_steps,
        address,
        N_("Pages cannot be counted right now; try again in a minute."),
        N_("Too many pages opened from your address: at most %(limit)s a minute; try again in %(seconds)s s."),
    )


def ticket_key(secret: str, code: str) -> str:
    """The key a (normalised) ticket code is counted under: a keyed hash, so the store holds no codes."""
    return hmac.new(secret.encode(), f"dataku-ticket\x1f{code}".encode(), hashlib.sha256).hexdigest()[:32]


async def count_ticket_check(guards: Guards, secret: str, code: str) -> Refused | None:
    """Charge one tracking of the ticket ``code`` (normalised), whatever the address."""
    return await charge(
        guards.ticket_checks,
        ticket_key(secret, code),
        N_("Tickets cannot be counted right now; try again in a minute."),
        N_("This ticket has been tracked too often: at most %(limit)s times an hour; try again in %(seconds)s s."),
    )
