"""A demo run's record: what it was asked for and how far it got, so a killed run is finished, not repeated.

The row is inserted with the run's first batch and updated with each later one, in the batch's
own transaction: a run killed at any moment leaves a row that counts exactly the batches
committed, or no row when none was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.ids import ids
from core.models import DemoRun

RUNS = DemoRun.__table__


@dataclass(frozen=True, slots=True)
class RunArguments:
    """What names a run: running the demo again with the same arguments finishes it."""

    households: int
    seed: int
    batch_size: int
    survey_share: float
    append: bool

    def described(self) -> str:
        shown = f"--households {self.households} --seed {self.seed}"
        return shown + (" --append" if self.append else "")


@dataclass(frozen=True, slots=True)
class RunProgress:
    """A run as recorded: the day its ages refer to and what its committed batches wrote."""

    id: int
    arguments: RunArguments
    appended: bool  # households were in the registry when it started
    as_of: date
    batches: int = 0
    households: int = 0
    members: int = 0
    surveys: int = 0
    finished: bool = False


def _progress(row: Any) -> RunProgress:
    arguments = RunArguments(row.households, row.seed, row.batch_size, row.survey_share, row.append)
    return RunProgress(
        id=row.id,
        arguments=arguments,
        appended=row.appended,
        as_of=row.as_of,
        batches=row.batches_written,
        households=row.households_written,
        members=row.members_written,
        surveys=row.surveys_written,
        finished=row.finished_at is not None,
    )


async def latest_run(conn: AsyncConnection, arguments: RunArguments | None = None) -> RunProgress | None:
    """The newest run with these arguments (any, when None), finished or not."""
    query = select(RUNS).order_by(RUNS.c.id.desc()).limit(1)
    if arguments is not None:
        query = query.where(
            RUNS.c.households == arguments.households,
            RUNS.c.seed == arguments.seed,
            RUNS.c.batch_size == arguments.batch_size,
            RUNS.c.survey_share == arguments.survey_share,
            RUNS.c.append == arguments.append,
        )
    row = (await conn.execute(query)).first()
    return _progress(row) if row is not None else None


def new_run(arguments: RunArguments, appended: bool, as_of: date) -> RunProgress:
    """A run not yet written: its row comes with its first batch."""
    return RunProgress(ids.next_id(), arguments, appended, as_of)


async def record_batch(
    conn: AsyncConnection, run: RunProgress, households: int, members: int, surveys: int
) -> RunProgress:
    """Count one more committed batch of ``run`` in the caller's (the batch's) transaction; the run as it is now."""
    now = datetime.now(UTC)
    done = replace(
        run,
        batches=run.batches + 1,
        households=run.households + households,
        members=run.members + members,
        surveys=run.surveys + surveys,
    )
    done = replace(done, finished=done.households >= run.arguments.households)
    counts = {
        "batches_written": done.batches,
        "households_written": done.households,
        "members_written": done.members,
        "surveys_written": done.surveys,
        "finished_at": now if done.finished else None,
    }
    if run.batches == 0:
        arguments = run.arguments
        await conn.execute(
            insert(RUNS).values(
                id=run.id,
                households=arguments.households,
                seed=arguments.seed,
                batch_size=arguments.batch_size,
                survey_share=arguments.survey_share,
                append=arguments.append,
                appended=run.appended,
                as_of=run.as_of,
                started_at=now,
                **counts,
            )
        )
    else:
        await conn.execute(update(RUNS).where(RUNS.c.id == run.id).values(**counts))
    return done
