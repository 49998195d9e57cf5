"""Finding 12: when the database is down or hangs, every endpoint answers at once with a JSON 503 and
``Retry-After``, without the driver's text, in both modes; ``/health`` stays the process check and ``/ready``
says the database is gone. Real outages: on PostgreSQL through a proxy that stops listening or stops
answering, on SQLite a database file that cannot be opened or is locked (``tests/outage_support.py``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from core.foundation.settings import Settings
from core.http.app import create_app
from core.runtime.outage import CODE, RETRY_AFTER_SECONDS, is_outage
from core.storage.db import DatabaseUnreachable, create_engine
from tests.conftest import token_headers
from tests.outage_support import PostgresOutage, SQLiteOutage
from tests.serving import production

#: The answer must come within this many seconds (the connect and lock timeouts below are 1 s and 0.5 s).
PROMPT_SECONDS = 3.0
#: Words of drivers, addresses and exceptions that must not reach a caller.
LEAKS = (
    "asyncpg",
    "sqlite",
    "sqlalchemy",
    "connect call",
    "refused",
    "locked",
    "timeout",
    "127.0.0.1",
    "errno",
    "operationalerror",
    "interfaceerror",
    "traceback",
    "outage.db",
    "5432",
)
QUERY = "{ regions(level: PROVINCE) { code } }"


@pytest.fixture(params=["development", "production"])
async def outage_app(
    request: pytest.FixtureRequest, db: AsyncEngine, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient, Any]]:
    """The application on a database the test can take down or make hang; in both modes."""
    quick = {"db_connect_timeout_seconds": 1.0, "db_pool_timeout_seconds": 1.0, "db_lock_timeout_seconds": 0.5}
    base = settings.model_copy(update=quick)
    if request.param == "production":
        base = production(base)
    outage = PostgresOutage(base) if db.dialect.name == "postgresql" else SQLiteOutage(base, tmp_path)
    app = create_app(await outage.start())
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http:
                yield app, http, outage
    finally:
        await outage.close()


def calls(settings: Settings) -> dict[str, tuple[str, str, dict[str, str], dict[str, Any] | None]]:
    """One request per place a database error can surface: resolvers, authentication, the audit of a refused
    login, a mutation, the public endpoint, the photo route, the readiness check and the metrics."""
    officer = token_headers(settings, "data_centre")
    return {
        "query (resolvers)": ("POST", "/graphql", officer, {"query": QUERY}),
        "API key (authentication)": ("POST", "/graphql", {"x-api-key": "siks_nokey"}, {"query": "{ me { role } }"}),
        "bad token (audited refusal)": ("POST", "/graphql", {"authorization": "Bearer x.y.z"}, {"query": QUERY}),
        "mutation": (
            "POST",
            "/graphql",
            officer,
            {"query": 'mutation { updateHousehold(id: "1", version: 1, changes: {address: "x"}) { __typename } }'},
        ),
        "public recap": (
            "POST",
            "/public/graphql",
            {"accept-language": "en"},
            {"query": '{ recap(regionCode: "32") { households } }'},
        ),
        "photo": ("GET", "/photos/1", officer, None),
        "readiness": ("GET", "/ready", {}, None),
        "metrics": ("GET", "/metrics", {}, None),
    }


async def send(http: httpx.AsyncClient, call: tuple[str, str, dict[str, str], dict[str, Any] | None]) -> Any:
    method, path, headers, body = call
    started = time.monotonic()
    response = await http.request(method, path, headers=headers, json=body)
    return response, time.monotonic() - started


async def assert_every_endpoint_answers_503(http: httpx.AsyncClient, settings: Settings) -> None:
    for name, call in calls(settings).items():
        response, seconds = await send(http, call)
        assert response.status_code == 503, (name, response.status_code, response.text)
        assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS), name
        assert response.headers["content-type"] == "application/json", name
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == CODE, (name, error)
        assert error["message"].startswith("the registry's database is unavailable right now; try again in 5 s")
        leaked = [word for word in LEAKS if word in response.text.lower()]
        assert not leaked, (name, leaked, response.text)
        assert seconds < PROMPT_SECONDS, (name, seconds)
    health = await http.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


async def assert_serving(http: httpx.AsyncClient, settings: Settings) -> None:
    ready = await http.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    response = await http.post("/graphql", json={"query": QUERY}, headers=token_headers(settings, "data_centre"))
    assert response.status_code == 200 and len(response.json()["data"]["regions"]) == 38


async def test_finding_12_a_database_that_is_down_answers_503_at_once_everywhere(outage_app: Any) -> None:
    app, http, outage = outage_app
    await assert_serving(http, app.state.settings)
    await outage.down(app)
    await assert_every_endpoint_answers_503(http, app.state.settings)
    await outage.restore(app)
    await assert_serving(http, app.state.settings)  # the pool recovers without a restart


async def test_finding_12_a_hanging_database_answers_503_within_the_timeouts(outage_app: Any) -> None:
    app, http, outage = outage_app
    await assert_serving(http, app.state.settings)
    await outage.hang(app)
    await assert_every_endpoint_answers_503(http, app.state.settings)
    await outage.restore(app)
    await assert_serving(http, app.state.settings)


async def test_what_counts_as_an_outage(settings: Settings, tmp_path: Path) -> None:
    """Errors that say the database cannot serve are outages; a bad statement is a bug and stays internal."""
    unopenable = create_engine(settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}"}))
    working = create_engine(settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}))
    try:
        with pytest.raises(DatabaseUnreachable) as cannot_open:
            async with unopenable.connect():
                pass
        assert is_outage(cannot_open.value)
        with pytest.raises(OperationalError) as no_table:
            async with working.connect() as conn:
                await conn.exec_driver_sql("SELECT * FROM no_such_table")
        assert not is_outage(no_table.value)
        assert not is_outage(ValueError("a bug")) and not is_outage(None)
        wrapped = RuntimeError("while reading")
        wrapped.__cause__ = cannot_open.value
        assert is_outage(wrapped) and is_outage(ExceptionGroup("several", [ValueError(), wrapped]))
    finally:
        await unopenable.dispose()
        await working.dispose()
