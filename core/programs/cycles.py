"""Program cycles: preview, run and approve one program for one period over one region.

A run is one write transaction: it claims the cycle row (unique per program, period and
region), computes the selection set-based (``core.programs.selection``), and writes enrollments,
their components (of an itemised benefit), one disbursement per enrollment and stage
(``pending``) and the refused double recipients with their reasons, each as a single
``INSERT … SELECT``. A second run of the same cycle changes nothing and says it already ran;
two runs at once queue on a lock and the later one gets the same refusal. Approval turns a
completed cycle's pending disbursements into released ones. The ``siks_cycle_run`` and
``siks_cycle_approved`` hooks are called after the run or approval commits
(``core.programs.events``): a plugin that fails there is logged and audited and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    String,
    Table,
    cast,
    distinct,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo
from core.foundation.enums import ProgramCycleStatus
from core.foundation.ids import ids
from core.foundation.refusals import Invalid, Missing
from core.models import CycleRefusal, Disbursement, Enrollment, EnrollmentComponent, ProgramCycle
from core.models.types import TIMESTAMP
from core.programs.events import notify
from core.programs.periods import parse_period
from core.programs.registry import ProgramRegistry
from core.programs.scope import ProgramScope, check_scope
from core.programs.selection import Selection, drop_work_tables, select_households
from core.regions.codes import region_within
from core.storage.db import write_transaction
from core.storage.locks import queue_behind

CYCLES = ProgramCycle.__table__
ENROLLMENTS = Enrollment.__table__
COMPONENTS = EnrollmentComponent.__table__
DISBURSEMENTS = Disbursement.__table__
REFUSALS = CycleRefusal.__table__

RUNNING, COMPLETED, APPROVED = (status.value for status in ProgramCycleStatus)
PENDING, RELEASED = "pending", "released"
#: PostgreSQL advisory lock held by every cycle run for its transaction: runs queue, so exclusions
#: and quotas always see the enrollments of the run before, and id ranges never interleave.
CYCLE_LOCK = 0x5349_4B53_0001
#: Enrollments a run must write before it refreshes the written tables' statistics (PostgreSQL).
ANALYZE_AFTER = 10_000


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """A program cycle as stored (``program_cycles``)."""

    id: int
    program: str
    period: str
    region_code: str
    status: str
    enrolled: int
    refused: int
    total_amount: int
    started_at: datetime
    finished_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    run_by: str


@dataclass(frozen=True, slots=True)
class CycleRefused:
    """Nothing was written: the cycle already ran, another write held the database, or its state forbids it."""

    message: str
    cycle: CycleRecord | None = None


_CYCLE_COLUMNS = [CYCLES.c[f.name] for f in fields(CycleRecord)]


class _Refused(Exception):
    """Carries a refusal out of the transaction block, so the block rolls back."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(scope: ProgramScope) -> str:
    return f"{scope.program.slug.upper()} {scope.period.label} for region {scope.region_code}"


async def cycle_by_id(conn: AsyncConnection, cycle_id: int) -> CycleRecord | None:
    row = (await conn.execute(select(*_CYCLE_COLUMNS).where(CYCLES.c.id == cycle_id))).first()
    return CycleRecord(*row) if row else None


async def cycles_by_id(conn: AsyncConnection, cycle_ids: Sequence[int], scope: str) -> dict[int, CycleRecord]:
    """Cycles by id over a region within ``scope`` (a national cycle only for national callers); one statement."""
    if not cycle_ids:
        return {}
    rows = await conn.execute(select(*_CYCLE_COLUMNS).where(CYCLES.c.id.in_(list(set(cycle_ids)))))
    records = (CycleRecord(*row) for row in rows)
    return {r.id: r for r in records if region_within(r.region_code, scope)}


async def cycle_of(conn: AsyncConnection, scope: ProgramScope) -> CycleRecord | None:
    """The cycle of this program, period and region, if it ran."""
    row = (
        await conn.execute(
            select(*_CYCLE_COLUMNS).where(
                CYCLES.c.program == scope.program.slug,
                CYCLES.c.period == scope.period.label,
                CYCLES.c.region_code == scope.region_code,
            )
        )
    ).first()
    return CycleRecord(*row) if row else None


