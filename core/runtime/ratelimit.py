"""Counting callers: fixed-window rate limits and failure backoff, in memory or in Redis.

One ``CounterStore`` a server process holds every count: in this process by default
(``MemoryStore``), or in Redis when ``SIKS_REDIS_URL`` is set (``RedisStore``), so every process
behind a load balancer shares them. Two policies are built on it:

- ``RateLimiter``: at most ``limit`` hits in a fixed window of ``window`` seconds that starts with
  a key's first hit; over it the caller waits until the window ends and is told how long
  (``Retry-After``). The public endpoint, anonymous traffic on ``/graphql`` and NIK look-ups per
  name use it.
- ``Backoff`` (``CounterStore.admit``): ``free`` attempts go ahead back to back; then the key is
  locked for ``first`` seconds after each attempt, doubling with every one up to ``longest``;
  charges are forgotten ``memory`` seconds after the last one. An attempt is charged *before* it is
  evaluated, so concurrent attempts cannot slip past a lock; a success then takes its charge back
  (``refund``, which lifts the lock when the charges left are below ``free``) or clears the key
  (``core.auth.throttle``).

A client is counted by ``address_key``: its IPv4 address, or its IPv6 /64 network (the block one
subscriber usually holds). The address is the peer of the connection, or, when the peer is one of
``SIKS_TRUSTED_PROXIES``, the client that proxy names in ``X-Forwarded-For`` (``core.http.app``).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from core.foundation.settings import Settings
from core.http.middleware import send_error

WINDOW_SECONDS = 60
KEY_PREFIX = "siks"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
UNAVAILABLE = "SERVICE_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the caller may try again, when refused


class LimiterUnavailable(Exception):
    """The shared counter store could not be reached."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Locks from the ``free``-th charged attempt on: ``first`` seconds, doubling each attempt, at most ``longest``."""

    free: int
    first: int
    longest: int
    memory: int  # seconds after the last charge that the count is forgotten

    def lockout(self, charged: int) -> int:
        """Seconds the key is locked after its ``charged``-th attempt (0: not locked)."""
        if charged < self.free:
            return 0
        return min(self.first * 2 ** min(charged - self.free, 30), self.longest)


class CounterStore(Protocol):
    async def add(self, key: str, window: int, cost: int = 1) -> tuple[int, int]:
        """Add ``cost`` to ``key``'s count in its fixed window (started by the first add); (count, seconds left)."""
        ...

    async def admit(self, gates: Sequence[tuple[str, Backoff]]) -> Verdict:
        """Refuse when any key is locked (waiting for the longest lock); else charge every key one attempt."""
        ...

    async def refund(self, key: str, backoff: Backoff) -> None:
        """Take back one charge of ``key``; lift its lock when fewer than ``backoff.free`` charges are left."""
        ...

    async def clear(self, key: str) -> None:
        """Forget ``key``'s charges and lock."""
        ...

    async def aclose(self) -> None: ...


class MemoryStore:
    """Counts in this process; expired entries are swept at most once a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, int]] = {}  # key -> (expires at, value)
        self._next_sweep = clock() + WINDOW_SECONDS

    def _live(self, key: str, now: float) -> tuple[float, int] | None:
        entry = self._entries.get(key)
        return entry if entry is not None and entry[0] > now else None

    def _now(self) -> float:
        now = self._clock()
        if now >= self._next_sweep:
            self._entries = {key: entry for key, entry in self._entries.items() if entry[0] > now}
            self._next_sweep = now + WINDOW_SECONDS
        return now

    async def add(self, key: str, window: int, cost: int = 1) -> tuple[int, int]:
        now = self._now()
        expires, count = self._live(key, now) or (now + window, 0)
        self._entries[key] = (expires, count + cost)
        return count + cost, max(1, math.ceil(expires - now))

    async def admit(self, gates: Sequence[tuple[str, Backoff]]) -> Verdict:
        now = self._now()
        locks = [self._live(f"{key}:lock", now) for key, _ in gates]
        waits = [math.ceil(lock[0] - now) for lock in locks if lock is not None]
        if waits:
            return Verdict(False, max(1, *waits))
        for key, backoff in gates:
            entry = self._live(key, now)
            charged = (entry[1] if entry else 0) + 1
            self._entries[key] = (now + backoff.memory, charged)
            locked = backoff.lockout(charged)
            if locked:
                self._entries[f"{key}:lock"] = (now + locked, charged)
        return Verdict(True)

    async def refund(self, key: str, backoff: Backoff) -> None:
        entry = self._live(key, self._now())
        charged = entry[1] - 1 if entry is not None and entry[1] > 0 else 0
        if entry is not None:
            self._entries[key] = (entry[0], charged)
        if charged < backoff.free:
            self._entries.pop(f"{key}:lock", None)

    async def clear(self, key: str) -> None:
        self._entries.pop(key, None)
        self._entries.pop(f"{key}:lock", None)

    async def aclose(self) -> None:
        self._entries.clear()


# KEYS: count and lock of each gate, in turn; ARGV: free, first, longest and memory of each gate.
# Answers 0 when admitted, else the milliseconds until the longest lock ends.
_ADMIT = """
local wait = 0
for i = 2, #KEYS, 2 do
  local left = redis.call('PTTL', KEYS[i])
  if left > wait then wait = left end
