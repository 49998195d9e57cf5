"""The demo population: deterministic, valid, welfare-driven, unique numbers, append and CLI."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from core.cli import app
from core.demo import DemoGenerator, PopulationExists, SerialsExhausted, reference_date, seed_demo
from core.demo.serials import SerialBook
from core.demo.villages import read_region_codes
from core.foundation.enums import Education, Relationship, Sex
from core.households.data import ASSET_FIELDS, HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.households.rules import full_household_errors
from core.models import DemoRun, Household, Member, Region, WelfareSurvey
from tests.conftest import clear_data

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
SURVEYS = WelfareSurvey.__table__
POOR_FLOORS = ("earth", "bamboo", "low_quality_wood")
SCHOOL_LEVEL = {
    range(7, 13): Education.PRIMARY,
    range(13, 16): Education.JUNIOR_HIGH,
    range(16, 19): Education.SENIOR_HIGH,
}


async def clear(engine: AsyncEngine) -> None:
    await clear_data(engine)


async def population(engine: AsyncEngine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Everything generated (no ids or timestamps), in a stable order."""
    member_columns = [MEMBERS.c[name] for name in MEMBER_COLUMNS]
    async with engine.connect() as conn:
        households = (
            await conn.execute(
                select(*(HOUSEHOLDS.c[name] for name in HOUSEHOLD_COLUMNS)).order_by(HOUSEHOLDS.c.kk_number)
            )
        ).all()
        members = (
            await conn.execute(
                select(HOUSEHOLDS.c.kk_number, *member_columns)
                .join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
                .order_by(MEMBERS.c.nik)
            )
        ).all()
    return [tuple(row) for row in households], [tuple(row) for row in members]


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]


async def test_same_seed_gives_the_same_population_and_another_seed_another(db: AsyncEngine) -> None:
    first = await seed_demo(db, 300, 7, progress=False)
    households, members = await population(db)
    await clear(db)
    again = await seed_demo(db, 300, 7, progress=False)
    assert again == first
    assert await population(db) == (households, members)

    await clear(db)
    await seed_demo(db, 300, 8, progress=False)
    other_households, other_members = await population(db)
    assert len(other_households) == 300
    assert {h[0] for h in other_households} != {h[0] for h in households}
    assert len({m[1] for m in other_members} & {m[1] for m in members}) < len(members) // 10


async def test_result_counts_what_was_stored(db: AsyncEngine) -> None:
    result = await seed_demo(db, 250, 3, progress=False)
    assert result.households == await count(db, HOUSEHOLDS) == 250
    assert result.members == await count(db, MEMBERS)
    assert 3.3 < result.members / result.households < 4.8
    assert result.surveys == await count(db, SURVEYS) == 25
    assert not result.appended


async def generated(engine: AsyncEngine, households: int, seed: int) -> DemoGenerator:
    async with engine.connect() as conn:
        codes = await read_region_codes(conn)
    return DemoGenerator(codes, households, seed, as_of=reference_date())


async def test_every_generated_household_passes_the_household_rules(db: AsyncEngine) -> None:
    generator = await generated(db, 3000, 11)
    async with db.connect() as conn:
        regions = set((await conn.execute(select(Region.__table__.c.code))).scalars())
    niks, kks = SerialBook("NIK"), SerialBook("KK")
    checked = 0
    for span in generator.spans(1000):
        for household in generator.generate(span, niks, kks).household_data():
            assert full_household_errors(household, regions.__contains__, date.today()) == [], household
            checked += 1
    assert checked == 3000


