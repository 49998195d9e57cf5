"""Reads from a streaming replica (``SIKS_DATABASE_REPLICA_URL``), writes to the primary.

A GraphQL query is answered from the replica's engine when (``ReplicaRouter.engine_for``):

- the replica is a hot standby no further behind than ``SIKS_DATABASE_REPLICA_MAX_LAG_SECONDS`` (asked at
  most once a second; an unreachable replica is left alone for a few seconds), and
- its caller has not written lately: after a mutation (a login included) the caller — their account, and for
  an anonymous caller their address — reads from the primary for ``SIKS_DATABASE_REPLICA_STICKY_SECONDS``, so
  they see their own writes (kept in Redis when ``SIKS_REDIS_URL`` is set, so every worker knows).

Mutations, and everything outside GraphQL queries, use the primary. The replica's engine carries its primary
(``PRIMARY_OPTION``), so the few rows a query writes — the read audit, a denied attempt — still reach the
primary through ``core.storage.db.write_transaction``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from graphql import GraphQLError, OperationDefinitionNode, parse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.storage.db import PRIMARY_OPTION, create_engine

log = logging.getLogger(__name__)

#: How long a replica's state is believed before it is asked again, and how long an unreachable one is left alone.
CHECK_SECONDS = 1.0
UNREACHABLE_SECONDS = 5.0

_LAG = text(
    "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


@dataclass(frozen=True)
class ReplicaState:
    """What the replica said: ``streaming`` (usable), ``behind`` (too far), ``primary`` (not in recovery: not a
    replica) or ``unreachable``; its replay lag in seconds (0 when it has replayed all it received)."""

    state: str
    lag_seconds: float | None = None

    @property
    def usable(self) -> bool:
        return self.state == "streaming"

    def report(self) -> dict[str, Any]:
        return {"replica": self.state, "replica_lag_seconds": self.lag_seconds}


class RecentWriters:
    """Callers who wrote in the last ``seconds``: in Redis (shared by every worker) or in this process."""

    def __init__(self, seconds: float, redis_url: str | None) -> None:
        self.seconds = seconds
        self._redis = redis.from_url(redis_url) if redis_url else None
        self._local: dict[str, float] = {}

    @staticmethod
    def _key(caller: str) -> str:
        return "siks:wrote:" + hashlib.sha256(caller.encode()).hexdigest()[:32]

    async def wrote(self, callers: list[str]) -> None:
        if not self.seconds:
            return
        if self._redis is not None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for caller in callers:
                    pipe.set(self._key(caller), 1, px=int(self.seconds * 1000))
                await pipe.execute()
            return
        now = time.monotonic()
        if len(self._local) > 10_000:
            self._local = {k: until for k, until in self._local.items() if until > now}
        for caller in callers:
            self._local[caller] = now + self.seconds

    async def any_wrote(self, callers: list[str]) -> bool:
        if not self.seconds:
            return False
        if self._redis is not None:
            return bool(await self._redis.exists(*(self._key(caller) for caller in callers)))
        now = time.monotonic()
        return any(self._local.get(caller, 0.0) > now for caller in callers)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def operation_kind(document: str | None, operation_name: str | None) -> str | None:
    """``query``, ``mutation`` or ``subscription``: the type of the operation a request runs; None when the
    document does not parse or does not say which (the request goes to the primary and fails there)."""
    if not document:
        return None
    try:
        parsed = parse(document, no_location=True)
    except GraphQLError:
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name is not None and d.name.value == operation_name]
    if len(operations) != 1:
        return None
    return str(operations[0].operation.value)


class ReplicaRouter:
    """The replica's engine, its last known state, and the callers who must read from the primary."""

    def __init__(self, primary: AsyncEngine, settings: Settings) -> None:
        assert settings.database_replica_url
        self.primary = primary
        self.replica = create_engine(settings, url=settings.database_replica_url)
        self.replica = self.replica.execution_options(**{PRIMARY_OPTION: primary})
        self.max_lag = settings.database_replica_max_lag_seconds
        self.writers = RecentWriters(settings.database_replica_sticky_seconds, settings.redis_url)
        self._timeout = settings.db_connect_timeout_seconds
        self._state = ReplicaState("unknown")
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def state(self) -> ReplicaState:
        """The replica's state, asked again when the last answer is older than a second."""
        if time.monotonic() < self._until:
            return self._state
        async with self._lock:
            if time.monotonic() < self._until:
                return self._state
            self._state, believe = await self._ask(), CHECK_SECONDS
            if self._state.state == "unreachable":
                believe = UNREACHABLE_SECONDS
            self._until = time.monotonic() + believe
            return self._state

    async def _ask(self) -> ReplicaState:
        try:
            async with asyncio.timeout(self._timeout), self.replica.connect() as conn:
                recovering, lag = (await conn.execute(_LAG)).one()
        except Exception as error:  # whatever the reason, queries go to the primary meanwhile
            log.warning("the read replica is unreachable: %s", type(error).__name__)
            return ReplicaState("unreachable")
        if not recovering:
            return ReplicaState("primary")
        lag = round(float(lag), 3)
        return ReplicaState("streaming" if lag <= self.max_lag else "behind", lag)

    async def engine_for(self, query: bool, callers: list[str]) -> AsyncEngine:
        """The engine a GraphQL operation reads from: the replica for a query of a caller who has not written
        lately while the replica keeps up; the primary otherwise."""
        if not query:
            return self.primary
        try:
            if await self.writers.any_wrote(callers):
                return self.primary
        except redis.RedisError as error:  # not knowing who wrote: the primary is always right
            log.warning("read-your-writes unknown (Redis: %s): reading the primary", type(error).__name__)
            return self.primary
        return self.replica if (await self.state()).usable else self.primary

    async def wrote(self, callers: list[str]) -> None:
        """Note that ``callers`` wrote: their queries read the primary for a while."""
        try:
            await self.writers.wrote(callers)
        except redis.RedisError as error:  # the write is done; its caller may read a lagging replica meanwhile
            log.warning("could not note a writer in Redis: %s", type(error).__name__)

    async def aclose(self) -> None:
        try:
            await self.writers.aclose()
        finally:
            await self.replica.dispose()
