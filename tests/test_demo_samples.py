"""``siks demo`` prints real households of the registry to try the API with (the README cannot name them)."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from core.cli import app
from core.demo import seed_demo
from core.demo.samples import household_samples
from core.storage.records import HOUSEHOLDS, MEMBERS, REGIONS
from tests.factories import key_of

PRINTED = re.compile(r"household id (\S+) \(KK (\d{16})\) in (.+) (\d\d\.\d\d\.\d\d\.\d{4}): head (.+), NIK (\d{16})")


async def test_siks_demo_prints_households_that_are_in_the_database(db: AsyncEngine) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["demo", "--households", "150", "--seed", "4", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    printed = PRINTED.findall(result.output)
    assert len(printed) == 3, result.output
    async with db.connect() as conn:
        for household_id, kk, village_name, village, head, nik in printed:
            row = (
                await conn.execute(
                    select(HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.village_code, REGIONS.c.name, MEMBERS.c.name)
                    .join(MEMBERS, MEMBERS.c.household_id == HOUSEHOLDS.c.id)
                    .join(REGIONS, REGIONS.c.code == HOUSEHOLDS.c.village_code)
                    .where(
                        HOUSEHOLDS.c.id == int(key_of(household_id)),
                        MEMBERS.c.nik == nik,
                        MEMBERS.c.relationship == "head",
                    )
                )
            ).one()
            assert tuple(row) == (kk, village, village_name, head)


async def test_samples_are_the_lowest_kk_household_of_each_of_the_first_villages(db: AsyncEngine) -> None:
    await seed_demo(db, 300, 5, progress=False)
    async with db.connect() as conn:
        samples = await household_samples(conn)
        rows = (await conn.execute(select(HOUSEHOLDS.c.village_code, HOUSEHOLDS.c.kk_number))).all()
    villages = sorted({village for village, _kk in rows})[:3]
    assert [sample.village_code for sample in samples] == villages
    assert [sample.kk_number for sample in samples] == [
        min(kk for v, kk in rows if v == village) for village in villages
    ]


async def test_an_empty_registry_has_no_samples(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        assert await household_samples(conn) == []
