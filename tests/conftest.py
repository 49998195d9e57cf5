"""Shared fixtures: one migrated database per session (SQLite file, or PostgreSQL by URL).

Set ``SIKS_TEST_DATABASE_URL`` (for example ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``)
to run the suite on PostgreSQL, in a schema of its own that is dropped afterwards; the default
is a temporary SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.access.enforcer import seed_policies_if_empty
from core.auth import tokens
from core.foundation.settings import Settings, get_settings
from core.http.app import create_app
from core.regions.loader import load_regions, lokal_regions
from core.storage import migrate
from core.storage.db import create_engine
from tests.rank_support import model_dir, population  # noqa: F401  (welfare-ranking fixtures)
from tests.serving import PRODUCTION_AUDIT_KEY

KEPT_TABLES = {"regions", "alembic_version", "casbin_rule", "policy_version", "audit_head", "audit_log"}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("SIKS_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'siks.db'}"


@pytest.fixture(scope="session")
def database_schema(database_url: str) -> Iterator[str | None]:
    """On PostgreSQL, a schema of this session's own, so parallel runs never meet; dropped at the end."""
    if not database_url.startswith("postgresql"):
        yield None
        return
    schema = f"siks_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(Settings(database_url=database_url))

    async def run(statement: str) -> None:
        async with admin.begin() as conn:
            await conn.execute(text(statement))
        await admin.dispose()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    yield schema
    asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="session")
def settings(
    database_url: str, database_schema: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings pointing at the test database, and a photo folder and audit checkpoint file of this session's
    own, also for code (and subprocesses) reading the environment."""
    photo_dir = str(tmp_path_factory.mktemp("photos"))
    checkpoints = str(tmp_path_factory.mktemp("audit") / "checkpoints.jsonl")
    wanted = {
        "SIKS_DATABASE_URL": database_url,
        "SIKS_DATABASE_SCHEMA": database_schema,
        "SIKS_PHOTO_DIR": photo_dir,
        "SIKS_AUDIT_CHECKPOINT_FILE": checkpoints,
        # Tests in production mode (tests/serving.py) key their audit rows and checkpoints with the
        # production test key: a `siks audit verify` of the session's shared log must know it.
        "SIKS_AUDIT_RETIRED_KEYS": PRODUCTION_AUDIT_KEY,
        # No DCI delivery worker polling the test database from every served app (a background writer
        # beside the per-test reset); tests/test_dci_outbox_delivery.py turns it on where it is tested.
        "SIKS_DCI_DELIVERY_IN_SERVER": "false",
    }
    previous = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
    yield Settings(
        database_url=database_url,
        database_schema=database_schema,
        photo_dir=Path(photo_dir),
        audit_checkpoint_file=Path(checkpoints),
        audit_retired_keys=PRODUCTION_AUDIT_KEY,
        dci_delivery_in_server=False,
        grievance_escalation_seconds=0,
    )
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The migrated test database with the full Kemendagri region list loaded."""
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await seed_policies_if_empty(engine)
    await load_regions(engine, lokal_regions())
    yield engine
    await engine.dispose()


#: Tables whose rows triggers keep their parents for (migrations 0007 and 0008): emptied first.
GUARDED_CHILDREN = ("enrollment_components", "disbursements")
#: Tables triggers write when other tables' rows go (migration 0019's counters): emptied last.
DERIVED_TABLES = ("region_household_counts",)

#: The deletion order of the last table set seen: reflecting the schema is the slow part of a reset,
#: and the set changes only when a test adds tables (a plugin's migrations), so it is redone only then.
_deletion_order: dict[frozenset[str], list[str]] = {}


def _table_names(sync_conn: Any) -> frozenset[str]:
    return frozenset(inspect(sync_conn).get_table_names())


def _ordered(sync_conn: Any) -> list[str]:
    """Every table but the shared reference data, children before parents (core's and plugins' tables)."""
    metadata = MetaData()
    with warnings.catch_warnings():  # SQLite cannot reflect expression indexes (migration 0019); tables suffice
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        metadata.reflect(sync_conn)
    names = [t.name for t in reversed(metadata.sorted_tables) if t.name not in KEPT_TABLES]
    # Kept by delete guards (triggers), not foreign keys, so reflection cannot order them.
    return sorted(names, key=lambda name: (name in DERIVED_TABLES, name not in GUARDED_CHILDREN))


async def deletion_order(conn: AsyncConnection) -> list[str]:
    names = await conn.run_sync(_table_names)
    if names not in _deletion_order:
        _deletion_order.clear()
        _deletion_order[names] = await conn.run_sync(_ordered)
    return _deletion_order[names]


async def tables_with_rows(conn: AsyncConnection, tables: list[str]) -> set[str]:
    """The tables of ``tables`` holding a row, asked in one statement."""
    if not tables:
        return set()
    probes = " UNION ALL ".join(f"SELECT '{t}' AS name WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)
    return set((await conn.execute(text(probes))).scalars())


async def clear_data(engine: AsyncEngine) -> None:
    """Delete every row but the shared reference data, children before parents; tables a test left
    empty are skipped (one statement finds the others), which is what keeps a reset cheap."""
    async with engine.begin() as conn:
        order = await deletion_order(conn)
        written = await tables_with_rows(conn, order)
        for table in order:
            if table in written:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The test database with the regions loaded and nothing left by an earlier test."""
    await clear_data(engine)
    return engine


@pytest.fixture
async def client(db: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real application (lifespan run, in process)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http:
            yield http


class GraphQLClient:
    """Posts GraphQL documents and returns ``data``; fails the test on unexpected errors."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
        self.http = http
        self.headers = headers or {}

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.headers
        )
        return response.json()

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.raw(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]


def token_headers(settings: Settings, role: str, scope: str = "", username: str | None = None) -> dict[str, str]:
    """An ``Authorization`` header with an access token for a caller of ``role`` working in ``scope``."""
    token, _claims = tokens.issue(
        settings, user_id=1, username=username or f"test-{role}", role=role, scope=scope, kind="access"
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_headers(settings: Settings) -> dict[str, str]:
    """Headers of the national data centre, who may do everything the API offers."""
    return token_headers(settings, "data_centre")


@pytest.fixture
def gql(client: httpx.AsyncClient, auth_headers: dict[str, str]) -> GraphQLClient:
    """A client of the national data centre."""
    return GraphQLClient(client, auth_headers)


@pytest.fixture
def as_role(client: httpx.AsyncClient, settings: Settings) -> Any:
    """``as_role(role, scope)``: a client for a caller of that role and scope."""
    return lambda role, scope="": GraphQLClient(client, token_headers(settings, role, scope))


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables naming a database with nothing in it (a new SQLite file or PostgreSQL schema)."""
    if not database_url.startswith("postgresql"):
        yield {"SIKS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
        return
    schema = f"siks_empty_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(Settings(database_url=database_url))

    async def run(statement: str) -> None:
        async with admin.begin() as conn:
            await conn.execute(text(statement))
        await admin.dispose()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    yield {"SIKS_DATABASE_URL": database_url, "SIKS_DATABASE_SCHEMA": schema}
    asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))
