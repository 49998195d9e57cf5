"""SIKS behind PgBouncer in transaction mode (core/storage/db.py, core/storage/locks.py).

Run by ``.ci/pgbouncer``, which starts a PgBouncer with ``pool_mode = transaction`` and names it in
``SIKS_TEST_PGBOUNCER_URL`` (and the server itself in ``SIKS_DATABASE_DIRECT_URL``); skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Pooler, Settings
from core.storage.db import create_engine, through_pooler
from core.storage.locks import held_for_job, queue_behind

POOLER_URL = os.environ.get("SIKS_TEST_PGBOUNCER_URL", "")
DIRECT_URL = os.environ.get("SIKS_DATABASE_DIRECT_URL", "")

pytestmark = pytest.mark.skipif(
    not POOLER_URL, reason="SIKS_TEST_PGBOUNCER_URL names no PgBouncer in transaction mode (.ci/pgbouncer starts one)"
)


def pooled_settings(schema: str | None = None, direct_url: str | None = None, pool_size: int = 20) -> Settings:
    return Settings(
        database_url=POOLER_URL,
        database_pooler=Pooler.TRANSACTION,
        database_schema=schema,
        database_direct_url=direct_url,
        db_pool_size=pool_size,
    )


@pytest.fixture
async def scratch_schema() -> AsyncIterator[str]:
    """A schema of this test's own holding one table ``probe`` with one row naming the schema."""
    schema = f"siks_pooler_{secrets.token_hex(4)}"
    admin = create_engine(pooled_settings(pool_size=1))
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.execute(text(f"CREATE TABLE {schema}.probe (name text)"))
        await conn.execute(text(f"INSERT INTO {schema}.probe VALUES ('{schema}')"))
    yield schema
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    await admin.dispose()


async def _round(engine: AsyncEngine, n: int) -> int:
    """One short transaction of a few different parameterised statements, as a request makes them."""
    async with engine.connect() as conn:
        total = 0
        for step in range(4):
            total += int(await conn.scalar(text(f"SELECT CAST(:n AS int) + {step}"), {"n": n}))
        await conn.rollback()
        return total


async def test_many_concurrent_transactions_through_the_pooler_meet_no_prepared_statement_clash() -> None:
    engine = create_engine(pooled_settings())
    assert through_pooler(engine)
    try:
        for _ in range(3):
            totals = await asyncio.gather(*(_round(engine, n) for n in range(300)))
            assert totals == [4 * n + 6 for n in range(300)]
    finally:
        await engine.dispose()


async def test_the_driver_defaults_do_clash_behind_the_pooler_which_is_why_they_are_changed() -> None:
    """The control: asyncpg's own statement names (``__asyncpg_stmt_1__`` on every connection) and caches meet
    on PgBouncer's shared server connections; this is the error the pooler settings prevent."""
    engine = create_engine(pooled_settings(), through_pooler=False)
    errors: list[str] = []
    try:
        for _ in range(10):
            outcomes = await asyncio.gather(*(_round(engine, n) for n in range(100)), return_exceptions=True)
            errors += [str(o) for o in outcomes if isinstance(o, DBAPIError)]
            if errors:
                break
    finally:
        await engine.dispose()
    assert any("prepared statement" in error for error in errors), errors[:3]


async def test_the_schema_is_set_in_every_transaction(scratch_schema: str) -> None:
    engine = create_engine(pooled_settings(schema=scratch_schema))

    async def read() -> str:
        async with engine.connect() as conn:
            return str(await conn.scalar(text("SELECT name FROM probe")))

    try:
        assert set(await asyncio.gather(*(read() for _ in range(200)))) == {scratch_schema}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("direct", ["direct URL", "pooler only"])
async def test_a_job_lock_has_one_holder_across_processes_behind_the_pooler(direct: str) -> None:
    if direct == "direct URL" and not DIRECT_URL:
        pytest.skip("SIKS_DATABASE_DIRECT_URL is not set")
    url = DIRECT_URL if direct == "direct URL" else None
    first_process = create_engine(pooled_settings(direct_url=url))
    second_process = create_engine(pooled_settings(direct_url=url))
    name = f"pooler-job-{secrets.token_hex(3)}"
    try:
        async with held_for_job(first_process, name) as taken:
            assert taken
            # Busy traffic on the same pooler meanwhile must not carry the lock off or release it.
            await asyncio.gather(*(_round(second_process, n) for n in range(100)))
            async with held_for_job(second_process, name) as second:
                assert not second, "a second holder while the first holds it"
        async with held_for_job(second_process, name) as again:
            assert again, "free again once the first holder ended"
    finally:
        await first_process.dispose()
        await second_process.dispose()


async def test_transactions_queue_behind_the_same_key_through_the_pooler() -> None:
    engine = create_engine(pooled_settings())
    key = secrets.randbits(62)
    order: list[str] = []
    first_holds = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await queue_behind(conn, key)
            first_holds.set()
            await asyncio.sleep(0.5)
            order.append("first done")

    async def second() -> None:
        await first_holds.wait()
        async with engine.begin() as conn:
            await queue_behind(conn, key)
            order.append("second got the lock")

    try:
        await asyncio.gather(first(), second())
    finally:
        await engine.dispose()
    assert order == ["first done", "second got the lock"]


async def test_the_api_answers_many_concurrent_requests_through_the_pooler(
    client: httpx.AsyncClient, auth_headers: dict[str, str], db: AsyncEngine
) -> None:
    assert through_pooler(db), "the suite's engine goes through the pooler (SIKS_DATABASE_POOLER=transaction)"
    query = '{ regions(level: PROVINCE) { code } region(code: "32.01") { name } households(first: 5) { totalCount } }'

    async def ask() -> httpx.Response:
        return await client.post("/graphql", json={"query": query}, headers=auth_headers)

    answers = await asyncio.gather(*(ask() for _ in range(120)))
    assert {answer.status_code for answer in answers} == {200}
    bodies = [answer.json() for answer in answers]
    assert all("errors" not in body for body in bodies), next(body for body in bodies if "errors" in body)
    assert {len(body["data"]["regions"]) for body in bodies} == {38}
    ready = await asyncio.gather(*(client.get("/ready") for _ in range(20)))  # the schema check through the pooler
    assert {answer.status_code for answer in ready} == {200}
