"""The per-test reset (tests/conftest.py ``clear_data``) leaves every test the same database: what one
test wrote, through any connection and in any table — a guarded child, a table added mid-session — is
gone in the next. The tests of this file run in order; each later one checks what the earlier left."""

from __future__ import annotations

from datetime import date

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.programs.cycles import CycleRecord, run_cycle
from core.storage.db import create_engine
from tests.conftest import KEPT_TABLES, clear_data
from tests.programs_support import builtin_registry, child, head, poor_household, register, row_counts
from tests.rank_support import HOUSEHOLDS, SURVEY_SHARE, restore, sample, seed_population

EXTRA = "reset_probe_extra"


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table of the database but the shared reference data, read from the database itself."""
    async with engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        return {
            table.name: (await conn.execute(text(f"SELECT count(*) FROM {table.name}"))).scalar_one()
            for table in metadata.sorted_tables
            if table.name not in KEPT_TABLES
        }


async def test_1_write_into_many_tables(db: AsyncEngine, settings: Settings) -> None:
    assert not any((await counts(db)).values())
    (family,) = await register(db, [poor_household(members=[head(), child(date(2022, 5, 1))])])
    for program, period in (("pkh", "2026-Q1"), ("bpnt", "2026-03")):  # components and disbursements
        assert isinstance(await run_cycle(db, builtin_registry(), program, period, "ID", "tester"), CycleRecord)
    counted = await row_counts(db)
    assert counted["disbursements"] and counted["enrollment_components"]
    # A table the reset has not seen before, written by a connection of another engine.
    other = create_engine(settings)
    try:
        async with other.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {EXTRA} (id INTEGER PRIMARY KEY, household_id BIGINT)"))
            await conn.execute(text(f"INSERT INTO {EXTRA} VALUES (1, {family})"))
    finally:
        await other.dispose()
    written = {name for name, rows in (await counts(db)).items() if rows}
    assert {"households", "members", "enrollments", "disbursements", "enrollment_components", EXTRA} <= written


async def test_2_the_next_test_finds_every_table_empty(db: AsyncEngine) -> None:
    left = await counts(db)
    assert EXTRA in left, "the first test of this file did not run before this one"
    assert {name: rows for name, rows in left.items() if rows} == {}
    async with db.begin() as conn:
        await conn.execute(text(f"DROP TABLE {EXTRA}"))


async def test_3_a_dropped_table_does_not_break_the_reset(db: AsyncEngine) -> None:
    left = await counts(db)
    assert EXTRA not in left
    assert {name: rows for name, rows in left.items() if rows} == {}


async def test_a_restored_demo_population_reads_as_a_freshly_seeded_one(population: AsyncEngine) -> None:
    """``population`` seeds once a session and stores the same rows again for later tests: what the
    welfare models read from it (every labelled household, its features and consumption) is the same."""
    given = await sample(population)
    await clear_data(population)
    seeded = await seed_population(population)
    fresh = await sample(population)
    await clear_data(population)
    await restore(population, seeded)
    restored = await sample(population)
    assert restored.checksum == fresh.checksum  # the same rows, household ids included
    for data in (given, restored):  # the same households as a new seeding (whose ids are new)
        assert len(data) == len(fresh) == HOUSEHOLDS * SURVEY_SHARE
        assert (data.frame.numeric == fresh.frame.numeric).all() and (data.target == fresh.target).all()
        assert all((a == b).all() for a, b in zip(data.frame.categorical, fresh.frame.categorical, strict=True))
    counted = {table.name: len(rows) for table, rows in seeded}
    assert counted["households"] == HOUSEHOLDS and counted["members"] > HOUSEHOLDS
    assert {name: rows for name, rows in (await counts(population)).items() if rows} == counted
