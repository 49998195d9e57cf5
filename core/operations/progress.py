"""How far the long jobs are: program cycles, welfare ranking runs, identity runs and the last import.

Read from the tables those jobs write as they go (a cycle's counts, a ranking run's keyset cursor,
an import's per-batch audit rows), so a job run by `siks` in another process, or by another server
worker, shows the same on every scrape of ``/metrics`` (``core.http.metrics``). Each figure is one
small grouped statement over a status column or an indexed audit operation; nothing reads a
household.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.models import AuditEntry, IdentityRun, ProgramCycle, WelfareRankRun

CYCLES = ProgramCycle.__table__
RANK_RUNS = WelfareRankRun.__table__
IDENTITY_RUNS = IdentityRun.__table__
AUDIT = AuditEntry.__table__
IMPORT_BATCH = "importHouseholdsBatch"  # core.bulk.importer: one audit row a committed batch
IMPORT_DONE = "importHouseholds"  # core.bulk.importer: one row when a run ends


@dataclass(frozen=True, slots=True)
class CycleProgress:
    by_status: dict[tuple[str, str], int] = field(default_factory=dict)  # (program, status) → cycles
    running_enrolled: int = 0  # enrolled so far by the cycles still running
    running_refused: int = 0


@dataclass(frozen=True, slots=True)
class RankingProgress:
    by_status: dict[str, int] = field(default_factory=dict)
    running_scored: int = 0  # households scored so far by the runs still running


@dataclass(frozen=True, slots=True)
class ImportProgress:
    batches: int = 0  # batches the newest import run has committed
    rows: int = 0  # the last file row of its newest committed batch
    loaded: int = 0  # households it loaded
    finished: bool = True  # its closing audit row is written (no run at all counts as finished)


@dataclass(frozen=True, slots=True)
class Progress:
    cycles: CycleProgress
    ranking: RankingProgress
    identity: dict[tuple[str, str], int]  # (kind, status) → runs
    last_import: ImportProgress


async def _cycles(conn: AsyncConnection) -> CycleProgress:
    grouped = select(CYCLES.c.program, CYCLES.c.status, func.count()).group_by(CYCLES.c.program, CYCLES.c.status)
    running = select(func.coalesce(func.sum(CYCLES.c.enrolled), 0), func.coalesce(func.sum(CYCLES.c.refused), 0))
    enrolled, refused = (await conn.execute(running.where(CYCLES.c.status == "running"))).one()
    return CycleProgress(
        {(program, status): int(n) for program, status, n in await conn.execute(grouped)}, int(enrolled), int(refused)
    )


async def _ranking(conn: AsyncConnection) -> RankingProgress:
    grouped = select(RANK_RUNS.c.status, func.count()).group_by(RANK_RUNS.c.status)
    scored = select(func.coalesce(func.sum(RANK_RUNS.c.households_scored), 0)).where(RANK_RUNS.c.status == "running")
    return RankingProgress(
        {status: int(n) for status, n in await conn.execute(grouped)}, int((await conn.execute(scored)).scalar_one())
    )


async def _identity(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    grouped = select(IDENTITY_RUNS.c.kind, IDENTITY_RUNS.c.status, func.count()).group_by(
        IDENTITY_RUNS.c.kind, IDENTITY_RUNS.c.status
    )
    return {(kind, status): int(n) for kind, status, n in await conn.execute(grouped)}


async def _last_import(conn: AsyncConnection) -> ImportProgress:
    """The newest import run's committed batches (``entity_id`` is ``run:batch``), from the indexed operation."""
    newest = (
        await conn.execute(
            select(AUDIT.c.entity_id).where(AUDIT.c.operation == IMPORT_BATCH).order_by(AUDIT.c.seq.desc()).limit(1)
        )
    ).scalar_one_or_none()
    if newest is None:
        return ImportProgress()
    run = newest.rsplit(":", 1)[0]
    batches = (
        await conn.execute(
            select(AUDIT.c.after).where(AUDIT.c.operation == IMPORT_BATCH, AUDIT.c.entity_id.like(f"{run}:%"))
        )
    ).scalars()
    details = [json.loads(after) for after in batches if after]
    finished = (
        await conn.execute(select(func.count()).where(AUDIT.c.operation == IMPORT_DONE, AUDIT.c.entity_id == run))
    ).scalar_one()
    return ImportProgress(
        batches=len(details),
        rows=max((int(d["rows"][1]) for d in details), default=0),
        loaded=sum(int(d["loaded"]) for d in details),
        finished=bool(finished),
    )


async def progress(conn: AsyncConnection) -> Progress:
    return Progress(await _cycles(conn), await _ranking(conn), await _identity(conn), await _last_import(conn))
