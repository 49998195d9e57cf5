"""Benchmark: the public Cek Bansos lookup under a bounded loopback load.

Seeds a demo database, enrolls every third household in an approved PKH cycle, starts one uvicorn
process on 127.0.0.1 (a free port, the public rate limit raised out of the way) and drives it with
``--clients`` concurrent httpx clients for ``--requests`` lookups, half of them for people who are
registered (hits) and half for names nobody has (misses). Prints requests/s and the p50 and p99
latency, the median of ``--runs`` runs.

    python bench/public_bench.py [--databases sqlite postgresql] [--households 20000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, literal, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchDatabase, free_port, fresh_database, start_server, wait_until_up  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.models import Enrollment, ProgramCycle  # noqa: E402
from core.storage.db import create_engine  # noqa: E402
from core.storage.records import HOUSEHOLDS, MEMBERS  # noqa: E402

LOOKUP = """query Lookup($village: String!, $name: String!) {
  cekBansos(villageCode: $village, fullName: $name) { found people { maskedName aid { program period } } }
}"""
CYCLE_ID = 1


@dataclass(frozen=True)
class RunFigures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


async def enroll_every_third_household(settings: Settings) -> None:
    """One approved national PKH cycle for 2026-Q1 covering every third household (one set-based INSERT)."""
    engine = create_engine(settings)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ProgramCycle.__table__).values(
                id=CYCLE_ID,
                program="pkh",
                period="2026-Q1",
                region_code="",
                status="approved",
                started_at=now,
                run_by="bench",
            )
        )
        chosen = select(
            HOUSEHOLDS.c.id,
            literal(CYCLE_ID),
            literal("pkh"),
            literal("2026-Q1"),
            literal(date(2026, 1, 1)),
            literal(date(2026, 4, 1)),
            HOUSEHOLDS.c.id,
            HOUSEHOLDS.c.village_code,
            literal(750_000),
            literal("enrolled"),
            literal(now),
        ).where(HOUSEHOLDS.c.id % 3 == 0)
        enrollments = Enrollment.__table__
        await conn.execute(
            insert(enrollments).from_select(
                [
                    "id",
                    "cycle_id",
                    "program",
                    "period",
                    "period_start",
                    "period_end",
                    "household_id",
                    "village_code",
                    "amount",
                    "status",
                    "created_at",
                ],
                chosen,
            )
        )
    await engine.dispose()


async def lookups(settings: Settings, count: int) -> list[dict[str, str]]:
    """``count`` lookup variables, alternating a registered person and a name nobody has, over many villages."""
    engine = create_engine(settings)
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(MEMBERS))).scalar_one()
        step = max(total // count, 1)
        rows = (
            await conn.execute(
                select(HOUSEHOLDS.c.village_code, MEMBERS.c.name)
                .join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
                .where(MEMBERS.c.status == "active", MEMBERS.c.id % step == 0)
                .limit(count)
            )
        ).all()
    await engine.dispose()
    found: list[dict[str, str]] = []
    for n, (village, name) in enumerate(rows):
        found.append({"village": village, "name": name if n % 2 == 0 else f"Tidak Terdaftar Nomor {n}"})
    return found


def start_public_server(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    """The server with the public rate limit raised out of the way."""
    return start_server(settings, port, {"SIKS_PUBLIC_REQUESTS_PER_MINUTE": "100000000", "SIKS_MODE": "development"})


async def drive(url: str, work: list[dict[str, str]], clients: int) -> RunFigures:
    """All lookups of ``work`` through ``clients`` concurrent keep-alive clients; every answer must be 200."""
    latencies: list[float] = []
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for variables in work:
        queue.put_nowait(variables)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while not queue.empty():
                variables = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post("/public/graphql", json={"query": LOOKUP, "variables": variables})
                latencies.append(time.perf_counter() - started)
                body: Any = response.json()
                assert response.status_code == 200 and "errors" not in body, response.text[:300]

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return RunFigures(len(work) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000)


async def measure(database: BenchDatabase, requests: int, clients: int, runs: int) -> RunFigures:
    await enroll_every_third_household(database.settings)
    work = await lookups(database.settings, requests)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_public_server(database.settings, port)
    try:
        wait_until_up(url, process)
        await drive(url, work[: max(len(work) // 10, clients)], clients)  # warm up
        figures = [await drive(url, work, clients) for _ in range(runs)]
    finally:
        process.terminate()
        process.wait(timeout=30)
    return RunFigures(
        statistics.median(f.requests_per_second for f in figures),
        statistics.median(f.p50_ms for f in figures),
        statistics.median(f.p99_ms for f in figures),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=2000, help="lookups per run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for kind in args.databases:
        database = await fresh_database(kind, args.households)
        try:
            figures = await measure(database, args.requests, args.clients, args.runs)
        finally:
            await database.cleanup()
        print(
            f"{kind:10s} Cek Bansos, {args.requests} lookups (half hits) by {args.clients} clients, one uvicorn "
            f"process: {figures.requests_per_second:6.1f} requests/s, p50 {figures.p50_ms:6.1f} ms, "
            f"p99 {figures.p99_ms:6.1f} ms (median of {args.runs})"
        )


if __name__ == "__main__":
    asyncio.run(main())
