"""Benchmark: a page of 100 households with members and ``totalCount`` for a village, a district, a regency,
the largest province and the country, and ``person(nik)`` — medians and p99 (issue 17).

The regions are the largest of each level: the province with most households, its largest regency, that
regency's largest district and that district's largest village. Each is asked through the GraphQL schema
in process (as graphql_page.py does), the levels taking turns in every round. Measured in the same run:

- the floor: the raw driver (sqlite3 / asyncpg) reading the village's page of 100 and its members;
- the count by scan: ``SELECT count(*)`` over the region with the region condition, what ``totalCount``
  cost before the counters (fewer runs: it is slow on large regions).

    python bench/scale_bench.py --database-url sqlite+aiosqlite:////path/to/loaded.db [--runs 50]
    python bench/scale_bench.py --databases sqlite --households 200000       # a fresh database first
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database  # noqa: E402
from core.access.enforcer import AccessControl  # noqa: E402
from core.auth.principal import Principal  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.programs.registry import registry_from_settings  # noqa: E402
from core.schema.build import build_schema  # noqa: E402
from core.schema.context import Context  # noqa: E402
from core.storage.db import create_engine  # noqa: E402

PAGE = 100
QUERY = """
query Page($region: String, $first: Int!) {
  households(regionCode: $region, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kkNumber villageCode address floorMaterial members { nik name sex birthDate relationship } } }
  }
}"""
PERSON = "query Person($nik: String!) { person(nik: $nik) { id nik name birthDate household { id villageCode } } }"
FLOOR_PAGE = (
    "SELECT id, kk_number, village_code, address, floor_material FROM households "
    "WHERE village_code = {village} AND status = 'active' ORDER BY id LIMIT 100"
)
FLOOR_MEMBERS = (
    "SELECT household_id, nik, name, sex, birth_date, relationship FROM members "
    "WHERE household_id IN ({ids}) AND status = 'active' ORDER BY household_id, id"
)
LEVELS = ("village", "district", "regency", "province", "country")


def _scan_condition(region: str) -> str:
    """The region condition of ``core.regions.codes.within``, as the count before the counters used it."""
    if not region:
        return ""
    return f"AND (village_code = '{region}' OR (village_code >= '{region}.' AND village_code < '{region}/'))"


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


async def largest_regions(engine: AsyncEngine) -> dict[str, str]:
    """The largest province, its largest regency, district and village (by active households), and ''."""
    found: dict[str, str] = {"country": ""}
    async with engine.connect() as conn:

        async def largest(level: int, prefix: str) -> str:
            rows = await conn.execute(
                text(
                    "SELECT region_code, households FROM region_household_counts "
                    "WHERE level = :level AND status = 'active' AND region_code LIKE :prefix "
                    "ORDER BY households DESC, region_code LIMIT 1"
                ),
                {"level": level, "prefix": prefix + "%"},
            )
            return str(rows.one()[0])

        provinces = await conn.execute(
            text(
                "SELECT substr(region_code, 1, 2) AS p, sum(households) AS n FROM region_household_counts "
                "WHERE level = 2 AND status = 'active' GROUP BY p ORDER BY n DESC, p LIMIT 1"
            )
        )
        found["province"] = str(provinces.one()[0])
        found["regency"] = await largest(2, found["province"] + ".")
        found["district"] = await largest(3, found["regency"] + ".")
        found["village"] = await largest(4, found["district"] + ".")
    return found


async def timed(run: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return times


async def measure(settings: Settings, label: str, runs: int) -> None:
    engine = create_engine(settings)
    registry = registry_from_settings(settings)
    schema = build_schema(settings, registry=registry)
    access = AccessControl(engine)
    await access.refresh(force=True)
    national = Principal(username="bench", role="data_centre", scope="")
    regions = await largest_regions(engine)
    async with engine.connect() as conn:
        households = int((await conn.execute(text("SELECT count(*) FROM households"))).scalar_one())
        niks = [str(n) for n in (await conn.execute(text("SELECT nik FROM members WHERE status = 'active'"))).scalars()]
    sample = random.Random(17).sample(niks, min(200, len(niks)))

    def page(region: str) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            context = Context.create(engine, settings, access, national, registry=registry)
            result = await schema.execute(
                QUERY, variable_values={"region": region or None, "first": PAGE}, context_value=context
            )
            assert result.errors is None, result.errors
            return result.data

        return run

    person_turn = iter(range(10**9))

    async def person() -> Any:
        nik = sample[next(person_turn) % len(sample)]
        context = Context.create(engine, settings, access, national, registry=registry)
        result = await schema.execute(PERSON, variable_values={"nik": nik}, context_value=context)
        assert result.errors is None and result.data["person"] is not None, result.errors
        return result.data

    # the floor: the raw driver's page of the village with its members, one open connection
    village_literal = "'" + regions["village"] + "'"
    if settings.is_sqlite:
        lite = sqlite3.connect(settings.database_url.split("///", 1)[1])

        async def floor() -> Any:
            rows = lite.execute(FLOOR_PAGE.format(village=village_literal)).fetchall()
            return lite.execute(FLOOR_MEMBERS.format(ids=",".join(str(r[0]) for r in rows))).fetchall()

        def scan_count(region: str) -> Callable[[], Awaitable[Any]]:
            where = _scan_condition(region)

            async def run() -> Any:
                return lite.execute(f"SELECT count(*) FROM households WHERE status = 'active' {where}").fetchone()[0]

            return run
    else:
        pg = await asyncpg.connect(
            settings.database_url.replace("postgresql+asyncpg", "postgresql"),
            server_settings={"search_path": settings.database_schema or "public"},
        )

        async def floor() -> Any:
            rows = await pg.fetch(FLOOR_PAGE.format(village=village_literal))
            return await pg.fetch(FLOOR_MEMBERS.format(ids=",".join(str(r[0]) for r in rows)))

        def scan_count(region: str) -> Callable[[], Awaitable[Any]]:
            where = _scan_condition(region)

            async def run() -> Any:
                return await pg.fetchval(f"SELECT count(*) FROM households WHERE status = 'active' {where}")

            return run

    sides: dict[str, Callable[[], Awaitable[Any]]] = {"floor": floor, **{lv: page(regions[lv]) for lv in LEVELS}}
    sides["person"] = person
    for run in sides.values():  # warm caches
        for _ in range(3):
            await run()
    for lv in LEVELS:  # the counters and a real count agree
        data = await sides[lv]()
        assert data["households"]["totalCount"] == await scan_count(regions[lv])(), lv
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, run in sides.items():
            times[name] += await timed(run, 1)
    named = ", ".join(f"{lv} {regions[lv] or '-'}" for lv in LEVELS)
    scans = {lv: statistics.median(await timed(scan_count(regions[lv]), max(3, runs // 10))) for lv in LEVELS}
    print(
        f"{label}: {households:,} households; regions {named}; "
        f"{runs} runs each, interleaved; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  floor (raw driver, the village's page of {PAGE} + members): "
        f"median {statistics.median(times['floor']) * 1000:6.2f} ms"
    )
    for lv in LEVELS:
        values = times[lv]
        print(
            f"  page of {PAGE} + totalCount, {lv:8s}: median {statistics.median(values) * 1000:6.2f} ms, "
            f"p99 {p99(values) * 1000:6.2f} ms   (count by scan, before the counters: {scans[lv] * 1000:8.2f} ms)"
        )
    ratio = statistics.median(times["country"]) / statistics.median(times["village"])
    print(f"  country / village (medians): {ratio:4.2f}x (target <= 2x)")
    values = times["person"]
    print(f"  person(nik): median {statistics.median(values) * 1000:6.2f} ms, p99 {p99(values) * 1000:6.2f} ms")
    if settings.is_sqlite:
        lite.close()
    else:
        await pg.close()
    await engine.dispose()


#: What the counters and the region indexes add to a write, dropped for the floor of ``--write-cost``.
COUNTER_TRIGGERS = ("households_counted_insert", "households_counted_delete", "households_counted_update")
REGION_INDEXES = ("ix_households_province_id", "ix_households_regency_id", "ix_households_district_id")


async def write_cost(households: int) -> None:
    """``siks demo`` into fresh SQLite files: as shipped, without the counter triggers, and without the
    triggers and the three prefix indexes (the floor); the variants take turns."""
    import tempfile

    from core.access.enforcer import seed_policies_if_empty
    from core.demo import seed_demo
    from core.regions.loader import load_regions, lokal_regions
    from core.storage import migrate

    drops = {
        "as shipped": (),
        "no counter triggers": tuple(f"DROP TRIGGER {t}" for t in COUNTER_TRIGGERS),
        "no triggers, no prefix indexes": tuple(f"DROP TRIGGER {t}" for t in COUNTER_TRIGGERS)
        + tuple(f"DROP INDEX {i}" for i in REGION_INDEXES),
    }
    times: dict[str, list[float]] = {name: [] for name in drops}
    for _ in range(2):
        for name, statements in drops.items():
            with tempfile.TemporaryDirectory(prefix="siks-scale-") as folder:
                engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{folder}/w.db"))
                await migrate.upgrade(engine)
                await seed_policies_if_empty(engine)
                await load_regions(engine, lokal_regions())
                async with engine.begin() as conn:
                    for statement in statements:
                        await conn.execute(text(statement))
                start = time.perf_counter()
                await seed_demo(engine, households, 1, progress=False)
                times[name].append(time.perf_counter() - start)
                await engine.dispose()
    for name, values in times.items():
        print(f"  siks demo --households {households:,} (SQLite), {name:32s}: best of 2 {min(values):6.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an already loaded database (else a fresh one per --databases)")
    parser.add_argument("--databases", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--write-cost", type=int, metavar="N", help="instead: time a demo load of N households")
    args = parser.parse_args()
    if args.write_cost:
        await write_cost(args.write_cost)
        return
    if args.database_url:
        kind = "sqlite" if args.database_url.startswith("sqlite") else "postgresql"
        await measure(Settings(database_url=args.database_url), kind, args.runs)
        return
    for kind in args.databases:
        database = await fresh_database(kind, args.households)
        try:
            await measure(database.settings, kind, args.runs)
        finally:
            await database.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
