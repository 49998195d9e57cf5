"""The counter stores behind every limit: fixed windows and failure backoff, in memory and in Redis alike."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from core.runtime.ratelimit import (
    Backoff,
    CounterStore,
    LimiterUnavailable,
    MemoryStore,
    RateLimiter,
    RedisStore,
    address_key,
)

REDIS_URL = "redis://127.0.0.1:6379/15"
BACKOFF = Backoff(free=3, first=60, longest=300, memory=3600)


@dataclass
class Kind:
    """A store, a unique key prefix, and how to let its locks run out (the clock for memory, DEL for Redis)."""

    store: CounterStore
    prefix: str
    let_locks_expire: Callable[[], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
async def kind(request: pytest.FixtureRequest) -> AsyncIterator[Kind]:
    prefix = f"t{secrets.token_hex(4)}"
    if request.param == "memory":
        now = [1000.0]
        store = MemoryStore(clock=lambda: now[0])

        async def advance() -> None:
            now[0] += 301

        yield Kind(store, prefix, advance)
        await store.aclose()
        return
    client = redis.from_url(REDIS_URL)

    async def drop_locks() -> None:
        for key in await client.keys(f"siks:{prefix}:*:lock"):
            await client.delete(key)

    store = RedisStore.from_url(REDIS_URL)
    yield Kind(store, prefix, drop_locks)
    await store.aclose()
    for key in await client.keys(f"siks:{prefix}:*"):
        await client.delete(key)
    await client.aclose()


async def test_backoff_lets_free_attempts_through_then_locks_doubling_up_to_the_longest(kind: Kind) -> None:
    gate = [(f"{kind.prefix}:account", BACKOFF)]
    assert [(await kind.store.admit(gate)).allowed for _ in range(3)] == [True, True, True]
    refused = await kind.store.admit(gate)  # the third charge locked the key for 60 s
    assert not refused.allowed and 55 <= refused.retry_after <= 60
    waits = []
    for _ in range(4):
        await kind.let_locks_expire()
        assert (await kind.store.admit(gate)).allowed
        waits.append((await kind.store.admit(gate)).retry_after)
    expected = [120, 240, 300, 300]  # doubling, then the longest (a second may pass in Redis)
    assert all(want - 2 <= got <= want for got, want in zip(waits, expected, strict=True)), waits


async def test_a_locked_gate_refuses_and_charges_no_other_gate(kind: Kind) -> None:
    account, address = f"{kind.prefix}:account", f"{kind.prefix}:address"
    for _ in range(3):
        assert (await kind.store.admit([(account, BACKOFF)])).allowed
    refused = await kind.store.admit([(account, BACKOFF), (address, BACKOFF)])
    assert not refused.allowed
    for _ in range(2):  # the address was not charged by the refused attempt: it still has its free attempts
        assert (await kind.store.admit([(address, BACKOFF)])).allowed


async def test_concurrent_attempts_cannot_slip_past_the_lock(kind: Kind) -> None:
    gate = [(f"{kind.prefix}:account", BACKOFF)]
    verdicts = await asyncio.gather(*(kind.store.admit(gate) for _ in range(40)))
    assert sum(v.allowed for v in verdicts) == BACKOFF.free


async def test_a_refund_takes_back_one_charge_and_lifts_the_lock_below_free(kind: Kind) -> None:
    key = f"{kind.prefix}:address"
    for _ in range(3):
        assert (await kind.store.admit([(key, BACKOFF)])).allowed
    await kind.store.refund(key, BACKOFF)  # the third attempt was right: two charges left, no lock
    assert (await kind.store.admit([(key, BACKOFF)])).allowed
    assert not (await kind.store.admit([(key, BACKOFF)])).allowed
    await kind.store.clear(key)
    assert [(await kind.store.admit([(key, BACKOFF)])).allowed for _ in range(3)] == [True, True, True]


async def test_fixed_window_counts_hits_and_their_cost(kind: Kind) -> None:
    limiter = RateLimiter(kind.store, kind.prefix, limit=5, window=60)
    assert (await limiter.hit("a", cost=4)).allowed
    assert (await limiter.hit("a")).allowed
    refused = await limiter.hit("a")
    assert not refused.allowed and 55 <= refused.retry_after <= 60
    assert (await limiter.hit("b", cost=5)).allowed  # keys are counted apart


async def test_an_unreachable_redis_is_reported_not_ignored() -> None:
    # No retries: redis-py's default backs off and retries a refused connection for seconds a call.
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    store = RedisStore(client)
    with pytest.raises(LimiterUnavailable):
        await store.add("k", 60)
    with pytest.raises(LimiterUnavailable):
        await store.admit([("k", BACKOFF)])
    await store.aclose()


def test_addresses_are_counted_by_ipv4_and_by_ipv6_64_network() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert address_key("x" * 300) == "x" * 64
