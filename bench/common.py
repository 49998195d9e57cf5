"""Shared set-up for the benchmarks: a fresh database with regions and demo households."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from core.access.enforcer import seed_policies_if_empty
from core.foundation.settings import Settings
from core.regions.loader import load_regions, lokal_regions
from core.storage import migrate
from core.storage.db import create_engine

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class BenchDatabase:
    settings: Settings
    label: str
    cleanup: Callable[[], Awaitable[None]]


async def fresh_database(kind: str, households: int, seed: int = 7) -> BenchDatabase:
    """An empty SIKS database (SQLite temp file, or a new PostgreSQL schema) seeded with demo data."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="siks-bench-"))
        settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}")

        async def cleanup() -> None:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    else:
        url = os.environ.get("SIKS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        schema = f"siks_bench_{secrets.token_hex(3)}"
        admin = create_engine(Settings(database_url=url))
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        settings = Settings(database_url=url, database_schema=schema)

        async def cleanup() -> None:
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            await admin.dispose()

    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await seed_policies_if_empty(engine)
    await load_regions(engine, lokal_regions())
    from core.demo import seed_demo

    await seed_demo(engine, households, seed, progress=False)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return BenchDatabase(settings=settings, label=kind, cleanup=cleanup)


async def median_time_async(run: Callable[[], Awaitable[object]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def interleaved_medians(
    runs: int,
    sides: dict[str, Callable[[], Awaitable[object]]],
    before: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, float]:
    """Median seconds of each side, the sides taking turns in every round (drifting load hits all
    alike); ``before``, if given, runs untimed before each side's turn (emptying tables, say)."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, run in sides.items():
            if before is not None:
                await before()
            start = time.perf_counter()
            await run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(settings: Settings, port: int, environment: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """One uvicorn process serving ``settings``' database on 127.0.0.1:``port``, with extra ``environment``."""
    env = {**os.environ, "SIKS_DATABASE_URL": settings.database_url, **(environment or {})}
    if settings.database_schema:
        env["SIKS_DATABASE_SCHEMA"] = settings.database_schema
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "core.http.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start within 60 s")
