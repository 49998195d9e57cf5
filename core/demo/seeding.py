"""Writing the demo population into the database, batch by batch.

On a database without households the demo writes the population its seed gives. When households
exist already it refuses, unless ``append`` is set: then, before each batch, one grouped query per
table reads the highest NIK and KK serials in use in the batch's regencies (any status), and the
demo continues after them, so no number collides. Appending the same seed twice gives look-alike
families under new numbers; use another seed for different people.

Each run is recorded in ``demo_runs`` with its batches (``core.demo.runs``). Run again with the
same arguments, a run that was killed skips the batches it committed and writes the rest, reading
the serials in use as an append does: a run that started on an empty database ends exactly as if
it had never stopped, with the same households and numbers. A finished run asked for again (not
appending) writes nothing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from core.bulk.writer import insert_rows
from core.demo.generator import DEFAULT_BATCH_SIZE, DEFAULT_SURVEY_SHARE, DemoBatch, DemoGenerator, Span
from core.demo.runs import RunArguments, RunProgress, latest_run, new_run, record_batch
from core.demo.serials import SerialBook, taken_serials
from core.demo.villages import read_region_codes
from core.foundation.enums import RecordStatus
from core.foundation.ids import ids
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.models import Household, Member, WelfareSurvey
from core.storage.db import refresh_statistics, write_transaction

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
    """What a demo run wrote, with the batches an earlier, stopped attempt of it wrote; ``appended`` says
    whether households were there before it, ``written`` how many households this call wrote."""

    households: int
    members: int
    surveys: int
    villages: int
    seed: int
    appended: bool
    written: int = 0


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


def _refusal(latest: RunProgress | None) -> str:
    message = (
        "the database already holds households; run the demo with --append to add households beside them, "
        "or start from an empty database"
    )
    if latest is not None and not latest.finished:
        arguments = latest.arguments
        batch = f" --batch-size {arguments.batch_size}" if arguments.batch_size != DEFAULT_BATCH_SIZE else ""
        message += (
            f"; the demo run with {arguments.described()}{batch} stopped after {latest.households:,} of its "
            "households: run it again with those arguments to finish it"
        )
    return message


async def _run_to_continue(conn: AsyncConnection, arguments: RunArguments, as_of: date | None) -> RunProgress | None:
    """The run these arguments ask to finish (or that is finished already), if the registry holds one."""
    run = await latest_run(conn, arguments)
    if run is None or (as_of is not None and run.as_of != as_of):
        return None
    if run.finished and arguments.append:  # appending again adds households again
        return None
    return run


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

    Raises PopulationExists when households exist and ``append`` is false, unless they include a
    run with the same arguments: an unfinished one is finished (the batches it committed are
    skipped), a finished one is left as it is. A batch that fails rolls back alone; earlier
    batches stay, and running again with the same arguments continues after them.
    """
    if households < 0:
        raise ValueError("the number of households cannot be negative")
    arguments = RunArguments(households, seed, batch_size, survey_share, append)
    async with engine.connect() as conn:
        existing = await _has_households(conn)
        run = await _run_to_continue(conn, arguments, as_of) if existing else None
        if existing and run is None and not append:
            raise PopulationExists(_refusal(await latest_run(conn)))
        codes = await read_region_codes(conn)
    if households == 0:
        return DemoResult(0, 0, 0, 0, seed, append)
    run = run or new_run(arguments, existing, as_of or reference_date())
    generator = DemoGenerator(codes, households, seed, as_of=run.as_of, survey_share=survey_share)
    earlier = run.households
    niks, kks = SerialBook("NIK"), SerialBook("KK")
    checked_through = -1
    with tqdm(total=households, initial=earlier, unit="hh", desc="demo", file=sys.stderr, disable=not progress) as bar:
        for span in generator.spans(batch_size):
            if span.index < run.batches:
                continue  # committed by an earlier attempt of this run
            if existing:
                await _note_taken(engine, span, max(span.first_regency, checked_through + 1), niks, kks)
                checked_through = span.last_regency
            batch = generator.generate(span, niks, kks)
            async with write_transaction(engine) as conn:
                await write_batch(conn, batch, run.as_of.year)
                run = await record_batch(conn, run, batch.size, len(batch.member_niks), int(batch.surveyed.sum()))
            bar.update(span.size)
    if run.households > earlier:
        await refresh_statistics(engine)
    return DemoResult(
        households=run.households,
        members=run.members,
        surveys=run.surveys,
        villages=len(generator.plan.codes),
        seed=seed,
        appended=run.appended,
        written=run.households - earlier,
    )
