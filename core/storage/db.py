"""The async database engine: SQLite by default, PostgreSQL by URL.

Every engine waits at most ``SIKS_DB_CONNECT_TIMEOUT_SECONDS`` for a new connection and
``SIKS_DB_POOL_TIMEOUT_SECONDS`` for a pooled one; any failure to connect is raised as
``DatabaseUnreachable`` (the driver's own errors, ``OSError`` and ``TimeoutError`` among them, say
nothing about where they came from), which the HTTP app answers with 503 (``core.runtime.outage``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.audit.keys import KEYRING_OPTION, AuditKeyring
from core.foundation.settings import Settings, get_settings


class DatabaseUnreachable(Exception):
    """No connection to the database could be made (refused, timed out, unopenable file, refused login)."""


def _connect_or_fail(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    """SQLAlchemy's ``do_connect`` hook: connect as the dialect would, naming any failure DatabaseUnreachable."""
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as exc:
        raise DatabaseUnreachable(f"cannot connect to the database: {type(exc).__name__}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin), not the sqlite3 module. The busy timeout is
    # sqlite3's connect argument (SIKS_DB_LOCK_TIMEOUT_SECONDS), so it holds for these statements too.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Write transactions take SQLite's write lock at BEGIN, so two writers queue instead of failing."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


WRITE_OPTION = "siks_write"


def create_engine(settings: Settings | None = None) -> AsyncEngine:
    """An engine for the configured database, carrying the settings' audit keyring; SQLite gets WAL and
    enforced foreign keys."""
    settings = settings or get_settings()
    kwargs: dict[str, Any] = {
        "echo": settings.sql_echo,
        "pool_timeout": settings.db_pool_timeout_seconds,
        "execution_options": {KEYRING_OPTION: AuditKeyring.of(settings)},
    }
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": settings.db_lock_timeout_seconds}
    else:
        kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_pre_ping=True)
        connect_args: dict[str, Any] = {"timeout": settings.db_connect_timeout_seconds}
        if settings.database_schema:
            connect_args["server_settings"] = {"search_path": settings.database_schema}
        kwargs["connect_args"] = connect_args
    engine = create_async_engine(settings.database_url, **kwargs)
    event.listen(engine.sync_engine, "do_connect", _connect_or_fail)
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
