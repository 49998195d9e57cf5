"""Applying the active model: score every household in batches, then store national and regency deciles.

How a run goes, and what survives a kill:

1. A ``welfare_rank_runs`` row records the model, the region (none for a national run), the day
   ages are counted to and a keyset cursor.
2. Active households are read in id order, ``batch_size`` at a time (one grouped SELECT a batch),
   scored, and written to ``welfare_rank_scores`` together with the cursor, one transaction a
   batch. Memory stays flat whatever the registry's size.
3. When all are scored, one transaction swaps the ranking in ``welfare_ranks``: a national run
   rebuilds every rank with ``NTILE(10)`` window functions; a regional run replaces that region's
   ranks and renumbers the national deciles (only rows whose decile changed are written) and the
   regency deciles of the regencies it touched.

Until step 3 commits, ``welfare_ranks`` holds the previous complete ranking, so a killed run
never leaves a half-ranked registry. Running ``siks rank apply`` again with the same active model
and region resumes after the cursor; another model or region, or ``restart``, abandons the
unfinished run. Deciles order scores ascending (decile 1 = poorest), ties broken by household id,
so the tenths differ in size by at most one household. A regional re-rank needs the rest of the
ranking to come from the same model (scores of two models are not comparable).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import repeat
from pathlib import Path

from sqlalchemy import ColumnElement, delete, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from core.bulk.writer import insert_rows
from core.foundation.enums import RecordStatus
from core.foundation.ids import ids
from core.models import WelfareRank, WelfareRankRun, WelfareRankScore
from core.models.types import TIMESTAMP
from core.regions.codes import check_code, level_number, within
from core.regions.queries import regions_by_code
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS
from core.welfare.errors import NoActiveModel, RankingConflict, WelfareError
from core.welfare.features import FeatureFrame, feature_select, frame_from_rows
from core.welfare.model import Prediction, WelfareModel
from core.welfare.registry import ModelRecord, active_model, load_registered

RANKS = WelfareRank.__table__
RUNS = WelfareRankRun.__table__
SCORES = WelfareRankScore.__table__
SCORE_COLUMNS = ("run_id", "household_id", "score")
DEFAULT_BATCH_SIZE = 50_000
DECILES = 10
REGENCY_CODE_LENGTH = 5  # "32.01"
SORT_MEMORY = "256MB"  # PostgreSQL work_mem for the swap transaction only


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


@dataclass(slots=True)
class StepTimes:
    """Seconds spent in each step of a run (the benchmark reads them)."""

    read: float = 0.0  # waiting for the grouped SELECT and the feature frame (the next batch is read meanwhile)
    predict: float = 0.0
    write: float = 0.0  # staging the scores
    finalize: float = 0.0  # deciles and the swap

    @property
    def total(self) -> float:
        return self.read + self.predict + self.write + self.finalize


@dataclass(frozen=True, slots=True)
class ApplyReport:
    run_id: int
    model_version: str
    region_code: str | None
    households: int  # ranked by this run (including batches scored before a resume)
    resumed: bool
    unseen: dict[str, int]  # answers the model never saw in training, per feature
    times: StepTimes = field(default_factory=StepTimes)


RankingWritten = Callable[[AsyncConnection, ApplyReport], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class _Run:
    id: int
    model_version: str
    region_code: str | None
    as_of: date
    cursor: int
    scored: int
    unseen: dict[str, int]


def regency_of(village_code: ColumnElement[str]) -> ColumnElement[str]:
    return func.substr(village_code, 1, REGENCY_CODE_LENGTH)


def _scope(region_code: str | None) -> list[ColumnElement[bool]]:
    return [within(HOUSEHOLDS.c.village_code, region_code)] if region_code else []


async def _check_region(engine: AsyncEngine, region_code: str | None) -> None:
    if region_code is None:
        return
    check_code(region_code)
    async with engine.connect() as conn:
        if not await regions_by_code(conn, [region_code]):
            raise WelfareError(f"no region has code {region_code}; `siks regions load` loads the region list")


async def _ranked_versions(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(RANKS.c.model_version).distinct().limit(2))
    return [row[0] for row in rows]


async def _open_run(
    engine: AsyncEngine, record: ModelRecord, region_code: str | None, as_of: date, restart: bool
) -> tuple[_Run, bool]:
    """The unfinished run to resume, or a new one; other unfinished runs are abandoned and their scores dropped."""
    async with write_transaction(engine) as conn:
        unfinished = (await conn.execute(select(RUNS).where(RUNS.c.status == RunStatus.RUNNING.value))).mappings().all()
        for run in unfinished:
            if not restart and run["model_version"] == record.version and run["region_code"] == region_code:
                found = _Run(
                    run["id"],
                    record.version,
                    region_code,
                    run["as_of"],
                    run["last_household_id"],
                    run["households_scored"],
                    dict(run["unseen_answers"]),
                )
                return found, True
            await conn.execute(delete(SCORES).where(SCORES.c.run_id == run["id"]))
            await conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run["id"])
                .values(status=RunStatus.ABANDONED.value, finished_at=datetime.now(UTC))
            )
        run_id = ids.next_id()
        await conn.execute(
            insert(RUNS).values(
                id=run_id,
                model_version=record.version,
                region_code=region_code,
                status=RunStatus.RUNNING.value,
                as_of=as_of,
                last_household_id=0,
                households_scored=0,
                unseen_answers={},
                started_at=datetime.now(UTC),
            )
        )
    return _Run(run_id, record.version, region_code, as_of, 0, 0, {}), False


async def read_batch(
    conn: AsyncConnection, as_of: date, where: list[ColumnElement[bool]], after: int, size: int
) -> FeatureFrame:
    """The features of the next ``size`` active households after id ``after`` (keyset page)."""
    result = await conn.execute(feature_select(as_of).where(*where, HOUSEHOLDS.c.id > after).limit(size))
    return frame_from_rows(list(result.keys()), result.all())


async def _read(
    engine: AsyncEngine, as_of: date, where: list[ColumnElement[bool]], after: int, size: int
) -> FeatureFrame:
    async with engine.connect() as conn:
        return await read_batch(conn, as_of, where, after, size)


async def _stage(
    conn: AsyncConnection, run: _Run, frame: FeatureFrame, prediction: Prediction, unseen: dict[str, int]
) -> None:
    household_ids = frame.keys.tolist()
    await insert_rows(conn, SCORES, SCORE_COLUMNS, list(zip(repeat(run.id), household_ids, prediction.scores.tolist())))
    await conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run.id)
        .values(
            last_household_id=household_ids[-1],
            households_scored=RUNS.c.households_scored + len(household_ids),
            unseen_answers=unseen,
        )
    )


def _merge(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    return {name: total.get(name, 0) + more.get(name, 0) for name in {*total, *more}}


async def _count_remaining(engine: AsyncEngine, where: list[ColumnElement[bool]], after: int) -> int:
    async with engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(HOUSEHOLDS)
            .where(HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value, HOUSEHOLDS.c.id > after, *where)
        )
        return int((await conn.execute(query)).scalar_one())


def _ordered_scores() -> tuple[ColumnElement[float], ColumnElement[int]]:
    return SCORES.c.score, SCORES.c.household_id


async def _swap_national(conn: AsyncConnection, run: _Run, ranked_at: datetime) -> None:
    s, h = SCORES.c, HOUSEHOLDS.c
    order = _ordered_scores()
    ranked = (
        select(
            s.household_id,
            literal(run.model_version),
            s.score,
            func.ntile(DECILES).over(order_by=order),
            func.ntile(DECILES).over(partition_by=regency_of(h.village_code), order_by=order),
            literal(ranked_at, TIMESTAMP),
        )
        .select_from(SCORES.join(HOUSEHOLDS, h.id == s.household_id))
        .where(s.run_id == run.id, h.status == RecordStatus.ACTIVE.value)
    )
    await conn.execute(delete(RANKS))
    await conn.execute(insert(RANKS).from_select(_RANK_COLUMNS, ranked))


_RANK_COLUMNS = ["household_id", "model_version", "score", "decile", "regency_decile", "ranked_at"]


async def _swap_region(conn: AsyncConnection, run: _Run, ranked_at: datetime) -> None:
    s, h = SCORES.c, HOUSEHOLDS.c
    assert run.region_code is not None
    in_region = select(h.id).where(within(h.village_code, run.region_code))
    await conn.execute(delete(RANKS).where(RANKS.c.household_id.in_(in_region)))
    fresh = (
        select(
            s.household_id, literal(run.model_version), s.score, literal(0), literal(0), literal(ranked_at, TIMESTAMP)
        )
        .select_from(SCORES.join(HOUSEHOLDS, h.id == s.household_id))
        .where(s.run_id == run.id, h.status == RecordStatus.ACTIVE.value)
    )
    await conn.execute(insert(RANKS).from_select(_RANK_COLUMNS, fresh))
    await renumber_national(conn)
    regencies = run.region_code if level_number(run.region_code) == 1 else run.region_code[:REGENCY_CODE_LENGTH]
    await renumber_regencies(conn, regencies)


async def renumber_national(conn: AsyncConnection) -> None:
    """Recompute every national decile from the stored scores; only changed rows are written."""
    r = RANKS.c
    fresh = select(r.household_id, func.ntile(DECILES).over(order_by=(r.score, r.household_id)).label("decile"))
    fresh_sub = fresh.subquery("fresh")
    await conn.execute(
        update(RANKS)
        .where(r.household_id == fresh_sub.c.household_id, r.decile != fresh_sub.c.decile)
        .values(decile=fresh_sub.c.decile)
    )


async def renumber_regencies(conn: AsyncConnection, region_code: str) -> None:
    """Recompute the regency deciles of every regency in ``region_code`` (a province or a regency)."""
    r, h = RANKS.c, HOUSEHOLDS.c
    fresh = (
        select(
            r.household_id,
            func.ntile(DECILES)
            .over(partition_by=regency_of(h.village_code), order_by=(r.score, r.household_id))
            .label("decile"),
        )
        .select_from(RANKS.join(HOUSEHOLDS, h.id == r.household_id))
        .where(within(h.village_code, region_code))
        .subquery("fresh")
    )
    await conn.execute(
        update(RANKS)
        .where(r.household_id == fresh.c.household_id, r.regency_decile != fresh.c.decile)
        .values(regency_decile=fresh.c.decile)
    )


async def _finish(engine: AsyncEngine, run: _Run, report: ApplyReport, on_written: RankingWritten | None) -> None:
    """Swap the staged scores into the ranking and close the run, all in one transaction (with its audit)."""
    ranked_at = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":  # the two decile sorts stay in memory instead of spilling to disk
            await conn.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
        if run.region_code is None:
            await _swap_national(conn, run, ranked_at)
        else:
            await _swap_region(conn, run, ranked_at)
        await conn.execute(delete(SCORES).where(SCORES.c.run_id == run.id))
        await conn.execute(
            update(RUNS).where(RUNS.c.id == run.id).values(status=RunStatus.COMPLETED.value, finished_at=ranked_at)
        )
        if on_written is not None:
            await on_written(conn, report)


async def apply_ranking(
    engine: AsyncEngine,
    model_dir: Path,
    *,
    region_code: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    restart: bool = False,
    progress: bool = False,
    as_of: date | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_written: RankingWritten | None = None,
) -> ApplyReport:
    """Rank every active household (or those of ``region_code``) with the active model.

    ``on_batch`` is called with the number of households scored so far after each staged batch;
    ``on_written`` (the audit) inside the transaction that swaps the ranking in.
    """
    if batch_size < 1:
        raise WelfareError("the batch size must be at least 1")
    await _check_region(engine, region_code)
    async with engine.connect() as conn:
        record = await active_model(conn)
        if record is None:
            raise NoActiveModel("no welfare model is active; train one with `siks rank train` or activate one")
        ranked = await _ranked_versions(conn)
    model: WelfareModel = load_registered(model_dir, record)
    if region_code is not None and any(version != record.version for version in ranked):
        raise RankingConflict(
            f"the stored ranking comes from model {ranked[0]}, but {record.version} is active; scores of two models "
            "cannot be mixed: run a national `siks rank apply` first"
        )
    run, resumed = await _open_run(engine, record, region_code, as_of or datetime.now(UTC).date(), restart)
    where = _scope(region_code)
    times = StepTimes()
    unseen, scored = dict(run.unseen), run.scored
    total = await _count_remaining(engine, where, run.cursor)
    with tqdm(total=total, unit="hh", desc="rank", file=sys.stderr, disable=not progress) as bar:
        # The next batch is read while this one is scored and staged (the SELECT runs in the driver).
        next_read = asyncio.ensure_future(_read(engine, run.as_of, where, run.cursor, batch_size))
        try:
            while True:
                started = time.perf_counter()
                frame = await next_read
                if not len(frame):
                    break
                next_read = asyncio.ensure_future(_read(engine, run.as_of, where, int(frame.keys[-1]), batch_size))
                read = time.perf_counter()
                prediction = model.predict(frame)
                predicted = time.perf_counter()
                unseen = _merge(unseen, prediction.unseen)
                async with write_transaction(engine) as conn:
                    await _stage(conn, run, frame, prediction, unseen)
                times.read += read - started
                times.predict += predicted - read
                times.write += time.perf_counter() - predicted
                scored += len(frame)
                bar.update(len(frame))
                if on_batch is not None:
                    on_batch(scored)
        finally:  # a failed batch (or a kill) leaves no read behind
            next_read.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await next_read
    report = ApplyReport(run.id, record.version, region_code, scored, resumed, unseen, times)
    started = time.perf_counter()
    await _finish(engine, run, report, on_written)
    times.finalize = time.perf_counter() - started
    return report
