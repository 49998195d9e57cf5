"""Household import benchmark: our ``siks import households`` path against the raw driver floor.

Generates N households (default 50,000, one to seven members each) in the import layout into a
temporary CSV, then measures, median of three rounds in which both sides take turns, on SQLite and PostgreSQL:

* ours: ``core.bulk.importer.import_households`` end to end (pre-pass, parsing, every household
  rule, registry checks, ids, inserts) into an empty households table;
* floor: the raw driver loading the same rows already parsed, in the same batches
  (``sqlite3`` ``executemany`` / asyncpg ``copy_records_to_table``);

and prints the ratio ours/floor in rows/s (a row being a file row: one member).

    python bench/import_bench.py [--households 50000] [--database-url URL ...]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from bench.common import interleaved_medians  # noqa: E402
from core.bulk.importer import HOUSEHOLD_INSERT, MEMBER_INSERT, ImportOptions, default_workers, import_households  # noqa: E402
from core.bulk.layout import FILE_COLUMNS, household_rows  # noqa: E402
from core.cli.users import cli_request  # noqa: E402
from core.foundation.enums import (  # noqa: E402
    CookingFuel,
    Disability,
    DrinkingWater,
    Education,
    FloorMaterial,
    HomeOwnership,
    LightingSource,
    Occupation,
    Relationship,
    RoofMaterial,
    Sex,
    ToiletFacility,
    WallMaterial,
)
from core.foundation.ids import ids  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, HouseholdData, MemberData  # noqa: E402
from core.households.identity import make_nik  # noqa: E402
from core.regions.codes import level_number  # noqa: E402
from core.regions.loader import load_regions, lokal_regions  # noqa: E402
from core.storage import migrate  # noqa: E402
from core.storage.db import create_engine  # noqa: E402

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FIRST_NAMES = ("Budi", "Siti", "Agus", "Dewi", "Eko", "Rina", "Joko", "Sri", "Andi", "Nur", "Wayan", "Made")
LAST_NAMES = ("Santoso", "Aminah", "Wijaya", "Lestari", "Saputra", "Hidayat", "Pratama", "Rahayu", "Nugroho")


E = TypeVar("E", bound=StrEnum)


def _pick(kind: type[E], seed: int) -> E:
    members = list(kind)
    return members[seed % len(members)]


def _person(
    seed: int, serial: int, districts: Sequence[str], relationship: Relationship, sex: Sex, born: date
) -> MemberData:
    district = districts[serial % len(districts)]
    nik = make_nik(district, born, sex, serial // len(districts) % 9999 + 1)
    adult = born.year < 2006
    return MemberData(
        nik=nik,
        name=f"{FIRST_NAMES[seed % len(FIRST_NAMES)]} {LAST_NAMES[seed % len(LAST_NAMES)]}",
        sex=sex,
        birth_date=born,
        relationship=relationship,
        education=_pick(Education, seed) if adult else Education.PRIMARY,
        in_school=not adult,
        occupation=_pick(Occupation, seed) if adult else Occupation.STUDENT,
        disability=Disability.SEVERE if seed % 97 == 0 else Disability.NONE,
        pregnant=sex is Sex.FEMALE and adult and seed % 23 == 0,
    )


def generated_households(count: int) -> Iterator[HouseholdData]:
    """``count`` valid households over real villages, deterministic, with unique KK numbers and NIKs."""
    codes = [code for code, _ in lokal_regions()]
    villages = sorted(code for code in codes if level_number(code) == 4)[::40]
    districts = sorted(code for code in codes if level_number(code) == 3)
    serial = 0
    for index in range(count):
        village = villages[index % len(villages)]
        district = village.rsplit(".", 1)[0]
        size = 1 + index % 7
        head_sex = Sex.FEMALE if index % 9 == 0 else Sex.MALE
        head_born = date(1950 + index % 45, 1 + index % 12, 1 + index % 28)
        members = [_person(index, serial, districts, Relationship.HEAD, head_sex, head_born)]
        for place in range(1, size):
            serial += 1
            seed = index * 7 + place
            if place == 1:
                spouse_sex = Sex.MALE if head_sex is Sex.FEMALE else Sex.FEMALE
                spouse_born = date(head_born.year + 2, 1 + seed % 12, 1 + seed % 28)
                members.append(_person(seed, serial, districts, Relationship.SPOUSE, spouse_sex, spouse_born))
            else:
                child_born = date(min(head_born.year + 20 + place, 2023), 1 + seed % 12, 1 + seed % 28)
                child_sex = Sex.FEMALE if seed % 2 else Sex.MALE
                members.append(_person(seed, serial, districts, Relationship.CHILD, child_sex, child_born))
        serial += 1
        yield HouseholdData(
            kk_number=f"{district.replace('.', '')}{index:010d}",
            village_code=village,
            address=f"Jl. Mawar No. {index % 300 + 1}",
            rt=f"{index % 20 + 1:03d}",
            rw=f"{index % 12 + 1:03d}",
            floor_material=_pick(FloorMaterial, index),
            wall_material=_pick(WallMaterial, index // 3),
            roof_material=_pick(RoofMaterial, index // 5),
            toilet=_pick(ToiletFacility, index // 7),
            drinking_water=_pick(DrinkingWater, index // 11),
            lighting=_pick(LightingSource, index // 13),
            cooking_fuel=_pick(CookingFuel, index // 17),
            ownership=_pick(HomeOwnership, index // 19),
            floor_area=float(18 + index % 150),
            latitude=round(-8.0 + (index % 1000) / 250, 5),
            longitude=round(106.0 + (index % 997) / 100, 5),
            has_refrigerator=index % 3 == 0,
            has_television=index % 2 == 0,
            has_motorcycle=index % 4 != 0,
            has_land=index % 5 == 0,
            livestock_count=index % 4,
            members=members,
        )


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


@dataclass(slots=True)
class Workload:
    """The generated file and the same households as final table rows, in import batches."""

    path: Path
    households: int
    rows: int
    batches: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]


def build_workload(directory: Path, count: int, batch_size: int) -> Workload:
    path = directory / "households.csv"
    now = datetime.now(UTC)
    batches: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = []
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FILE_COLUMNS)
        for index, data in enumerate(generated_households(count)):
            writer.writerows(household_rows(data))
            if index % batch_size == 0:
                batches.append(([], []))
            household_id = ids.next_id()
            households, members = batches[-1]
            households.append(
                (household_id, *(_stored(getattr(data, name)) for name in HOUSEHOLD_COLUMNS), "active", 1, now, now)
            )
            for member in data.members:
                members.append(
                    (
                        ids.next_id(),
                        household_id,
                        *(_stored(getattr(member, name)) for name in MEMBER_COLUMNS),
                        "active",
                        1,
                        now,
                        now,
                    )
                )
            rows += len(data.members)
    return Workload(path=path, households=count, rows=rows, batches=batches)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


class Target:
    """One database to measure on: SQLite in a temporary file, or a scratch PostgreSQL schema."""

    def __init__(self, url: str, directory: Path) -> None:
        self.is_sqlite = url.startswith("sqlite")
        self.schema = None if self.is_sqlite else f"siks_bench_{os.getpid()}"
        self.url = f"sqlite+aiosqlite:///{directory / 'bench.db'}" if self.is_sqlite else url
        self.engine: AsyncEngine = create_engine(Settings(database_url=self.url, database_schema=self.schema))

    @property
    def name(self) -> str:
        return "SQLite" if self.is_sqlite else "PostgreSQL"

    async def _admin(self, statement: str) -> None:
        admin = create_engine(Settings(database_url=self.url))
        async with admin.begin() as conn:
            await conn.execute(text(statement))
        await admin.dispose()

    async def prepare(self) -> None:
        if self.schema:
            await self._admin(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            await self._admin(f"CREATE SCHEMA {self.schema}")
        await migrate.upgrade(self.engine)
        await load_regions(self.engine, lokal_regions())

    async def empty(self) -> None:
        async with self.engine.begin() as conn:
            if self.is_sqlite:
                await conn.execute(text("DELETE FROM members"))
                await conn.execute(text("DELETE FROM households"))
            else:
                await conn.execute(text("TRUNCATE members, households CASCADE"))

    async def drop(self) -> None:
        await self.engine.dispose()
        if self.schema:
            await self._admin(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    async def floor(self, workload: Workload) -> None:
        """The raw driver loading the already parsed rows, one transaction per batch."""
        if self.is_sqlite:
            await asyncio.to_thread(self._sqlite_floor, workload)
            return
        dsn = self.url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn, server_settings={"search_path": self.schema or "public"})
        try:
            for households, members in workload.batches:
                async with conn.transaction():
                    await conn.copy_records_to_table("households", records=households, columns=list(HOUSEHOLD_INSERT))
                    await conn.copy_records_to_table("members", records=members, columns=list(MEMBER_INSERT))
        finally:
            await conn.close()

    def _sqlite_floor(self, workload: Workload) -> None:
        conn = sqlite3.connect(self.url.split("///", 1)[1], isolation_level=None)
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
            conn.execute(f"PRAGMA {pragma}")
        household_sql = (
            f"INSERT INTO households ({', '.join(HOUSEHOLD_INSERT)}) VALUES ({', '.join('?' * len(HOUSEHOLD_INSERT))})"
        )
        member_sql = f"INSERT INTO members ({', '.join(MEMBER_INSERT)}) VALUES ({', '.join('?' * len(MEMBER_INSERT))})"
        converted = [
            (
                [tuple(map(_sqlite_value, row)) for row in households],
                [tuple(map(_sqlite_value, row)) for row in members],
            )
            for households, members in workload.batches
        ]
        for households, members in converted:
            conn.execute("BEGIN")
            conn.executemany(household_sql, households)
            conn.executemany(member_sql, members)
            conn.execute("COMMIT")
        conn.close()


async def measure(target: Target, workload: Workload, runs: int, options: ImportOptions) -> None:
    await target.prepare()
    try:

        async def ours() -> None:
            summary = await import_households(target.engine, workload.path, request=cli_request(), options=options)
            assert summary.loaded == workload.households and not summary.errors, summary.line()

        async def floor() -> None:
            await target.floor(workload)

        medians = await interleaved_medians(runs, {"ours": ours, "floor": floor}, before=target.empty)
        ours_seconds, floor_seconds = medians["ours"], medians["floor"]
    finally:
        await target.drop()
    ours_rate, floor_rate = workload.rows / ours_seconds, workload.rows / floor_seconds
    print(
        f"{target.name:<10} ours  {ours_seconds:6.2f} s  {workload.households / ours_seconds:8,.0f} households/s  "
        f"{ours_rate:8,.0f} rows/s\n"
        f"{'':<10} floor {floor_seconds:6.2f} s  {workload.households / floor_seconds:8,.0f} households/s  "
        f"{floor_rate:8,.0f} rows/s\n"
        f"{'':<10} ratio ours/floor (rows/s): {ours_rate / floor_rate:.2f}x   "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument(
        "--database-url",
        action="append",
        dest="urls",
        help=f"repeatable; default: a temporary SQLite file and {POSTGRES_URL}",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=ImportOptions().batch_households)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    options = ImportOptions(batch_households=args.batch_size, workers=args.workers)
    with tempfile.TemporaryDirectory(prefix="siks-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        workload = build_workload(directory, args.households, options.batch_households)
        size = workload.path.stat().st_size / 1e6
        print(
            f"{workload.households:,} households, {workload.rows:,} rows, {size:.0f} MB CSV "
            f"(generated in {time.perf_counter() - started:.1f} s); workers {options.workers}, "
            f"batch {options.batch_households:,} households, median of {args.runs}",
            flush=True,
        )
        for url in args.urls or ["sqlite", POSTGRES_URL]:
            await measure(Target(url, directory), workload, args.runs, options)


if __name__ == "__main__":
    asyncio.run(main())