async def _id_base(conn: AsyncConnection, table: Table) -> int:
    """The id before a block of new rows: after every id in the table and after the allocator's clock.

    Runs are serialised (SQLite's write lock, PostgreSQL's advisory lock), so no other run
    takes ids from the same table while this block is written.
    """
    highest = (await conn.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
    return max(ids.next_id(), int(highest) + 1)


def _bigint(value: int) -> Any:
    return literal(value, BigInteger)


async def _write_enrollments(conn: AsyncConnection, selection: Selection, cycle_id: int, now: datetime) -> int:
    """Enrollments, components and disbursements of the selected households; returns the enrollment id base."""
    scope, chosen = selection.scope, selection.tables.selected
    program, period = scope.program, scope.period
    base = await _id_base(conn, ENROLLMENTS)
    enrollment_id = _bigint(base) + chosen.c.ordinal
    await conn.execute(
        insert(ENROLLMENTS).from_select(
            [
                "id",
                "cycle_id",
                "program",
                "period",
                "period_start",
                "period_end",
                "household_id",
                "village_code",
                "amount",
                "status",
                "created_at",
            ],  # fmt: skip
            select(
                enrollment_id,
                _bigint(cycle_id),
                literal(program.slug, String),
                literal(period.label, String),
                literal(period.start, Date),
                literal(period.end, Date),
                chosen.c.household_id,
                chosen.c.village_code,
                chosen.c.amount,
                literal("enrolled", String),
                literal(now, TIMESTAMP),
            ),
        )
    )
    if program.benefit.itemised:
        await _write_components(conn, selection, base)
    await _write_disbursements(conn, selection, base, now)
    return base


async def _write_components(conn: AsyncConnection, selection: Selection, enrollment_base: int) -> None:
    """The selected households' benefit components, under their enrollments."""
    chosen, parts = selection.tables.selected, selection.tables.components
    await conn.execute(
        insert(COMPONENTS).from_select(
            ["enrollment_id", "line", "member_id", "component", "amount"],
            select(
                _bigint(enrollment_base) + chosen.c.ordinal,
                parts.c.line,
                parts.c.member_id,
                parts.c.component,
                parts.c.amount,
            ).select_from(parts.join(chosen, chosen.c.household_id == parts.c.household_id)),
        )
    )


async def _write_disbursements(
    conn: AsyncConnection, selection: Selection, enrollment_base: int, now: datetime
) -> None:
    """One pending disbursement per enrollment and stage; stage amounts add up to the enrollment's exactly."""
    scope, chosen = selection.scope, selection.tables.selected
    count = scope.program.stages
    stages = union_all(*(select(literal(n, Integer).label("stage")) for n in range(1, count + 1))).subquery("stages")
    stage = stages.c.stage
    enrollment_id = _bigint(enrollment_base) + chosen.c.ordinal
    amount = (
        chosen.c.amount if count == 1 else chosen.c.amount * stage // count - chosen.c.amount * (stage - 1) // count
    )
    prefix = f"{scope.program.slug.upper()[:8]}-{scope.period.label.replace('-', '')}-"
    reference = literal(prefix, String) + cast(enrollment_id, String) + "-" + cast(stage, String)
    base = await _id_base(conn, DISBURSEMENTS)
    await conn.execute(
        insert(DISBURSEMENTS).from_select(
            [
                "id",
                "enrollment_id",
                "program",
                "period",
                "village_code",
                "stage",
                "amount",
                "channel",
                "reference",
                "account_reference",
                "status",
                "updated_at",
                "version",
            ],  # fmt: skip
            select(
                _bigint(base) + (chosen.c.ordinal - 1) * count + stage,
                enrollment_id,
                literal(scope.program.slug, String),
                literal(scope.period.label, String),
                chosen.c.village_code,
                stage,
                amount,
                literal(scope.program.channel, String),
                reference,
                literal(None, String),
                literal(PENDING, String),
                literal(now, TIMESTAMP),
                literal(1, Integer),
            ).select_from(chosen.join(stages, true())),
        )
    )


async def _write_refusals(conn: AsyncConnection, selection: Selection, cycle_id: int) -> None:
    refusals = selection.tables.refusals
    base = await _id_base(conn, REFUSALS)
    place = func.row_number().over()
    await conn.execute(
        insert(REFUSALS).from_select(
            ["id", "cycle_id", "household_id", "reason"],
            select(_bigint(base) + place, _bigint(cycle_id), refusals.c.household_id, refusals.c.reason),
        )
    )


async def _serialise_runs(conn: AsyncConnection) -> None:
    """Queue behind any other cycle run."""
    await queue_behind(conn, CYCLE_LOCK)


async def _run_in(
    conn: AsyncConnection, registry: ProgramRegistry, program: str, period: str, region_code: str, actor: str
) -> tuple[CycleRecord, ProgramScope]:
    scope = await check_scope(conn, registry, program, period, region_code)
    if isinstance(scope, Invalid):
        raise _Refused(scope)
    await _serialise_runs(conn)
    existing = await cycle_of(conn, scope)
    if existing is not None:
        raise _Refused(
            CycleRefused(
                f"{_describe(scope)} already ran as cycle {existing.id} ({existing.status}); nothing was changed",
                existing,
            )
        )
    cycle_id, started = ids.next_id(), _now()
    await conn.execute(
        insert(CYCLES).values(
            id=cycle_id,
            program=scope.program.slug,
            period=scope.period.label,
            region_code=scope.region_code,
            status=RUNNING,
            enrolled=0,
            refused=0,
            total_amount=0,
            started_at=started,
            run_by=actor[:64],
        )
    )
    selection = await select_households(conn, registry, scope)
    await _write_enrollments(conn, selection, cycle_id, started)
    await _write_refusals(conn, selection, cycle_id)
    tables = selection.tables
    enrolled, total = (
        await conn.execute(select(func.count(), func.coalesce(func.sum(tables.selected.c.amount), 0)))
    ).one()
    refused = (await conn.execute(select(func.count(distinct(tables.refusals.c.household_id))))).scalar_one()
    await conn.execute(
        update(CYCLES)
        .where(CYCLES.c.id == cycle_id)
        .values(status=COMPLETED, enrolled=enrolled, refused=refused, total_amount=total, finished_at=_now())
    )
    await drop_work_tables(conn, selection)
    if conn.dialect.name == "postgresql" and enrolled >= ANALYZE_AFTER:
        # Statistics for the rows just written, so the next statements (approval, reconciliation)
        # are planned for their real size even where autovacuum lags or is off.
        written = (
            (ENROLLMENTS, COMPONENTS, DISBURSEMENTS) if scope.program.benefit.itemised else (ENROLLMENTS, DISBURSEMENTS)
        )
        for table in written:
            await conn.execute(text(f"ANALYZE {table.name}"))
    record = await cycle_by_id(conn, cycle_id)
    assert record is not None
    return record, scope


OnWritten = Callable[[AsyncConnection, "CycleRecord"], Awaitable[object]]


async def run_cycle(
    engine: AsyncEngine,
    registry: ProgramRegistry,
    program: str,
    period: str,
    region_code: str,
    actor: str,
    on_written: OnWritten | None = None,
    request_info: RequestInfo | None = None,
) -> CycleRecord | CycleRefused | Invalid:
    """Run a cycle in one write transaction; every refusal writes nothing.

    ``on_written`` runs inside that transaction after the cycle's rows are written (the audit). Once it
    has committed, the registry's plugins are told (``siks_cycle_run``); their failures, audited as
    ``request_info``'s, never undo or fail the run.
    """
    try:
        async with write_transaction(engine) as conn:
            record, scope = await _run_in(conn, registry, program, period, region_code, actor)
            if on_written is not None:
                await on_written(conn, record)
    except _Refused as refused:
        return refused.outcome  # type: ignore[return-value]
    except IntegrityError:
        return CycleRefused(
            f"{program.upper()} {period} for region {region_code} was run by someone else at the same moment; "
            "nothing was written by this run"
        )
    except OperationalError as exc:
        if "database is locked" not in str(exc):
            raise
        return CycleRefused(
            "another write (perhaps another cycle) held the database too long; nothing was written, "
            "try again when it finishes"
        )
    await notify(
        registry,
        "siks_cycle_run",
        engine=engine,
        request_info=request_info,
        program=scope.program,
        period=scope.period,
        region_code=scope.region_code,
        enrolled=record.enrolled,
        cycle_id=record.id,
    )
    return record


async def approve_cycle(
    engine: AsyncEngine,
    cycle_id: int,
    actor: str,
    scope: str = "",
    on_written: OnWritten | None = None,
    *,
    registry: ProgramRegistry | None = None,
    request_info: RequestInfo | None = None,
) -> CycleRecord | CycleRefused | Missing:
    """Approve a completed cycle and release its pending disbursements; any other state is refused.

    A cycle over a region outside ``scope`` is not found; ``on_written`` runs inside the transaction.
    Once it has committed, ``registry``'s plugins are told (``siks_cycle_approved``) if the cycle's
    program is among them; their failures never undo or fail the approval.
    """
    async with write_transaction(engine) as conn:
        if scope:
            target = await cycle_by_id(conn, cycle_id)
            if target is None or not region_within(target.region_code, scope):
                return Missing("program cycle", str(cycle_id))
        now = _now()
        claimed = await conn.execute(
            update(CYCLES)
            .where(CYCLES.c.id == cycle_id, CYCLES.c.status == COMPLETED)
            .values(status=APPROVED, approved_at=now, approved_by=actor[:64])
        )
        if not claimed.rowcount:
            current = await cycle_by_id(conn, cycle_id)
            if current is None:
                return Missing("program cycle", str(cycle_id))
            if current.status == APPROVED:
                message = f"cycle {cycle_id} was already approved by {current.approved_by} at {current.approved_at}"
            else:
                message = f"cycle {cycle_id} is {current.status}; only a completed cycle can be approved"
            return CycleRefused(message, current)
        await conn.execute(
            update(DISBURSEMENTS)
            .where(
                DISBURSEMENTS.c.status == PENDING,
                DISBURSEMENTS.c.enrollment_id.in_(select(ENROLLMENTS.c.id).where(ENROLLMENTS.c.cycle_id == cycle_id)),
            )
            .values(status=RELEASED, updated_at=now, version=DISBURSEMENTS.c.version + 1)
        )
        record = await cycle_by_id(conn, cycle_id)
        assert record is not None
        if on_written is not None:
            await on_written(conn, record)
    program = registry.programs.get(record.program) if registry is not None else None
    if registry is not None and program is not None:
        await notify(
            registry,
            "siks_cycle_approved",
            engine=engine,
            request_info=request_info,
            program=program,
            period=parse_period(record.period, program.period_kind),
            region_code=record.region_code,
            cycle_id=record.id,
            approved_by=record.approved_by or actor,
        )
    return record
