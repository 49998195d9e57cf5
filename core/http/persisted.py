"""Automatic persisted queries (Apollo's protocol): a client sends a query's SHA-256 instead of its text.

``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`` with no ``query``: the server
runs the query it registered under that hash, or answers the error ``PersistedQueryNotFound``
(code ``PERSISTED_QUERY_NOT_FOUND``), after which the client sends hash and query together; the
server checks that the hash is the query's and registers it. So a GET of a hash stays short and
cacheable. The store is a bounded LRU per process, or Redis (shared, expiring after a day) when
``SIKS_REDIS_URL`` is set; a store that cannot be reached only makes clients send the full query.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from core.foundation.settings import Settings

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
BAD_REQUEST = "BAD_REQUEST"
_HASH = re.compile(r"^[0-9a-f]{64}$")
REDIS_TTL_SECONDS = 24 * 3600
#: Longer documents run but are not kept: nobody fills the store with a few huge "queries".
MAX_PERSISTED_QUERY_CHARS = 20_000


class PersistedQueryProblem(Exception):
    """The persisted-query extension could not be honoured; answered with ``status`` and the GraphQL error shape."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.status = status
        self.body: dict[str, Any] = {"errors": [error]}


def not_found() -> PersistedQueryProblem:
    # Apollo's clients recognise the message itself; the code is for everyone else.
    return PersistedQueryProblem(
        200, {"message": "PersistedQueryNotFound", "extensions": {"code": PERSISTED_QUERY_NOT_FOUND}}
    )


def _bad_request(message: str) -> PersistedQueryProblem:
    return PersistedQueryProblem(400, {"message": message, "extensions": {"code": BAD_REQUEST}})


class PersistedQueryStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, query: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryPersistedQueries:
    """The most recently used ``capacity`` queries of this process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._queries: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        query = self._queries.get(sha256)
        if query is not None:
            self._queries.move_to_end(sha256)
        return query

    async def put(self, sha256: str, query: str) -> None:
        self._queries[sha256] = query
        self._queries.move_to_end(sha256)
        while len(self._queries) > self.capacity:
            self._queries.popitem(last=False)

    async def aclose(self) -> None:
        self._queries.clear()


class RedisPersistedQueries:
    """Queries shared by every process using the same Redis; each expires a day after it was last registered.

    Redis bounds nothing by itself: give it a ``maxmemory`` with ``volatile-lru`` so registrations
    (at most one a request, within the rate limits) can never crowd out the rate-limit counters.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def get(self, sha256: str) -> str | None:
        try:
            value = await self._redis.get(f"{self._prefix}:{sha256}")
        except (RedisError, OSError):
            return None  # the client sends the full query next
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, sha256: str, query: str) -> None:
        try:
            await self._redis.set(f"{self._prefix}:{sha256}", query.encode(), ex=REDIS_TTL_SECONDS)
        except (RedisError, OSError):
            return

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_store(settings: Settings, endpoint: str) -> PersistedQueryStore:
    """Redis-backed when ``SIKS_REDIS_URL`` is set, else in memory; ``endpoint`` keeps the two schemas apart."""
    if settings.redis_url:
        client = redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return RedisPersistedQueries(client, f"siks:apq:{endpoint}")
    return MemoryPersistedQueries(settings.persisted_queries_max)


async def resolve(store: PersistedQueryStore, query: str | None, extensions: dict[str, Any] | None) -> str | None:
    """The query to run: the sent one (registered when it carries its hash), or the one registered under the hash."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return query
    sha256 = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(persisted, dict) or persisted.get("version") != 1 or not isinstance(sha256, str):
        raise _bad_request('extensions.persistedQuery must be {"version": 1, "sha256Hash": "<hex>"}')
    sha256 = sha256.lower()
    if not _HASH.match(sha256):
        raise _bad_request("extensions.persistedQuery.sha256Hash must be 64 hex digits")
    if query is None:
        stored = await store.get(sha256)
        if stored is None:
            raise not_found()
        return stored
    if hashlib.sha256(query.encode()).hexdigest() != sha256:
        message = "provided sha does not match query: sha256Hash must be the SHA-256 of the query's text"
        raise PersistedQueryProblem(400, {"message": message, "extensions": {"code": PERSISTED_QUERY_HASH_MISMATCH}})
    if len(query) <= MAX_PERSISTED_QUERY_CHARS:
        await store.put(sha256, query)
    return query


class PersistedQueries:
    """The stores of both endpoints, made once per application (``app.state.persisted_queries``)."""

    def __init__(self, settings: Settings) -> None:
        self.stores = {endpoint: make_store(settings, endpoint) for endpoint in ("main", "public")}

    def of(self, endpoint: str) -> PersistedQueryStore:
        return self.stores[endpoint]

    async def aclose(self) -> None:
        for store in self.stores.values():
            await store.aclose()


Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


def closing_persisted_queries(lifespan: Lifespan) -> Lifespan:
    """``lifespan``, then the persisted-query stores of ``app.state`` closed (their Redis connections)."""

    @asynccontextmanager
    async def wrapped(app: Any) -> AsyncIterator[None]:
        try:
            async with lifespan(app):
                yield
        finally:
            await app.state.persisted_queries.aclose()

    return wrapped
