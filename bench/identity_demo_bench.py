"""Identity check accuracy on the demo: deaths, moves and NIK typos found against ``truth.csv``.

1. A fresh database with ``--households`` demo households (``siks demo``);
2. the demo's three extracts and truth file (``siks demo reference``), loaded as snapshots;
3. ``siks identity check`` of every member (``core.identity.checks.run_check``);
4. precision and recall of each kind against the truth file:

   - deaths: members checked ``deceased`` / truth rows ``deceased``;
   - moves: members checked ``moved`` / truth rows ``moved``;
   - NIK typos: members checked ``nik_suggested`` with the true NIK suggested / truth rows
     ``nik_typo_digit`` and ``nik_typo_transposed`` of Adminduk (a suggestion of another NIK is a false one);

   and, for the rest, how the members with a name variant, a day/month swap or no discrepancy came out.
   Issue 14's targets: precision ≥ 0.99 and recall ≥ 0.97 for deaths, moves and NIK typos.

    python bench/identity_demo_bench.py [--households 20000] [--database sqlite --database postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench.common import fresh_database  # noqa: E402
from core.cli.users import cli_request  # noqa: E402
from core.demo.reference import DEFAULT_RATES, write_reference  # noqa: E402
from core.identity.checks import run_check  # noqa: E402
from core.models import IdentityCheck  # noqa: E402
from core.reference.formats import Source  # noqa: E402
from core.reference.loader import load_reference  # noqa: E402
from core.storage.db import create_engine  # noqa: E402

AS_OF = date(2026, 12, 1)
TYPOS = {"nik_typo_digit", "nik_typo_transposed"}


def score(found: set[int], truth: set[int], correct: set[int] | None = None) -> str:
    hit = len(correct if correct is not None else found & truth)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (
        f"truth {len(truth):>6,}  found {len(found):>6,}  precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}"
    )


async def run(kind: str, households: int) -> None:
    database = await fresh_database(kind, households)
    engine = create_engine(database.settings)
    try:
        with tempfile.TemporaryDirectory(prefix="siks-iddemo-") as folder:
            out = Path(folder)
            await write_reference(engine, out, 7, DEFAULT_RATES, AS_OF, overwrite=True)
            for source in Source:
                await load_reference(engine, source, out / f"{source.value}.csv", request=cli_request(), today=AS_OF)
            with (out / "truth.csv").open(encoding="utf-8") as handle:
                truth = [row for row in csv.DictReader(handle) if row["source"] == "adminduk" and row["member_id"]]
        started = time.perf_counter()
        summary = await run_check(engine, region_code=None, started_by="bench", today=AS_OF)
        seconds = time.perf_counter() - started
        checks = IdentityCheck.__table__
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(checks.c.member_id, checks.c.status, checks.c.suggested_nik).where(
                        checks.c.run_id == summary.run_id, checks.c.source == "adminduk"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
        await database.cleanup()
    status = {member: state for member, state, _ in rows}
    suggested = {member: nik for member, state, nik in rows if state == "nik_suggested"}
    kinds: dict[str, set[int]] = {}
    true_nik: dict[int, str] = {}
    for row in truth:
        kinds.setdefault(row["kind"], set()).add(int(row["member_id"]))
        if row["kind"] in TYPOS:
            true_nik[int(row["member_id"])] = row["true_nik"]
    typos = kinds.get("nik_typo_digit", set()) | kinds.get("nik_typo_transposed", set())
    print(f"{kind}: {summary.members:,} members checked in {seconds:.1f} s; Adminduk {summary.counts['adminduk']}")
    print(f"  deaths    {score({m for m, s in status.items() if s == 'deceased'}, kinds.get('deceased', set()))}")
    print(f"  moves     {score({m for m, s in status.items() if s == 'moved'}, kinds.get('moved', set()))}")
    right = {m for m, nik in suggested.items() if true_nik.get(m) == nik}
    print(f"  NIK typos {score(set(suggested), typos, right)}")
    for label in ("name_variant", "birth_date_swap", "other_household"):
        members = kinds.get(label, set())
        print(f"  {label:16} {len(members):>6,} members: {dict(Counter(status.get(m) for m in members))}")
    flagged = set().union(*kinds.values())
    clean = Counter(state for member, state in status.items() if member not in flagged)
    print(f"  no discrepancy   {sum(clean.values()):>6,} members: {dict(clean)}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--database", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in args.database or ["sqlite", "postgresql"]:
        await run(kind, args.households)


if __name__ == "__main__":
    asyncio.run(main())
