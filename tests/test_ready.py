"""``/ready`` against the real application: 200 when the database answers with the current schema and the
configured Redis answers; HTTP 503 naming the failing part when the database cannot be reached, its
schema is not current, or the configured Redis does not answer. ``/health`` stays 200 throughout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.http.app import create_app
from core.storage.db import create_engine
from core.storage.migrate import SchemaState, alembic_config, schema_state
from tests.outage_support import PostgresOutage, SQLiteOutage
from tests.serving import free_port, serve

REDIS_URL = "redis://127.0.0.1:6379/15"
BASE = "http://siks.test"
QUICK = {"db_connect_timeout_seconds": 1.0, "db_pool_timeout_seconds": 1.0, "db_lock_timeout_seconds": 0.5}


def assert_not_ready(response: httpx.Response, failing: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    body: dict[str, Any] = response.json()
    assert body["status"] == "unavailable" and body["failing"] == failing, body
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    return body


async def test_ready_when_database_schema_and_redis_answer(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings.model_copy(update={"redis_url": REDIS_URL})) as http:
        ready = await http.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_not_ready_while_the_database_is_down(db: AsyncEngine, settings: Settings, tmp_path: Path) -> None:
    """The application started; then its database went away (PostgreSQL: nothing listens on the port)."""
    base = settings.model_copy(update=QUICK)
    outage = PostgresOutage(base) if db.dialect.name == "postgresql" else SQLiteOutage(base, tmp_path)
    app = create_app(await outage.start())
    try:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            assert (await http.get("/ready")).status_code == 200
            await outage.down(app)
            assert_not_ready(await http.get("/ready"), "database")
            assert (await http.get("/health")).status_code == 200
            await outage.restore(app)
            assert (await http.get("/ready")).status_code == 200
    finally:
        await outage.close()


async def test_not_ready_with_a_database_url_at_a_closed_port(settings: Settings) -> None:
    """A PostgreSQL URL whose port has nothing listening (the application cannot start there; its routes answer)."""
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/siks"
    nowhere = settings.model_copy(update={**QUICK, "database_url": closed, "database_schema": None})
    app = create_app(nowhere)
    app.state.engine = create_engine(nowhere)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            body = assert_not_ready(await http.get("/ready"), "database")
            assert str(make_url(closed).port) not in str(body)  # no address or driver text leaks
            assert (await http.get("/health")).status_code == 200
    finally:
        await app.state.engine.dispose()


@asynccontextmanager
async def outdated(engine: AsyncEngine) -> AsyncIterator[None]:
    """The database's recorded core revision set back one migration (restored afterwards)."""
    script = ScriptDirectory.from_config(alembic_config())
    async with engine.begin() as conn:
        recorded = [row[0] for row in await conn.execute(text("SELECT version_num FROM alembic_version"))]
    head = next(rev for rev in recorded if script.get_revision(rev).down_revision is not None)  # type: ignore[union-attr]
    down = script.get_revision(head).down_revision  # type: ignore[union-attr]
    earlier = down[0] if isinstance(down, tuple) else down
    change = text("UPDATE alembic_version SET version_num = :new WHERE version_num = :old")
    async with engine.begin() as conn:
        await conn.execute(change, {"new": earlier, "old": head})
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(change, {"new": head, "old": earlier})


async def test_not_ready_when_the_schema_is_not_current(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings) as http:
        assert (await http.get("/ready")).status_code == 200
        async with outdated(db):
            assert await schema_state(db) is SchemaState.OUTDATED
            body = assert_not_ready(await http.get("/ready"), "schema")
            assert body["schema"] == "outdated"
            assert "siks db upgrade" in body["errors"][0]["message"]
        assert (await http.get("/ready")).status_code == 200
    assert await schema_state(db) is SchemaState.CURRENT


async def test_not_ready_when_the_configured_redis_does_not_answer(db: AsyncEngine, settings: Settings) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    async with serve(settings.model_copy(update={**QUICK, "redis_url": unreachable})) as http:
        body = assert_not_ready(await http.get("/ready"), "redis")
        assert "SIKS_REDIS_URL" in body["errors"][0]["message"]
        assert (await http.get("/health")).status_code == 200
