"""The limits a server process puts on callers, over one counter store (``core.runtime.ratelimit``).

Made once per application and shared by its routes; in Redis (``SIKS_REDIS_URL``) every process
behind a load balancer shares the counts, so two servers are one limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.auth.refusals import RefusalLog
from core.auth.throttle import LoginThrottle
from core.foundation.settings import Settings
from core.runtime.ratelimit import CounterStore, RateLimiter, make_store

DAY_SECONDS = 86_400
HOUR_SECONDS = 3_600


@dataclass
class Guards:
    store: CounterStore
    public: RateLimiter  # requests to /public/graphql per address
    nik_checks: RateLimiter  # Cek Bansos look-ups with a NIK per (village, name), from all addresses
    anonymous: RateLimiter  # requests to /graphql without valid credentials per address
    region_steps: RateLimiter  # SIKS-Dataku region-choosing pages per address
    ticket_checks: RateLimiter  # SIKS-Dataku tracking of one ticket code, from all addresses
    logins: LoginThrottle
    refusals: RefusalLog

    @classmethod
    def make(cls, state: Any, settings: Settings) -> Guards:
        """The guards of an application whose engine will be ``state.engine``."""
        store = make_store(settings)
        return cls(
            store=store,
            public=RateLimiter(store, "rl", settings.public_requests_per_minute),
            nik_checks=RateLimiter(store, "nik", settings.public_nik_checks_per_day, DAY_SECONDS),
            anonymous=RateLimiter(store, "anon", settings.anonymous_requests_per_minute),
            region_steps=RateLimiter(store, "dk-steps", settings.dataku_region_steps_per_minute),
            ticket_checks=RateLimiter(store, "dk-ticket", settings.dataku_ticket_checks_per_hour, HOUR_SECONDS),
            logins=LoginThrottle(store, settings),
            refusals=RefusalLog(state),
        )

    async def aclose(self) -> None:
        """Write the open refusal windows and release the store (its Redis connections)."""
        try:
            await self.refusals.aclose()
        finally:
            await self.store.aclose()
