"""Benchmark: a PKH and a BST cycle over demo households, against a hand-written INSERT … SELECT.

For each database, a fresh SIKS database is seeded with ``core.demo.seed_demo`` (as
bench/common.py does) and given a welfare ranking (see ``RANKINGS``). Then, for PKH 2026-Q1 and
BST 2026-03 over the whole country, each repetition times

- ours: ``run_cycle`` end to end (claim, eligibility over the whole population, components,
  double-recipient checks, enrollments, components, disbursements, refusals, one transaction);
- floor: one hand-written ``INSERT INTO enrollments … SELECT`` computing the same enrollments
  (same households, same amounts; checked) in one statement and committing; on PostgreSQL with
  the same ``work_mem`` a cycle sets for its transaction (``CYCLE_WORK_MEM``), so both sides
  sort and hash in the same memory;

and undoes both before the next repetition (on PostgreSQL followed by a VACUUM, untimed). BST
runs after a kept PKH cycle, so it excludes PKH families. Prints the median of the repetitions
and the ratio; targets: at most 60 s a run and at most 1.5x the floor.

    python bench/cycle_bench.py [--households 1000000] [--databases sqlite postgresql] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database  # noqa: E402
from core.foundation.ids import ids  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.programs.cycles import CycleRecord, run_cycle  # noqa: E402
from core.programs.periods import Period, parse_period  # noqa: E402
from core.programs.registry import ProgramRegistry, build_registry, make_manager  # noqa: E402
from core.programs.selection import CYCLE_WORK_MEM  # noqa: E402
from core.storage.db import create_engine, write_transaction  # noqa: E402

RANKINGS = {
    "tenths": "welfare_ranks written as tenths of the deprivation estimate (decile 1 = most deprived tenth)",
    "estimate": "no ranking: the facts row's deprivation estimate decides",
}
TENTHS = """
INSERT INTO welfare_ranks (household_id, model_version, score, decile, regency_decile, ranked_at)
SELECT id, 'bench-tenths', place * 1.0 / total, 1 + (place - 1) * 10 / total, 1 + (place - 1) * 10 / total, :now
FROM (
  SELECT h.id, ROW_NUMBER() OVER (ORDER BY {deprivation} DESC, h.floor_area, h.id) AS place,
         COUNT(*) OVER () AS total
  FROM households h WHERE h.status = 'active'
) ranked
"""
# The deprivation estimate of core/programs/facts.py, written out (floor area per person left out).
DEPRIVATION = """(
  CASE WHEN h.floor_material IN ('earth', 'bamboo', 'low_quality_wood') THEN 1 ELSE 0 END
  + CASE WHEN h.wall_material IN ('woven_bamboo', 'bamboo', 'log') THEN 1 ELSE 0 END
  + CASE WHEN h.roof_material IN ('thatch', 'bamboo') THEN 1 ELSE 0 END
  + CASE WHEN h.toilet IN ('public', 'none') THEN 1 ELSE 0 END
  + CASE WHEN h.drinking_water IN ('unprotected_well', 'unprotected_spring', 'surface_water', 'rain_water')
         THEN 1 ELSE 0 END
  + CASE WHEN h.lighting IN ('non_pln', 'none') THEN 1 ELSE 0 END
  + CASE WHEN h.cooking_fuel IN ('firewood', 'charcoal') THEN 1 ELSE 0 END
  + CASE WHEN NOT (h.has_refrigerator OR h.has_motorcycle OR h.has_car OR h.has_gold OR h.has_land)
         THEN 1 ELSE 0 END)"""
FULL_DEPRIVATION = DEPRIVATION[:-1] + "\n  + CASE WHEN h.floor_area < m.members * 8.0 THEN 1 ELSE 0 END)"

# What a careful engineer would write by hand for each program: one statement, the members
# aggregated once, the decile from the ranking or the same estimate, the rules inline.
DECILE = f"COALESCE(w.decile, CASE WHEN {FULL_DEPRIVATION} >= 9 THEN 1 ELSE 10 - {FULL_DEPRIVATION} END)"
ENROLLMENT_COLUMNS = (
    "id, cycle_id, program, period, period_start, period_end, household_id, village_code, amount, status, created_at"
)
PKH_FLOOR = f"""
INSERT INTO enrollments ({ENROLLMENT_COLUMNS})
WITH counted AS (
  SELECT household_id, COUNT(*) AS members, SUM(CASE WHEN {{counted_component}} THEN 1 ELSE 0 END) AS components
  FROM members WHERE status = 'active' GROUP BY household_id
),
eligible AS (
  SELECT h.id AS household_id, h.village_code
  FROM counted m JOIN households h ON h.id = m.household_id
  LEFT JOIN welfare_ranks w ON w.household_id = h.id
  WHERE h.status = 'active' AND m.components > 0 AND {DECILE} <= :max_decile
    AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.household_id = h.id AND e.program = 'pkh'
                    AND e.period = :same_period)
),
kept AS (
  SELECT e.household_id, e.village_code, {{member_amount}} AS amount,
         ROW_NUMBER() OVER (PARTITION BY e.household_id ORDER BY {{member_amount}} DESC, x.id) AS place
  FROM eligible e JOIN members x ON x.household_id = e.household_id AND x.status = 'active'
  WHERE {{member_component}}
)
SELECT :base + ROW_NUMBER() OVER (ORDER BY household_id), :cycle, 'pkh', :period, :start, :end, household_id,
       village_code, SUM(amount), 'enrolled', :now
