"""Benchmark: the integrators' eligibility batch — 10,000 NIKs in one request (target: under 2 s).

Seeds N demo households into a fresh database, then asks ``eligibility_by_nik`` about 10,000
NIKs of active members (every program, its current period), median of several runs, and
prints the statement count, which must not depend on the batch size.

    python bench/eligibility_bench.py [--databases sqlite postgresql] [--households 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import event, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database, median_time_async  # noqa: E402
from core.programs.integrators import eligibility_by_nik  # noqa: E402
from core.programs.registry import registry_from_settings  # noqa: E402
from core.storage.db import create_engine  # noqa: E402
from core.storage.records import MEMBERS  # noqa: E402

BATCH = 10_000


async def measure(kind: str, households: int, runs: int) -> None:
    registry = registry_from_settings()
    database = await fresh_database(kind, households)
    engine = create_engine(database.settings)
    try:
        async with engine.connect() as conn:
            niks = list((await conn.execute(select(MEMBERS.c.nik).limit(BATCH))).scalars())
        statements: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        async def ask() -> None:
            async with engine.connect() as conn:
                answers = await eligibility_by_nik(conn, registry, niks, date.today())
            assert len(answers) == len(niks) and all(a.found for a in answers)

        await ask()
        per_request = len(statements)
        seconds = await median_time_async(ask, runs)
        print(
            f"{kind:10s} eligibility of {len(niks):,} NIKs across {len(registry.programs)} programs: "
            f"{seconds:5.2f} s (target < 2 s), {per_request} statements a request, median of {runs}"
        )
    finally:
        await engine.dispose()
        await database.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for kind in args.databases:
        await measure(kind, args.households, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