async def test_members_are_plausible_families(db: AsyncEngine) -> None:
    generator = await generated(db, 2000, 5)
    batch = generator.generate(next(iter(generator.spans())), SerialBook("NIK"), SerialBook("KK"))
    as_of = generator.as_of
    relationships: Counter[Relationship] = Counter()
    for household in batch.household_data():
        head = household.members[0]
        assert head.relationship is Relationship.HEAD and as_of.year - head.birth_date.year >= 20
        assert household.kk_number[:6] == household.village_code[:8].replace(".", "")
        for member in household.members:
            relationships[member.relationship] += 1
            born = member.birth_date
            age = as_of.year - born.year - ((born.month, born.day) > (as_of.month, as_of.day))
            assert member.nik[:4] == household.village_code[:5].replace(".", ""), "NIK from another regency"
            if member.pregnant:
                assert member.sex is Sex.FEMALE and 15 <= age <= 49
            if member.relationship is Relationship.CHILD:
                assert age <= as_of.year - head.birth_date.year - 15
            for ages, level in SCHOOL_LEVEL.items():
                if age in ages and member.in_school:
                    assert member.education is level, (age, member)
            if age < 7:
                assert member.education is Education.NONE and not member.in_school
    assert relationships[Relationship.SPOUSE] > 0.6 * len(batch.household_data())
    for kind in (Relationship.CHILD, Relationship.PARENT, Relationship.GRANDCHILD, Relationship.CHILD_IN_LAW):
        assert relationships[kind] > 0
    assert any(batch.members.pregnant)
    assert Counter(batch.members.disability)["severe"] > 0
    assert len(set(batch.members.occupation)) >= 9
    assert len(set(batch.members.name)) > len(batch.members.name) // 4


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rank_x, rank_y = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rank_x, rank_y)[0, 1])


async def test_surveyed_consumption_ranks_housing_and_assets(db: AsyncEngine) -> None:
    await seed_demo(db, 4000, 9, progress=False)
    assets = sum(HOUSEHOLDS.c[name].cast(HOUSEHOLDS.c.livestock_count.type) for name in ASSET_FIELDS)
    size = select(func.count()).where(MEMBERS.c.household_id == HOUSEHOLDS.c.id).scalar_subquery()
    query = select(SURVEYS.c.consumption_per_capita, HOUSEHOLDS.c.floor_material, assets, size).join(
        HOUSEHOLDS, HOUSEHOLDS.c.id == SURVEYS.c.household_id
    )
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    consumption = np.array([r[0] for r in rows])
    poor_floor = np.array([r[1] in POOR_FLOORS for r in rows])
    asset_count = np.array([r[2] for r in rows], dtype=float)
    members = np.array([r[3] for r in rows], dtype=float)
    low, high = np.quantile(consumption, [0.2, 0.8])
    poorest, richest = consumption <= low, consumption >= high
    assert poor_floor[poorest].mean() > poor_floor[richest].mean() + 0.2
    assert asset_count[poorest].mean() < asset_count[richest].mean() - 1.5
    assert members[poorest].mean() > members[richest].mean() + 0.5
    assert spearman(consumption, asset_count) > 0.45


async def test_a_tenth_of_households_carry_a_survey_label(db: AsyncEngine) -> None:
    await seed_demo(db, 2000, 4, progress=False)
    async with db.connect() as conn:
        years = set((await conn.execute(select(SURVEYS.c.survey_year))).scalars())
        low, high = (
            await conn.execute(
                select(func.min(SURVEYS.c.consumption_per_capita), func.max(SURVEYS.c.consumption_per_capita))
            )
        ).one()
    assert await count(db, SURVEYS) == 200
    assert years == {reference_date().year}
    assert 50_000 < low < 550_000 < high < 50_000_000  # Rupiah per person per month, some below the poverty line


async def test_numbers_are_unique_and_follow_the_region(db: AsyncEngine) -> None:
    await seed_demo(db, 1500, 6, progress=False)
    async with db.connect() as conn:
        kks = (await conn.execute(select(HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.village_code))).all()
        niks = (await conn.execute(select(MEMBERS.c.nik))).scalars().all()
    assert len({kk for kk, _ in kks}) == len(kks) == 1500
    assert len(set(niks)) == len(niks)
    assert all(kk[:6] == village[:8].replace(".", "") for kk, village in kks)
    assert all(nik[12:] != "0000" and len(nik) == 16 for nik in niks)


async def test_refuses_a_registry_with_households_unless_appending(db: AsyncEngine) -> None:
    await seed_demo(db, 200, 3, progress=False)
    before = await population(db)
    with pytest.raises(PopulationExists, match="--append"):
        await seed_demo(db, 200, 4, progress=False)
    assert await population(db) == before
    again = await seed_demo(db, 200, 3, progress=False)  # the same run again: it is complete
    assert (again.households, again.written) == (200, 0)
    assert await population(db) == before

    result = await seed_demo(db, 200, 3, append=True, progress=False)
    assert result.appended and result.households == 200
    households, members = await population(db)
    assert len(households) == 400 and len({h[0] for h in households}) == 400
    assert len({m[1] for m in members}) == len(members)
    # The same seed draws the same families, so every prefix collides: serials continue after those in use.
    first_kks = {h[0] for h in before[0]}
    assert all(int(h[0][12:]) >= 2 for h in households if h[0] not in first_kks)
    names_before = Counter(m[2] for m in before[1])
    assert Counter(m[2] for m in members) == Counter({name: 2 * n for name, n in names_before.items()})