FROM kept WHERE place <= :max_components GROUP BY household_id, village_code
"""
BST_FLOOR = f"""
INSERT INTO enrollments ({ENROLLMENT_COLUMNS})
SELECT :base + ROW_NUMBER() OVER (ORDER BY h.id), :cycle, 'bst', :period, :start, :end, h.id, h.village_code,
       :amount, 'enrolled', :now
FROM (SELECT household_id, COUNT(*) AS members FROM members WHERE status = 'active' GROUP BY household_id) m
JOIN households h ON h.id = m.household_id
LEFT JOIN welfare_ranks w ON w.household_id = h.id
WHERE h.status = 'active' AND {DECILE} <= :max_decile
  AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.household_id = h.id AND e.program = 'bst'
                  AND e.period = :same_period)
  AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.household_id = h.id AND e.status = 'enrolled'
                  AND e.program IN ('pkh', 'bpnt') AND e.period_start < :end AND e.period_end > :start)
"""


def _pkh_conditions(alias: str) -> dict[str, str]:
    """The PKH components as conditions on one member row, written out (ages at the period's start)."""
    return {
        "pregnant": f"{alias}.pregnant AND {alias}.sex = 'female'",
        "child_0_6": f"{alias}.birth_date > :born_after_7",
        "primary_pupil": f"{alias}.in_school AND {alias}.education = 'primary'",
        "junior_pupil": f"{alias}.in_school AND {alias}.education = 'junior_high'",
        "senior_pupil": f"{alias}.in_school AND {alias}.education = 'senior_high'",
        "severe_disability": f"{alias}.disability = 'severe'",
        "elderly_60": f"{alias}.birth_date <= :born_before_60",
    }


def floor_statement(program: str, period: Period, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The hand-written statement for ``program`` and its parameters."""
    values: dict[str, Any] = {
        "period": period.label,
        "same_period": period.label,
        "start": period.start,
        "end": period.end,
        "max_decile": config["max_decile"],
    }
    if program == "bst":
        return BST_FLOOR, {**values, "amount": config["monthly_amount"] * period.months}
    yearly = config["components"]
    member = _pkh_conditions("x")
    best_first = sorted(member, key=lambda code: -yearly[code])
    amount = " ".join(f"WHEN {member[code]} THEN {yearly[code] * period.months // 12}" for code in best_first)
    sql = PKH_FLOOR.format(
        counted_component=" OR ".join(f"({c})" for c in _pkh_conditions("members").values()),
        member_component=" OR ".join(f"({c})" for c in member.values()),
        member_amount=f"CASE {amount} END",
    )
    start = period.start
    return sql, {
        **values,
        "max_components": config["max_components"],
        "born_after_7": start.replace(year=start.year - 7),
        "born_before_60": start.replace(year=start.year - 60),
    }


async def _timed(work: Callable[[], Awaitable[object]]) -> tuple[float, object]:
    start = time.perf_counter()
    result = await work()
    return time.perf_counter() - start, result


#: Tables a run writes or locks rows of; vacuumed on PostgreSQL so each repetition starts alike.
WRITTEN = ("disbursements", "enrollment_components", "cycle_refusals", "enrollments", "program_cycles")


async def _vacuum(engine: AsyncEngine, tables: tuple[str, ...] = ()) -> None:
    """PostgreSQL: VACUUM ANALYZE (the whole database without ``tables``), outside any transaction.

    Deleted rows stay in the tables and their indexes until vacuumed, and this machine's server
    runs without autovacuum: each repetition would insert the same unique keys over the dead
    rows of the one before, and be slower for it.
    """
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE " + ", ".join(tables)))


async def _undo(engine: AsyncEngine, cycle_id: int) -> None:
    """Delete a cycle and everything it wrote, then vacuum what it touched (not timed)."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:  # plans for the rows just written
            await conn.execute(text("ANALYZE enrollments"))
    async with write_transaction(engine) as conn:
        enrollment_ids = f"SELECT id FROM enrollments WHERE cycle_id = {cycle_id}"
        await conn.execute(text(f"DELETE FROM disbursements WHERE enrollment_id IN ({enrollment_ids})"))
        await conn.execute(text(f"DELETE FROM enrollment_components WHERE enrollment_id IN ({enrollment_ids})"))
        await conn.execute(text(f"DELETE FROM cycle_refusals WHERE cycle_id = {cycle_id}"))
        await conn.execute(text(f"DELETE FROM enrollments WHERE cycle_id = {cycle_id}"))
        await conn.execute(text(f"DELETE FROM program_cycles WHERE id = {cycle_id}"))
    await _vacuum(engine, (*WRITTEN, "households", "members"))


async def _floor(engine: AsyncEngine, registry: ProgramRegistry, program: str, label: str) -> tuple[int, int]:
    """Run the hand-written statement under a cycle row of its own; returns (cycle id, rows)."""
    spec = registry.program(program)
    period = parse_period(label, spec.period_kind)
    sql, values = floor_statement(program, period, dict(spec.settings_for(period)))
    cycle_id = ids.next_id()
    async with write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"SET LOCAL work_mem = '{CYCLE_WORK_MEM}'"))
        await conn.execute(
            text(
                "INSERT INTO program_cycles (id, program, period, region_code, status, enrolled, refused, "
                "total_amount, started_at, run_by) VALUES (:id, :program, :period, 'ID', 'completed', 0, 0, 0, "
                ":now, 'floor')"
            ),
            {"id": cycle_id, "program": program, "period": label, "now": _now()},
        )
        result = await conn.execute(text(sql), {**values, "base": ids.next_id(), "cycle": cycle_id, "now": _now()})
    return cycle_id, result.rowcount


