"""Database outages for tests, on the running application's own database.

PostgreSQL: the application talks to the database through ``DatabaseProxy``, a TCP proxy in
the test's event loop. ``down()`` stops listening and cuts every connection (the port then has
nothing listening: connections are refused); ``hang()`` listens again on the same port but
accepts and never answers (asyncpg's connect waits for the server's reply), and cuts the
connections it was relaying. ``restore()`` relays again.

SQLite: the application runs on a copy of the test database. ``down()`` puts a directory where
the file was (it can no longer be opened); ``hang()`` lets another connection hold the file in
exclusive locking mode (nobody else can read or write it). Both first close the application's
pooled connections, which would otherwise keep the old file open: they stand for the
connections a process opens later (after a restart, or when the pool replaces one).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core.foundation.settings import Settings


class DatabaseProxy:
    """Relays TCP connections to ``target`` until told to refuse them or to leave them unanswered."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        await self._listen(self._relay)
        return self.port

    async def _listen(self, handler: Any) -> None:
        self._server = await asyncio.start_server(handler, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    async def down(self) -> None:
        """Nothing listens on the port any more; open connections are cut."""
        await self._stop()

    async def hang(self) -> None:
        """The port accepts connections and never answers; open connections are cut."""
        await self._stop()
        await self._listen(self._black_hole)

    async def restore(self) -> None:
        await self._stop()
        await self._listen(self._relay)

    async def close(self) -> None:
        await self._stop()

    def _track(self, *writers: asyncio.StreamWriter) -> None:
        self._writers.update(writers)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)

    async def _black_hole(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track(writer)
        with suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._track(client_writer, server_writer)
        pumps = [
            asyncio.create_task(_pump(client_reader, server_writer)),
            asyncio.create_task(_pump(server_reader, client_writer)),
        ]
        self._tasks.update(pumps)
        with suppress(asyncio.CancelledError):
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


class PostgresOutage:
    def __init__(self, settings: Settings) -> None:
        url = make_url(settings.database_url)
        self.proxy = DatabaseProxy(url.host or "127.0.0.1", url.port or 5432)
        self._url = url
        self.settings = settings

    async def start(self) -> Settings:
        port = await self.proxy.start()
        proxied = self._url.set(port=port).render_as_string(hide_password=False)
        return self.settings.model_copy(update={"database_url": proxied})

    async def down(self, _app: Any) -> None:
        await self.proxy.down()

    async def hang(self, _app: Any) -> None:
        await self.proxy.hang()

    async def restore(self, _app: Any) -> None:
        await self.proxy.restore()

    async def close(self) -> None:
        await self.proxy.close()


class SQLiteOutage:
    def __init__(self, settings: Settings, folder: Path) -> None:
        self.settings = settings
        self.path = folder / "outage.db"
        self._locker: sqlite3.Connection | None = None

    async def start(self) -> Settings:
        source = sqlite3.connect(self.settings.sqlite_path() or "", isolation_level=None)
        try:  # a consistent copy of the test database, regions included
            source.execute("VACUUM INTO ?", (str(self.path),))
        finally:
            source.close()
        return self.settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{self.path}"})

    async def down(self, app: Any) -> None:
        await app.state.engine.dispose()
        self.path.rename(self.path.with_suffix(".moved"))
        self.path.mkdir()

    async def hang(self, app: Any) -> None:
        await app.state.engine.dispose()
        self._locker = sqlite3.connect(self.path, isolation_level=None)
        self._locker.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._locker.execute("BEGIN EXCLUSIVE")
        self._locker.execute("UPDATE policy_version SET version = version WHERE id = 1")

    async def restore(self, _app: Any) -> None:
        if self._locker is not None:
            self._locker.execute("ROLLBACK")
            self._locker.close()
            self._locker = None
        if self.path.is_dir():
            shutil.rmtree(self.path)
            self.path.with_suffix(".moved").rename(self.path)

    async def close(self) -> None:
        await self.restore(None)
