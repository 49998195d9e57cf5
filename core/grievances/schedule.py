"""The server escalates overdue grievances by itself: every ``SIKS_GRIEVANCE_ESCALATION_SECONDS`` (an hour by
default; 0 turns it off, e.g. when `siks grievances escalate` runs from cron instead).

Each round is ``handling.escalate_overdue`` over the whole country in one write transaction, audited as the
principal ``siks:escalation``. Several server workers may each run it: a case moves at most once past a
deadline (the UPDATE re-checks the status and the new deadline lies ``SIKS_GRIEVANCE_DEADLINE_DAYS`` ahead),
so a second worker's round finds nothing left to move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.foundation.settings import Settings
from core.grievances.handling import Escalated, escalate_overdue
from core.runtime.background import running
from core.storage.db import write_transaction

log = logging.getLogger("siks.grievances")
ESCALATOR = RequestInfo(Principal(username="siks:escalation", role="cli", scope="", via="server"), client="server")


async def escalate_round(engine: AsyncEngine, deadline_days: int) -> Escalated:
    async with write_transaction(engine) as conn:
        return await escalate_overdue(conn, ESCALATOR, deadline_days)


async def _periodically(engine: AsyncEngine, settings: Settings) -> None:
    while True:
        try:
            done = await escalate_round(engine, settings.grievance_deadline_days)
            if done.total:
                log.info("escalated %d overdue grievance(s): %s", done.total, done.by_level)
        except Exception:  # a failed round (database away) is retried at the next one; the server stays up
            log.exception(
                "escalating overdue grievances failed; trying again in %s s", settings.grievance_escalation_seconds
            )
        await asyncio.sleep(settings.grievance_escalation_seconds)


@contextlib.asynccontextmanager
async def escalating(engine: AsyncEngine, settings: Settings) -> AsyncIterator[None]:
    """While the server runs, a round of escalation now and every ``grievance_escalation_seconds`` (0: none)."""
    if not settings.grievance_escalation_seconds:
        yield
        return
    async with running(_periodically(engine, settings), "siks-grievance-escalation"):
        yield