def _now() -> datetime:
    return datetime.now(UTC)


async def _keep_expected(engine: AsyncEngine, cycle_id: int) -> None:
    """Copy a cycle's (household, amount) pairs aside, to compare with the floor's after the cycle is undone."""
    async with write_transaction(engine) as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_expected"))
        await conn.execute(
            text(
                "CREATE TABLE bench_expected AS SELECT household_id, amount FROM enrollments "
                f"WHERE cycle_id = {cycle_id}"
            )
        )


async def _same_as_expected(engine: AsyncEngine, cycle_id: int) -> bool:
    ours = f"SELECT household_id, amount FROM enrollments WHERE cycle_id = {cycle_id}"
    expected = "SELECT household_id, amount FROM bench_expected"
    async with engine.connect() as conn:
        missing = (await conn.execute(text(f"SELECT COUNT(*) FROM ({expected} EXCEPT {ours}) d"))).scalar_one()
        extra = (await conn.execute(text(f"SELECT COUNT(*) FROM ({ours} EXCEPT {expected}) d"))).scalar_one()
    async with write_transaction(engine) as conn:
        await conn.execute(text("DROP TABLE bench_expected"))
    return missing == extra == 0


async def _rank(engine: AsyncEngine, ranking: str) -> None:
    if ranking != "tenths":
        return
    async with engine.connect() as conn:
        if (await conn.execute(text("SELECT COUNT(*) FROM welfare_ranks"))).scalar_one():
            return  # a reused database keeps its ranking
    async with write_transaction(engine) as conn:
        await conn.execute(text(TENTHS.format(deprivation=DEPRIVATION)), {"now": _now()})
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE welfare_ranks"))


