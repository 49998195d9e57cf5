"""Queries from a streaming read replica, writes and read-your-writes on the primary (core/storage/replica.py).

The tests against a real replica run when ``SIKS_TEST_REPLICA_URL`` names a hot standby of the PostgreSQL
primary in ``SIKS_TEST_DATABASE_URL`` (``.ci/replica`` makes one with pg_createcluster and pg_basebackup).
They pause the replica's WAL replay, so a row the primary has and the replica has not yet shows which server
answered.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.http.app import create_app
from core.storage.db import create_engine
from core.storage.replica import RecentWriters, operation_kind
from tests import factories
from tests.conftest import GraphQLClient, token_headers

REPLICA_URL = os.environ.get("SIKS_TEST_REPLICA_URL", "")
needs_replica = pytest.mark.skipif(
    not REPLICA_URL, reason="SIKS_TEST_REPLICA_URL names no streaming replica (.ci/replica makes one)"
)
REDIS_URL = "redis://127.0.0.1:6379/15"
COUNT = "{ households { totalCount } }"
REGISTER = "mutation($input: HouseholdInput!) { registerHousehold(input: $input) { __typename } }"
WRONG_LOGIN = 'mutation { login(username: "nobody", password: "not-the-password") { __typename } }'

Clients = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def served(db: AsyncEngine, settings: Settings) -> AsyncIterator[tuple[Settings, Clients, object]]:
    """The application with the replica of ``SIKS_TEST_REPLICA_URL`` (or an unreachable one), and clients at
    addresses of their own."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("a read replica is a PostgreSQL set-up")
    replica = REPLICA_URL or "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"  # port 9: nothing listens
    with_replica = settings.model_copy(
        update={
            "database_replica_url": replica,
            "database_replica_max_lag_seconds": 3600.0,  # replay is paused on purpose below
            "database_replica_sticky_seconds": 60.0,
            "db_connect_timeout_seconds": 1.0,
        }
    )
    app = create_app(with_replica)
    opened: list[httpx.AsyncClient] = []

    def at(address: str) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 4000)), base_url="http://t")
        opened.append(http)
        return http

    async with app.router.lifespan_context(app):
        yield with_replica, at, app
        for http in opened:
            await http.aclose()


@pytest.fixture
async def standby() -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(database_url=REPLICA_URL))
    yield engine
    async with engine.connect() as conn:  # never leave replay paused for the next test
        await conn.execute(text("SELECT pg_wal_replay_resume()"))
        await conn.commit()
    await engine.dispose()


async def caught_up(primary: AsyncEngine, standby: AsyncEngine) -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    async with primary.connect() as conn:
        lsn = await conn.scalar(text("SELECT pg_current_wal_lsn()"))  # asyncpg reads a pg_lsn as an int
    for _ in range(200):
        async with standby.connect() as conn:
            if await conn.scalar(text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the replica did not catch up within 10 s")


async def replay(standby: AsyncEngine, paused: bool) -> None:
    async with standby.connect() as conn:
        await conn.execute(text(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()"))
        await conn.commit()


def test_the_operation_kind_decides_the_route() -> None:
    assert operation_kind("{ households { totalCount } }", None) == "query"
    assert operation_kind("query A { me { username } } mutation B { logout }", "B") == "mutation"
    assert operation_kind("query A { me { username } } mutation B { logout }", None) is None  # ambiguous: primary
    assert operation_kind("{ households { ", None) is None
    assert operation_kind(None, None) is None


async def test_a_writer_is_known_to_every_worker_through_redis_until_the_window_ends() -> None:
    first_worker, second_worker = RecentWriters(0.5, REDIS_URL), RecentWriters(0.5, REDIS_URL)
    caller = f"token:writer-{secrets.token_hex(4)}"
    try:
        assert not await second_worker.any_wrote([caller])
        await first_worker.wrote([caller])
        assert await second_worker.any_wrote(["address:10.9.9.9", caller])
        await asyncio.sleep(0.7)
        assert not await second_worker.any_wrote([caller])
    finally:
        await first_worker.aclose()
        await second_worker.aclose()


async def test_without_redis_a_worker_remembers_its_own_writers_for_the_window() -> None:
    writers = RecentWriters(0.3, None)
    await writers.wrote(["address:10.9.9.8"])
    assert await writers.any_wrote(["address:10.9.9.8"]) and not await writers.any_wrote(["address:10.9.9.7"])
    await asyncio.sleep(0.4)
    assert not await writers.any_wrote(["address:10.9.9.8"])


@needs_replica
async def test_queries_read_the_replica_writes_and_the_writers_reads_reach_the_primary(
    served: tuple[Settings, Clients, object], db: AsyncEngine, standby: AsyncEngine
) -> None:
    settings, at, _app = served
    reader_http, writer_http = at("10.1.0.1"), at("10.1.0.2")
    reader = GraphQLClient(reader_http, token_headers(settings, "data_centre", username="reader"))
    writer = GraphQLClient(writer_http, token_headers(settings, "data_centre", username="writer"))
    await caught_up(db, standby)
    assert (await reader(COUNT))["households"]["totalCount"] == 0
    await replay(standby, paused=True)
    registered = await writer(REGISTER, {"input": factories.household_input(factories.household())})
    assert registered["registerHousehold"]["__typename"] == "Household"
    async with db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM households")) == 1  # written to the primary
    assert (await writer(COUNT))["households"]["totalCount"] == 1, "the writer reads its own write (primary)"
    assert (await reader(COUNT))["households"]["totalCount"] == 0, "the reader's query was answered by the replica"
    # Right after a login attempt (a mutation) from the reader's address, its queries read the primary too.
    await reader_http.post("/graphql", json={"query": WRONG_LOGIN})
    assert (await reader(COUNT))["households"]["totalCount"] == 1
    await replay(standby, paused=False)
    await caught_up(db, standby)
    other = GraphQLClient(at("10.1.0.3"), token_headers(settings, "data_centre", username="other"))
    assert (await other(COUNT))["households"]["totalCount"] == 1, "the replica caught up"


@needs_replica
async def test_ready_reports_the_replica_and_its_lag(served: tuple[Settings, Clients, object]) -> None:
    _settings, at, app = served
    answer = await at("10.1.0.4").get("/ready")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ready" and body["replica"] == "streaming"
    assert isinstance(body["replica_lag_seconds"], float) and body["replica_lag_seconds"] >= 0
    router = app.state.replicas  # type: ignore[attr-defined]
    for query, in_recovery in ((True, True), (False, False)):
        engine = await router.engine_for(query, ["address:10.1.0.9"])
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_is_in_recovery()")) is in_recovery


async def test_an_unreachable_replica_leaves_queries_on_the_primary(
    served: tuple[Settings, Clients, object], settings: Settings
) -> None:
    served_settings, at, app = served
    if REPLICA_URL:
        app.state.replicas.replica = create_engine(  # type: ignore[attr-defined]
            served_settings, url="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"
        )
    http = at("10.1.0.5")
    answer = await http.get("/ready")
    assert answer.status_code == 200 and answer.json()["replica"] == "unreachable"
    reader = GraphQLClient(http, token_headers(settings, "data_centre", username="reader"))
    assert (await reader(COUNT))["households"]["totalCount"] == 0
