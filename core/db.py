"""The async database engine: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.settings import Settings, get_settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin), not the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Write transactions take SQLite's write lock at BEGIN, so two writers queue instead of failing."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


WRITE_OPTION = "siks_write"


def create_engine(settings: Settings | None = None) -> AsyncEngine:
    """An engine for the configured database; SQLite gets WAL and enforced foreign keys."""
    settings = settings or get_settings()
    kwargs: dict[str, Any] = {"echo": settings.sql_echo}
    if not settings.is_sqlite:
        kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_pre_ping=True)
        if settings.database_schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": settings.database_schema}}
    engine = create_async_engine(settings.database_url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write: committed when the block ends, rolled back on any error.

    On SQLite it begins with ``BEGIN IMMEDIATE`` so concurrent writers wait their turn.
    """
    async with engine.connect() as conn:
        await conn.execution_options(**{WRITE_OPTION: True})
        async with conn.begin():
            yield conn


#: The tables a bulk load of households fills.
HOUSEHOLD_TABLES = ("households", "members", "welfare_surveys")


async def refresh_statistics(engine: AsyncEngine, tables: tuple[str, ...] = HOUSEHOLD_TABLES) -> None:
    """After a bulk load on PostgreSQL, ANALYZE the loaded tables: autovacuum may come minutes later, and
    a plan made from the sizes before the load (a nested loop over "three rows") can take minutes."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.exec_driver_sql(f"ANALYZE {table}")