async def bench_program(
    engine: AsyncEngine, registry: ProgramRegistry, program: str, label: str, repeat: int
) -> dict[str, Any]:
    ours_times, floor_times, same = [], [], True
    record: CycleRecord | None = None
    for _ in range(repeat):
        seconds, outcome = await _timed(lambda: run_cycle(engine, registry, program, label, "ID", "bench"))
        assert isinstance(outcome, CycleRecord), outcome
        record = outcome
        ours_times.append(seconds)
        await _keep_expected(engine, record.id)
        await _undo(engine, record.id)
        seconds, (floor_id, rows) = await _timed(lambda: _floor(engine, registry, program, label))
        floor_times.append(seconds)
        same = same and rows == record.enrolled and await _same_as_expected(engine, floor_id)
        await _undo(engine, floor_id)
    assert record is not None
    ours, floor = statistics.median(ours_times), statistics.median(floor_times)
    return {
        "program": program,
        "period": label,
        "enrolled": record.enrolled,
        "refused": record.refused,
        "ours": ours,
        "floor": floor,
        "ratio": ours / floor,
        "same": same,
        "load": os.getloadavg()[0],
    }


async def bench_database(
    kind: str, households: int, repeat: int, ranking: str, reuse: str | None, schema: str | None
) -> list[dict[str, Any]]:
    started = time.perf_counter()
    if reuse:
        settings, cleanup = Settings(database_url=reuse, database_schema=schema), None
    else:
        database = await fresh_database(kind, households)
        settings, cleanup = database.settings, database.cleanup
    seeded = time.perf_counter() - started
    engine = create_engine(settings)
    try:
        await _rank(engine, ranking)
        await _vacuum(engine)  # the state autovacuum keeps a production server in
        registry = build_registry(make_manager(["pkh", "bpnt", "bst"]))
        source = f"reused {reuse}" if reuse else f"seeded in {seeded:.0f} s"
        print(f"{kind}: {households:,} households ({source}); ranking: {RANKINGS[ranking]}", flush=True)
        results = [await bench_program(engine, registry, "pkh", "2026-Q1", repeat)]
        kept = await run_cycle(engine, registry, "pkh", "2026-Q1", "ID", "bench")  # BST must exclude these
        results.append(await bench_program(engine, registry, "bst", "2026-03", repeat))
        assert isinstance(kept, CycleRecord)
        await _undo(engine, kept.id)
    finally:
        await engine.dispose()
        if cleanup is not None:
            await cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ranking", choices=sorted(RANKINGS), default="tenths")
    parser.add_argument("--reuse", help="URL of a database already seeded by seed_demo (one kind only); kept.")
    parser.add_argument("--schema", help="with --reuse on PostgreSQL: the schema holding it.")
    args = parser.parse_args()
    for kind in args.databases:
        results = asyncio.run(bench_database(kind, args.households, args.repeat, args.ranking, args.reuse, args.schema))
        print(
            f"{'database':<11} {'cycle':<13} {'enrolled':>9} {'refused':>8} {'ours s':>8} {'floor s':>8} {'ratio':>6}"
        )
        for line in results:
            verdict = "ok" if line["ours"] <= 60 and line["ratio"] <= 1.5 else "over target"
            verdict += f"; load average {line['load']:.1f}"
            print(
                f"{kind:<11} {line['program'] + ' ' + line['period']:<13} {line['enrolled']:>9,} "
                f"{line['refused']:>8,} {line['ours']:>8.2f} {line['floor']:>8.2f} {line['ratio']:>5.2f}x "
                f"{'same enrollments' if line['same'] else 'DIFFERENT enrollments'}; {verdict}",
                flush=True,
            )


if __name__ == "__main__":
    main()
