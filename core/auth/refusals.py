"""Refusals of callers who are no one yet (bad credentials, anonymous floods), audited in aggregate.

Anyone can send a bad token; an audit row for each would let anyone fill the log. So refusals
are counted per (client address, operation, reason) in windows of ``WINDOW_SECONDS``: the first
refusal of a window is written at once (a single probe shows in the log without delay), the
repeats after it are counted in memory and written as one row carrying their number (``repeats``)
and the time of the first and last (``from``, ``until``) when the window ends, by the next refusal
after it, by the flusher every window, and when the server stops. So one address and reason cost
at most two rows a window, however many requests it sends. Each server process counts its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.audit.log import RequestInfo, record
from core.runtime.ratelimit import address_key
from core.storage.db import write_transaction

WINDOW_SECONDS = 60
#: Open windows kept at most; beyond, every window is closed (written) at once.
MAX_OPEN_WINDOWS = 10_000
logger = logging.getLogger("siks.audit")


@dataclass(slots=True)
class _Window:
    started: float
    request: RequestInfo
    entity: str
    first_at: datetime
    last_at: datetime
    repeats: int = 0


class RefusalLog:
    """Aggregated audit rows of refusals; ``state.engine`` is the database they are written to."""

    def __init__(self, state: Any, window: int = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._state = state
        self.window = window
        self._clock = clock
        self._open: dict[tuple[str, str, str], _Window] = {}

    async def refused(
        self,
        request: RequestInfo,
        *,
        operation: str,
        entity: str,
        reason: str,
        entity_id: str = "-",
        after: dict[str, Any] | None = None,
    ) -> None:
        """Note one refusal: written now if it is the first of its window, else counted for the window's row.

        The client is recorded as it is counted (``address_key``: an IPv6 client by its /64).
        """
        now = self._clock()
        await self.flush(now)
        request = RequestInfo(request.principal, address_key(request.client), request.request_id)
        key = (request.client, operation, reason)
        at = datetime.now(UTC)
        window = self._open.get(key)
        if window is not None:
            window.repeats += 1
            window.last_at = at
            return
        if len(self._open) >= MAX_OPEN_WINDOWS:
            await self.flush(None)
        self._open[key] = _Window(now, request, entity, at, at)
        async with write_transaction(self._state.engine) as conn:
            await record(
                conn,
                request,
                operation=operation,
                entity=entity,
                entity_id=entity_id,
                outcome="denied",
                after={"reason": reason, **(after or {})},
            )

    async def flush(self, now: float | None) -> None:
        """Write the rows of the windows ended by ``now`` (all windows when ``now`` is None)."""
        ended = []
        for key, window in self._open.items():  # oldest first: windows are opened in time order
            if now is not None and window.started + self.window > now:
                break
            ended.append(key)
        closed = [(key, self._open.pop(key)) for key in ended]
        repeated = [(key, window) for key, window in closed if window.repeats]
        if not repeated:
            return
        try:
            async with write_transaction(self._state.engine) as conn:
                for (_client, operation, reason), window in repeated:
                    await record(
                        conn,
                        RequestInfo(window.request.principal, window.request.client, "-"),
                        operation=operation,
                        entity=window.entity,
                        entity_id="-",
                        outcome="denied",
                        after={
                            "reason": reason,
                            "repeats": window.repeats,
                            "from": window.first_at,
                            "until": window.last_at,
                        },
                    )
        except Exception:
            for (client, operation, reason), window in repeated:
                logger.warning(
                    "could not audit %d repeated refusals (%s: %s) from %s", window.repeats, operation, reason, client
                )
            raise

    async def run(self) -> None:
        """Close ended windows every ``window`` seconds (a task of the server's lifespan)."""
        while True:
            await asyncio.sleep(self.window)
            try:
                await self.flush(self._clock())
            except Exception:
                logger.exception("flushing aggregated refusals failed")

    async def aclose(self) -> None:
        """Write every open window (the server is stopping)."""
        await self.flush(None)
