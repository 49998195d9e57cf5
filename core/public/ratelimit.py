"""Per-client rate limits for the public endpoints: in memory by default, in Redis when configured.

A client is its IP address as the ASGI server reports it (behind a load balancer, run uvicorn
with ``--forwarded-allow-ips`` so that is the caller's address); IPv6 clients are counted per /64
network, the block one subscriber usually holds. Each client gets a fixed window that starts
with its first request: at most ``limit`` requests in ``window`` seconds, after which it waits
until the window ends and is told how long in a ``Retry-After`` header.

The in-memory limiter counts per process; with several processes behind a load balancer, set
``SIKS_REDIS_URL`` so they share the counts (``INCR`` and ``EXPIRE … NX`` in one transaction).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from core.middleware import send_error
from core.settings import Settings

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the client may send again, when refused


class LimiterUnavailable(Exception):
    """The shared counter store could not be reached."""


class RateLimiter(Protocol):
    limit: int
    window: int

    async def hit(self, client: str) -> Verdict:
        """Count one request of ``client`` and say whether it may go ahead."""
        ...

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    """Counts in this process; expired windows are swept once a window."""

    def __init__(self, limit: int, window: int = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._next_sweep = clock() + window

    async def hit(self, client: str) -> Verdict:
        now = self._clock()
        if now >= self._next_sweep:
            self._windows = {key: value for key, value in self._windows.items() if value[0] + self.window > now}
            self._next_sweep = now + self.window
        start, count = self._windows.get(client, (now, 0))
        if start + self.window <= now:
            start, count = now, 0
        count += 1
        self._windows[client] = (start, count)
        if count > self.limit:
            return Verdict(False, max(1, math.ceil(start + self.window - now)))
        return Verdict(True)

    async def aclose(self) -> None:
        self._windows.clear()


class RedisRateLimiter:
    """Counts in Redis, shared by every process using the same server and prefix."""

    def __init__(self, client: redis.Redis, limit: int, window: int = WINDOW_SECONDS, prefix: str = "siks:rl") -> None:
        self.limit = limit
        self.window = window
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, limit: int, window: int = WINDOW_SECONDS) -> RedisRateLimiter:
        return cls(redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), limit, window)

    async def hit(self, client: str) -> Verdict:
        key = f"{self._prefix}:{client}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
                pipe.ttl(key)
                count, _set, ttl = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc
        if count > self.limit:
            return Verdict(False, max(1, int(ttl)))
        return Verdict(True)

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_limiter(settings: Settings) -> RateLimiter:
    """Redis-backed when ``SIKS_REDIS_URL`` is set, else in memory."""
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url, settings.public_requests_per_minute)
    return MemoryRateLimiter(settings.public_requests_per_minute)


def client_key(scope: Scope) -> str:
    """The address a request is counted under: the IPv4 address, or the IPv6 /64 network."""
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


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
            await send_error(
                send,
                503,
                "the public service cannot count requests right now; try again in a minute",
                {"Retry-After": "60"},
            )
            return
        if not verdict.allowed:
            await send_error(
                send,
                429,
                f"too many requests from your address: at most {self.limiter.limit} in {self.limiter.window} s; "
                f"try again in {verdict.retry_after} s",
                {"Retry-After": str(verdict.retry_after)},
            )
            return
        await self.app(scope, receive, send)