end
if wait > 0 then return wait end
for i = 1, #KEYS, 2 do
  local a = (i - 1) * 2
  local free, first, longest, memory = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]),
    tonumber(ARGV[a + 4])
  local charged = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], memory)
  if charged >= free then
    local locked = math.min(first * 2 ^ math.min(charged - free, 30), longest)
    redis.call('SET', KEYS[i + 1], charged, 'EX', math.floor(locked))
  end
end
return 0
"""
# KEYS: count, lock; ARGV: free.
_REFUND = """
local charged = tonumber(redis.call('GET', KEYS[1]) or '0')
if charged > 0 then charged = redis.call('DECR', KEYS[1]) end
if charged < tonumber(ARGV[1]) then redis.call('DEL', KEYS[2]) end
return 0
"""


class RedisStore:
    """Counts in Redis, shared by every process using the same server (keys start with ``siks:``)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._admit = client.register_script(_ADMIT)
        self._refund = client.register_script(_REFUND)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        return cls(redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    async def add(self, key: str, window: int, cost: int = 1) -> tuple[int, int]:
        name = f"{KEY_PREFIX}:{key}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrby(name, cost)
                pipe.expire(name, window, nx=True)
                pipe.ttl(name)
                count, _set, ttl = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return int(count), max(1, int(ttl))

    async def admit(self, gates: Sequence[tuple[str, Backoff]]) -> Verdict:
        keys = [name for key, _ in gates for name in (f"{KEY_PREFIX}:{key}", f"{KEY_PREFIX}:{key}:lock")]
        args = [value for _, b in gates for value in (b.free, b.first, b.longest, b.memory)]
        try:
            wait = int(await self._admit(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return Verdict(True) if wait <= 0 else Verdict(False, max(1, math.ceil(wait / 1000)))

    async def refund(self, key: str, backoff: Backoff) -> None:
        try:
            await self._refund(keys=[f"{KEY_PREFIX}:{key}", f"{KEY_PREFIX}:{key}:lock"], args=[backoff.free])
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def clear(self, key: str) -> None:
        try:
            await self._redis.delete(f"{KEY_PREFIX}:{key}", f"{KEY_PREFIX}:{key}:lock")
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_store(settings: Settings) -> CounterStore:
    """Redis-backed when ``SIKS_REDIS_URL`` is set, else in memory."""
    if settings.redis_url:
        return RedisStore.from_url(settings.redis_url)
    return MemoryStore()


class RateLimiter:
    """At most ``limit`` hits a key in a fixed window of ``window`` seconds, counted in ``store`` under ``name``."""

    def __init__(self, store: CounterStore, name: str, limit: int, window: int = WINDOW_SECONDS) -> None:
        self.store = store
        self.name = name
        self.limit = limit
        self.window = window

    async def hit(self, key: str, cost: int = 1) -> Verdict:
        """Count ``cost`` hits of ``key`` and say whether it may go ahead."""
        count, left = await self.store.add(f"{self.name}:{key}", self.window, cost)
        if count > self.limit:
            return Verdict(False, left)
        return Verdict(True)


def address_key(host: str) -> str:
    """The key an address is counted under: the IPv4 address, or the IPv6 /64 network."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_host(scope: Scope) -> str:
    """The client's address as the request carries it (after the trusted-proxy rewrite), or 'unknown'."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def client_key(scope: Scope) -> str:
    """The key a request's client is counted under (``address_key`` of its address)."""
    return address_key(client_host(scope))


async def send_too_many(send: Send, limiter: RateLimiter, retry_after: int, what: str) -> None:
    """HTTP 429 saying how many ``what`` the limit allows and when to try again."""
    await send_error(
        send,
        429,
        f"too many {what} from your address: at most {limiter.limit} in {limiter.window} s; "
        f"try again in {retry_after} s",
        {"Retry-After": str(retry_after)},
        code=TOO_MANY_REQUESTS,
    )


async def send_unavailable(send: Send, what: str) -> None:
    """HTTP 503: the counts cannot be reached, so nothing is let through uncounted."""
    await send_error(
        send,
        503,
        f"the service cannot count {what} right now; try again in a minute",
        {"Retry-After": "60"},
        code=UNAVAILABLE,
    )


class RateLimited:
    """ASGI wrapper: every HTTP request counts against its client's limit; over it, HTTP 429."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            verdict = await self.limiter.hit(client_key(scope))
        except LimiterUnavailable:
            await send_unavailable(send, "requests")
            return
        if not verdict.allowed:
            await send_too_many(send, self.limiter, verdict.retry_after, "requests")
            return
        await self.app(scope, receive, send)
