"""Locks that serialise jobs across processes: for one transaction, or for a whole job's life.

``queue_behind`` makes a transaction wait for any other holding the same key (PostgreSQL's
transaction advisory lock; on SQLite the write lock taken at ``BEGIN IMMEDIATE`` already does).
``held_for_job`` tries to take a named lock for as long as a long job runs — many transactions —
and the operating system or the server releases it when the process dies, so a job that finds it
free knows that any work left "in progress" belongs to a process that is gone: PostgreSQL's session
advisory lock on a connection of its own, or on SQLite an ``flock`` on a file beside the database.

Behind a transaction-mode pooler (``SIKS_DATABASE_POOLER=transaction``) a session lock would stay on
whichever server connection took it, so ``held_for_job`` takes it over ``SIKS_DATABASE_DIRECT_URL``;
without one it takes a transaction advisory lock in a transaction kept open for the job's life (it
holds one of the pooler's server connections, and no snapshot: nothing else runs in it).
``queue_behind`` needs nothing: its lock lives as long as the caller's transaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.storage.db import direct_engine


async def queue_behind(conn: AsyncConnection, key: int) -> None:
    """Wait, inside the caller's write transaction, until no other transaction holds ``key``."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _key(name: str) -> int:
    """A stable signed 64-bit key for a lock's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def held_for_job(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Take the lock ``name`` if it is free, for the block; yields whether it was taken (never waits)."""
    if engine.dialect.name == "postgresql":
        async with direct_engine(engine) as direct:
            if direct is None:  # through the pooler, no direct URL: the lock lives as long as a transaction
                async with engine.connect() as conn, conn.begin():
                    yield bool(await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _key(name)}))
                return
            async with direct.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")  # no transaction idles for the job's life
                taken = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _key(name)}))
                try:
                    yield taken
                finally:
                    if taken:
                        await conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(name)})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True  # a private in-memory database: no other process can reach it
        return
    descriptor = os.open(f"{database}.{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
