"""Dedup benchmark: ``siks dedup run`` over a demo registry with injected duplicates, against their truth.

Seeds a fresh database (SQLite file or PostgreSQL schema) with about ``--members`` demo members
(``siks demo``: about 4 a household), registers some of them a second time with
``core.demo.duplicates.inject_duplicates`` (a member in another household of their district or in
their own under a mistyped NIK, sometimes a name written differently; whole families twice), then
runs ``siks dedup run`` as a child process and prints, per database: seconds, the child's peak
resident memory, and precision / recall of the same-person pairs (and of the families) against the
injected truth. Issue 14's targets: 1,000,000 members in at most 10 minutes and 4 GB; precision at
least 0.99 and recall at least 0.97 for duplicate persons.

    python bench/dedup_bench.py [--members 100000] [--database sqlite --database postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench.common import fresh_database  # noqa: E402
from core.demo.duplicates import inject_duplicates  # noqa: E402
from core.foundation.enums import DuplicateKind  # noqa: E402
from core.identity.duplicates import CANDIDATES  # noqa: E402
from core.storage.db import create_engine  # noqa: E402

MEMBERS_PER_HOUSEHOLD = 4.0


def ratio(hit: int, of: int) -> float:
    return hit / of if of else float("nan")


async def bench(kind: str, members: int, persons: float, families: float) -> dict[str, object]:
    started = time.perf_counter()
    database = await fresh_database(kind, max(1, round(members / MEMBERS_PER_HOUSEHOLD)))
    engine = create_engine(database.settings)
    try:
        truth = await inject_duplicates(engine, persons=persons, families=families, seed=11)
        prepared = time.perf_counter() - started
        env = {**os.environ, "SIKS_DATABASE_URL": database.settings.database_url}
        if database.settings.database_schema:
            env["SIKS_DATABASE_SCHEMA"] = database.settings.database_schema
        run_started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            command = [sys.executable, "-m", "core.cli", "dedup", "run"]
            child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
            _pid, status, usage = os.wait4(child.pid, 0)  # this child's own peak resident memory
            child.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.perf_counter() - run_started
            out.seek(0)
            err.seek(0)
            printed, problem = out.read(), err.read()
        if child.returncode != 0:
            raise SystemExit(f"siks dedup run failed: {problem[-2000:]}")
        async with engine.connect() as conn:
            rows = list(await conn.execute(select(CANDIDATES.c.kind, CANDIDATES.c.first_id, CANDIDATES.c.second_id)))
        found_persons = {(r.first_id, r.second_id) for r in rows if r.kind == DuplicateKind.SAME_PERSON.value}
        found_families = {(r.first_id, r.second_id) for r in rows if r.kind == DuplicateKind.SAME_FAMILY.value}
        hit, family_hit = len(found_persons & truth.persons), len(found_families & truth.families)
        return {
            "database": kind,
            "summary": printed.strip(),
            "prepared_s": prepared,
            "seconds": seconds,
            "peak_mib": usage.ru_maxrss / 1024,
            "injected": dict(truth.kinds),
            "true_persons": len(truth.persons),
            "found_persons": len(found_persons),
            "precision": ratio(hit, len(found_persons)),
            "recall": ratio(hit, len(truth.persons)),
            "true_families": len(truth.families),
            "found_families": len(found_families),
            "family_precision": ratio(family_hit, len(found_families)),
            "family_recall": ratio(family_hit, len(truth.families)),
        }
    finally:
        await engine.dispose()
        await database.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--persons", type=float, default=0.01, help="share of members registered twice")
    parser.add_argument("--families", type=float, default=0.002, help="share of households registered twice")
    parser.add_argument("--database", action="append", choices=("sqlite", "postgresql"))
    arguments = parser.parse_args()
    print("| database | members | dedup run | peak memory | persons: true / found | precision | recall "
          "| families: true / found | precision | recall |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in arguments.database or ["sqlite", "postgresql"]:
        r = asyncio.run(bench(kind, arguments.members, arguments.persons, arguments.families))
        print(
            f"| {kind} | {arguments.members:,} | {r['seconds']:.1f} s | {r['peak_mib']:,.0f} MiB "
            f"| {r['true_persons']:,} / {r['found_persons']:,} | {r['precision']:.4f} | {r['recall']:.4f} "
            f"| {r['true_families']:,} / {r['found_families']:,} | {r['family_precision']:.4f} "
            f"| {r['family_recall']:.4f} |",
            flush=True,
        )
        print(f"  (set-up {r['prepared_s']:.0f} s; injected {r['injected']}; {r['summary']})", file=sys.stderr)


if __name__ == "__main__":
    main()
