"""Identity check speed: ``siks identity check`` of N members against a 1.1 × N Adminduk snapshot.

For each database (SQLite file, PostgreSQL schema):

1. a fresh database with N / 4.04 demo households (``siks demo``: about N members), the demo's
   Adminduk extract (``siks demo reference``: every member plus 10 % people the registry lacks, with
   its deaths, moves, NIK typos and name variants), loaded as the active snapshot (not timed);
2. in a fresh process (so its peak memory is the check's own): the floor — a plain SQL join of the
   same tables on NIK (members ⋈ households ⟕ reference_adminduk), every row fetched — then the
   check end to end (``core.identity.checks.run_check``: the batched joins, the rules, writing the
   outcomes, linkage of the members whose NIK is unknown, completing the run);

and prints both times, their ratio and the check process's peak RSS. Issue 14's target: 1,000,000
members against 1,100,000 people in at most 5 minutes, under 4 GB.

    python bench/identity_check_bench.py [--members 100000] [--database sqlite --database postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.common import fresh_database  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.storage.db import create_engine  # noqa: E402

MEMBERS_PER_HOUSEHOLD = 4.04  # the demo's average
AS_OF = date(2026, 12, 1)
FLOOR = """SELECT m.id, m.household_id, h.village_code, m.name, m.birth_date, m.sex,
  a.status, a.death_date, a.village_code, a.full_name, a.birth_date, a.sex
FROM members m JOIN households h ON h.id = m.household_id
LEFT JOIN reference_adminduk a ON a.snapshot_id = :snapshot AND a.nik = m.nik
WHERE m.status = 'active' AND h.status = 'active'"""


async def prepare(kind: str, members: int, folder: Path) -> tuple[Settings, object]:
    from core.cli.users import cli_request
    from core.demo.reference import DEFAULT_RATES, write_reference
    from core.reference.formats import Source
    from core.reference.loader import load_reference

    started = time.perf_counter()
    database = await fresh_database(kind, round(members / MEMBERS_PER_HOUSEHOLD))
    engine = create_engine(database.settings)
    try:
        result = await write_reference(engine, folder, 7, DEFAULT_RATES, AS_OF, overwrite=True)
        loaded = await load_reference(engine, Source.ADMINDUK, folder / "adminduk.csv", request=cli_request())
    finally:
        await engine.dispose()
    print(
        f"{kind:10} prepared {result.members:,} members, Adminduk snapshot of {loaded.loaded:,} people "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return database.settings, database.cleanup


async def measure() -> dict[str, float]:
    """The floor and the check, in this process (its settings come from the environment)."""
    from core.identity.checks import run_check
    from core.identity.consequences import Proposed, propose_from_run
    from core.reference.formats import Source
    from core.reference.queries import active_snapshots

    engine = create_engine(Settings())
    try:
        async with engine.connect() as conn:
            snapshot = (await active_snapshots(conn))[Source.ADMINDUK]
        started = time.perf_counter()
        rows = 0
        async with engine.connect() as conn:
            result = await conn.stream(text(FLOOR), {"snapshot": snapshot})
            async for part in result.partitions(20_000):
                rows += len(part)
        floor = time.perf_counter() - started
        started = time.perf_counter()
        summary = await run_check(engine, region_code=None, started_by="bench")
        check = time.perf_counter() - started
        started = time.perf_counter()  # what `siks identity check` does next: the proposals
        proposed = await propose_from_run(engine, summary.run_id, by="bench")
        propose = time.perf_counter() - started
        assert isinstance(proposed, Proposed), proposed
    finally:
        await engine.dispose()
    return {
        "floor": floor,
        "rows": rows,
        "check": check,
        "propose": propose,
        "proposals": proposed.proposals,
        "members": summary.members,
        "counts": summary.counts["adminduk"],  # type: ignore[dict-item]
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def run(kind: str, members: int) -> None:
    with tempfile.TemporaryDirectory(prefix="siks-idbench-") as folder:
        settings, cleanup = await prepare(kind, members, Path(folder))
    try:
        env = {**os.environ, "SIKS_DATABASE_URL": settings.database_url}
        if settings.database_schema:
            env["SIKS_DATABASE_SCHEMA"] = settings.database_schema
        child = subprocess.run(
            [sys.executable, __file__, "--measure"], env=env, capture_output=True, text=True, check=False
        )
        if child.returncode:
            raise SystemExit(child.stderr)
        found = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{kind:10} members {found['members']:>9,}  check {found['check']:7.1f} s  "
            f"plain join {found['floor']:6.1f} s ({found['rows']:,} rows)  "
            f"ratio {found['check'] / found['floor']:.1f}  "
            f"peak {found['peak_mb']:,.0f} MB",
            flush=True,
        )
        print(
            f"{kind:10} then {found['proposals']:,} proposals in {found['propose']:.1f} s: "
            f"`siks identity check` end to end {found['check'] + found['propose']:.1f} s",
            flush=True,
        )
        print(f"{kind:10} outcomes {found['counts']}", flush=True)
    finally:
        await cleanup()  # type: ignore[operator]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--database", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(await measure()))
        return
    for kind in args.database or ["sqlite", "postgresql"]:
        await run(kind, args.members)


if __name__ == "__main__":
    asyncio.run(main())
