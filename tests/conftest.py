"""Shared fixtures: one migrated database per session (SQLite file, or PostgreSQL by URL).

Set ``SIKS_TEST_DATABASE_URL`` (for example ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``)
to run the suite on PostgreSQL; the default is a temporary SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core import migrate
from core.db import create_engine
from core.regions.loader import load_regions, lokal_regions
from core.settings import Settings, get_settings

HOUSEHOLD_TABLES = ("welfare_surveys", "members", "households")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("SIKS_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'siks.db'}"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Iterator[Settings]:
    """Settings pointing at the test database, also for code that calls get_settings()."""
    previous = os.environ.get("SIKS_DATABASE_URL")
    os.environ["SIKS_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    yield Settings(database_url=database_url)
    if previous is None:
        os.environ.pop("SIKS_DATABASE_URL", None)
    else:
        os.environ["SIKS_DATABASE_URL"] = previous
    get_settings.cache_clear()


async def reset_database(engine: AsyncEngine) -> None:
    """Drop everything so the session starts from an empty database."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The migrated test database with the full Kemendagri region list loaded."""
    engine = create_engine(settings)
    await reset_database(engine)
    await migrate.upgrade(engine)
    await load_regions(engine, lokal_regions())
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The test database with no households left by an earlier test."""
    async with engine.begin() as conn:
        for table in HOUSEHOLD_TABLES:
            await conn.execute(text(f"DELETE FROM {table}"))
    return engine