def test_serial_book_continues_after_taken_numbers_and_stops_at_9999() -> None:
    book = SerialBook("NIK")
    prefix = 320101_170580
    book.note_taken([(prefix, 41)])
    assert book.assign(np.array([prefix, 320101_170581, prefix])).tolist() == [42, 1, 43]
    book.close_regencies_before(3202)
    assert book.assign(np.array([prefix])).tolist() == [1]
    book.note_taken([(prefix, 9999)])
    with pytest.raises(SerialsExhausted, match="0001-9999"):
        book.assign(np.array([prefix]))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["demo", *args, "--no-progress"])


async def test_cli_seeds_refuses_and_appends(db: AsyncEngine) -> None:
    result = await asyncio.to_thread(invoke, "--households", "120", "--seed", "2")
    assert result.exit_code == 0, result.output
    assert "demo: 120 households" in result.output
    refused = await asyncio.to_thread(invoke, "--households", "120")
    assert refused.exit_code == 2
    assert "--append" in refused.output
    appended = await asyncio.to_thread(invoke, "--households", "30", "--seed", "5", "--append")
    assert appended.exit_code == 0, appended.output
    assert await count(db, HOUSEHOLDS) == 150


# Finding 12d: a killed demo is finished by running it again


def _siks() -> list[str]:
    found = shutil.which("siks", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "core.cli"]


async def _kill_after_first_batch(engine: AsyncEngine, arguments: list[str], before: int) -> None:
    """Start ``siks demo`` and SIGKILL it as soon as it has committed a batch (seen by polling the database)."""
    process = subprocess.Popen(
        [*_siks(), "demo", *arguments, "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while await count(engine, HOUSEHOLDS) == before and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert process.poll() is None, "the demo ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("append", [False, True], ids=["new", "append"])
async def test_finding_12d_a_killed_demo_is_finished_by_running_it_again_with_the_same_arguments(
    db: AsyncEngine, append: bool
) -> None:
    total, batch, seed = 2000, 20, 5
    before = (await seed_demo(db, 100, 9, progress=False)).households if append else 0
    arguments = ["--households", str(total), "--seed", str(seed), "--batch-size", str(batch)]
    arguments += ["--append"] if append else []
    await _kill_after_first_batch(db, arguments, before)
    committed = await count(db, HOUSEHOLDS) - before
    assert 0 < committed < total
    assert committed % batch == 0, "a killed demo leaves whole batches only"
    async with db.connect() as conn:
        (run,) = (await conn.execute(select(DemoRun.__table__).where(DemoRun.__table__.c.seed == seed))).all()
    assert (run.batches_written, run.households_written, run.finished_at) == (committed // batch, committed, None)
    if not append:
        refused = await asyncio.to_thread(invoke, "--households", str(total), "--seed", "6")
        assert refused.exit_code == 2
        assert f"the demo run with --households {total} --seed {seed} --batch-size {batch} stopped after" in (
            refused.output
        )

    resumed = await asyncio.to_thread(invoke, *arguments)

    assert resumed.exit_code == 0, resumed.output
    assert f"demo: {total} households" in resumed.output
    assert f"finished a stopped run: {total - committed} households written now" in resumed.output
    assert await count(db, HOUSEHOLDS) == before + total
    households, members = await population(db)
    assert len({h[0] for h in households}) == len(households) and len({m[1] for m in members}) == len(members)
    if not append:  # the run is complete: asked again, it writes nothing
        again = await asyncio.to_thread(invoke, *arguments)
        assert again.exit_code == 0 and "complete already, nothing written" in again.output, again.output
        assert await count(db, HOUSEHOLDS) == total
        await clear(db)  # the population of a run that never stopped is the same, number for number
        await seed_demo(db, total, seed, progress=False, batch_size=batch)
        assert await population(db) == (households, members)
