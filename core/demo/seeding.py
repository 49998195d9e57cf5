"""Writing the demo population into the database, batch by batch.

On a database without households the demo writes the population its seed gives. When households
exist already it refuses, unless ``append`` is set: then, before each batch, one grouped query per
table reads the highest NIK and KK serials in use in the batch's regencies (any status), and the
demo continues after them, so no number collides. Appending the same seed twice gives look-alike
families under new numbers; use another seed for different people.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from core.bulk.writer import insert_rows
from core.db import refresh_statistics
from core.demo.generator import DEFAULT_BATCH_SIZE, DEFAULT_SURVEY_SHARE, DemoBatch, DemoGenerator, Span
from core.demo.serials import SerialBook, taken_serials
from core.demo.villages import read_region_codes
from core.enums import RecordStatus
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.ids import ids
from core.models import Household, Member, WelfareSurvey

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
SURVEYS = WelfareSurvey.__table__
RECORD_COLUMNS = ("status", "version", "created_at", "updated_at")
HOUSEHOLD_ROW = ("id", *HOUSEHOLD_COLUMNS, *RECORD_COLUMNS)
MEMBER_ROW = ("id", "household_id", *MEMBER_COLUMNS, *RECORD_COLUMNS)
SURVEY_ROW = ("household_id", "consumption_per_capita", "survey_year")


class PopulationExists(RuntimeError):
    """The database already holds households and the caller did not ask to append."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What a demo run wrote; ``appended`` says whether households were there before it."""

    households: int
    members: int
    surveys: int
    villages: int
    seed: int
    appended: bool


def reference_date(today: date | None = None) -> date:
    """The day the population's ages refer to: 1 January of the current (survey) year."""
    return date((today or datetime.now(UTC).date()).year, 1, 1)


async def _has_households(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(HOUSEHOLDS.c.id).limit(1))).first() is not None


async def _note_taken(engine: AsyncEngine, span: Span, first_regency: int, niks: SerialBook, kks: SerialBook) -> None:
    async with engine.connect() as conn:
        niks.note_taken(await taken_serials(conn, MEMBERS.c.nik, first_regency, span.last_regency))
        kks.note_taken(await taken_serials(conn, HOUSEHOLDS.c.kk_number, first_regency, span.last_regency))


async def write_batch(conn: AsyncConnection, batch: DemoBatch, survey_year: int) -> None:
    """Insert a batch's households, members and survey labels (in the caller's transaction)."""
    now = datetime.now(UTC)
    record = (RecordStatus.ACTIVE.value, 1, now, now)
    household_ids = ids.take(batch.size)
    columns = [household_ids, *(batch.households[name] for name in HOUSEHOLD_COLUMNS)]
    households = [(*values, *record) for values in zip(*columns, strict=True)]
    await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_ROW, households)

    m = batch.members
    member_columns = [
        ids.take(len(batch.member_niks)),
        [household_ids[h] for h in m.household.tolist()],
        batch.member_niks,
        m.name,
        m.sex,
        m.birth_date,
        m.relationship,
        m.education,
        m.in_school,
        m.occupation,
        m.disability,
        m.pregnant,
    ]
    members = [(*values, *record) for values in zip(*member_columns, strict=True)]
    await insert_rows(conn, MEMBERS, MEMBER_ROW, members)

    surveyed = batch.surveyed.nonzero()[0].tolist()
    consumption = batch.consumption_per_capita.tolist()
    surveys = [(household_ids[i], consumption[i], survey_year) for i in surveyed]
    await insert_rows(conn, SURVEYS, SURVEY_ROW, surveys)


async def seed_demo(
    engine: AsyncEngine,
    households: int,
    seed: int,
    *,
    append: bool = False,
    progress: bool = True,
    survey_share: float = DEFAULT_SURVEY_SHARE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    as_of: date | None = None,
) -> DemoResult:
    """Generate and store ``households`` demo households, one transaction per batch.

    Raises PopulationExists when households exist and ``append`` is false. A batch that fails
    rolls back alone; earlier batches stay.
    """
    if households < 0:
        raise ValueError("the number of households cannot be negative")
    async with engine.connect() as conn:
        existing = await _has_households(conn)
        if existing and not append:
            raise PopulationExists(
                "the database already holds households; run the demo with --append to add households "
                "beside them, or start from an empty database"
            )
        codes = await read_region_codes(conn)
    if households == 0:
        return DemoResult(0, 0, 0, 0, seed, append)
    as_of = as_of or reference_date()
    generator = DemoGenerator(codes, households, seed, as_of=as_of, survey_share=survey_share)
    niks, kks = SerialBook("NIK"), SerialBook("KK")
    counts = {"members": 0, "surveys": 0}
    checked_through = -1
    with tqdm(total=households, unit="hh", desc="demo", file=sys.stderr, disable=not progress) as bar:
        for span in generator.spans(batch_size):
            if existing:
                await _note_taken(engine, span, max(span.first_regency, checked_through + 1), niks, kks)
                checked_through = span.last_regency
            batch = generator.generate(span, niks, kks)
            async with engine.begin() as conn:
                await write_batch(conn, batch, as_of.year)
            counts["members"] += len(batch.member_niks)
            counts["surveys"] += int(batch.surveyed.sum())
            bar.update(span.size)
    await refresh_statistics(engine)
    return DemoResult(
        households=households,
        members=counts["members"],
        surveys=counts["surveys"],
        villages=len(generator.plan.codes),
        seed=seed,
        appended=existing,
    )
