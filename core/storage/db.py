"""The async database engine: SQLite by default, PostgreSQL by URL.

Every engine waits at most ``SIKS_DB_CONNECT_TIMEOUT_SECONDS`` for a new connection and
``SIKS_DB_POOL_TIMEOUT_SECONDS`` for a pooled one; any failure to connect is raised as
``DatabaseUnreachable`` (the driver's own errors, ``OSError`` and ``TimeoutError`` among them, say
nothing about where they came from), which the HTTP app answers with 503 (``core.runtime.outage``).

Through a pooler in transaction mode (``SIKS_DATABASE_POOLER=transaction``, PgBouncer) consecutive
transactions of one connection may run on different server connections, so nothing may outlive a
transaction: asyncpg's and SQLAlchemy's statement caches are off, every prepared statement gets a
name of its own (never ``__asyncpg_stmt_1__`` twice on one server), ``SIKS_DATABASE_SCHEMA`` is set
with ``SET LOCAL`` at the start of each transaction (a pooler refuses ``search_path`` as a start-up
parameter), and statements run in transactions only (an autocommit statement's parse and execute
could reach two servers). Session-level work goes to ``SIKS_DATABASE_DIRECT_URL`` (``direct_engine``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, NullPool, event
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
#: Execution option of an engine whose connections go through a transaction-mode pooler.
POOLED_OPTION = "siks_transaction_pooler"
#: Execution option: the URL of the primary server without the pooler (``SIKS_DATABASE_DIRECT_URL``), or None.
DIRECT_URL_OPTION = "siks_direct_url"
#: Execution option of a read replica's engine: the primary's engine, which its writes go to.
PRIMARY_OPTION = "siks_primary"
#: Execution option: the schema SIKS's tables live in (``SIKS_DATABASE_SCHEMA``), or None.
SCHEMA_OPTION = "siks_schema"


def _statement_name() -> str:
    """A prepared statement's name no other connection sharing the server could have used."""
    return f"__siks_{uuid4().hex}__"


def _schema_in_transaction(schema: str) -> Any:
    def begin(conn: Connection) -> None:
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')  # the setting's pattern admits no quote

    return begin


def create_engine(
    settings: Settings | None = None, *, url: str | None = None, through_pooler: bool | None = None
) -> AsyncEngine:
    """An engine for the configured database (or ``url``, such as the replica's), carrying the settings' audit
    keyring; SQLite gets WAL and enforced foreign keys; ``through_pooler`` (default: the setting) makes its
    connections safe behind a transaction-mode pooler."""
    settings = settings or get_settings()
    url = url or settings.database_url
    pooled = settings.through_transaction_pooler if through_pooler is None else through_pooler
    kwargs: dict[str, Any] = {
        "echo": settings.sql_echo,
        "execution_options": {
            KEYRING_OPTION: AuditKeyring.of(settings),
            POOLED_OPTION: pooled,
            DIRECT_URL_OPTION: settings.database_direct_url,
            SCHEMA_OPTION: settings.database_schema,
        },
    }
    if url.startswith("sqlite"):
        kwargs["pool_timeout"] = settings.db_pool_timeout_seconds
        kwargs["connect_args"] = {"timeout": settings.db_lock_timeout_seconds}
    else:
        kwargs.update(
            pool_timeout=settings.db_pool_timeout_seconds,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=True,
        )
        connect_args: dict[str, Any] = {"timeout": settings.db_connect_timeout_seconds}
        if pooled:
            connect_args.update(
                statement_cache_size=0,  # asyncpg's own cache
                prepared_statement_cache_size=0,  # SQLAlchemy's asyncpg dialect's cache
                prepared_statement_name_func=_statement_name,
            )
        elif settings.database_schema:
            connect_args["server_settings"] = {"search_path": settings.database_schema}
        kwargs["connect_args"] = connect_args
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "do_connect", _connect_or_fail)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    elif pooled and settings.database_schema:
        event.listen(engine.sync_engine, "begin", _schema_in_transaction(settings.database_schema))
    return engine


def through_pooler(engine: AsyncEngine) -> bool:
    """Whether ``engine`` reaches PostgreSQL through a transaction-mode pooler."""
    return bool(engine.get_execution_options().get(POOLED_OPTION))


@asynccontextmanager
async def direct_engine(engine: AsyncEngine) -> AsyncIterator[AsyncEngine | None]:
    """For session-level work (a lock held across transactions): a short-lived engine straight to the primary
    when ``engine`` goes through a transaction-mode pooler and ``SIKS_DATABASE_DIRECT_URL`` is set; ``engine``
    itself when it needs none; None when it goes through the pooler and no direct URL is known."""
    if not through_pooler(engine):
        yield engine
        return
    url = engine.get_execution_options().get(DIRECT_URL_OPTION)
    if not url:
        yield None
        return
    schema = engine.get_execution_options().get(SCHEMA_OPTION)
    direct = create_async_engine(
        url,
        poolclass=NullPool,
        execution_options={k: v for k, v in engine.get_execution_options().items() if k != POOLED_OPTION},
        connect_args={"server_settings": {"search_path": schema}} if schema else {},
    )
    event.listen(direct.sync_engine, "do_connect", _connect_or_fail)
    try:
        yield direct
    finally:
        await direct.dispose()


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write: committed when the block ends, rolled back on any error.

    On SQLite it begins with ``BEGIN IMMEDIATE`` so concurrent writers wait their turn. Given a read
    replica's engine (``core.storage.replica``), it writes to the replica's primary.
    """
    engine = engine.get_execution_options().get(PRIMARY_OPTION) or engine
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
    if through_pooler(engine):  # ANALYZE may run in a transaction; an autocommit statement may not be pooled
        async with engine.begin() as conn:
            for table in tables:
                await conn.exec_driver_sql(f"ANALYZE {table}")
        return
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.exec_driver_sql(f"ANALYZE {table}")
