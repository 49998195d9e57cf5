"""GraphQL: program cycles (preview, run, approve) and quotas. Resolvers map outcomes; the rules
live in ``core.programs.cycles``, ``core.programs.preview`` and ``core.programs.quotas``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.audit.log import record as record_audit
from core.foundation.refusals import Invalid, Missing
from core.programs import cycles, preview, quotas
from core.programs.scope import NATIONAL
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import parse_id
from core.schema.authorization import field_reads, guarded
from core.schema.context import Context
from core.schema.errors import Error, ErrorCode, NotFound, ValidationError, coded
from core.schema.global_ids import global_id
from core.schema.node import Node, by_row_id, fetched_by
from core.schema.writes import as_error, check_allowed, run_write

#: Who runs and approves through the API, until access control names the operator.
REGION_CODE = "Dotted Kemendagri code of the region, or ID for all of Indonesia."
PERIOD = "The program's period: YYYY-MM for monthly programs (BPNT, BST), YYYY-Qn for PKH."


@fetched_by(by_row_id(cycles.cycles_by_id))
@guarded("cycle")
@strawberry.type(description="One program for one period over one region; approved before payments are released.")
class ProgramCycle(Node):
    id: strawberry.ID = global_id("ProgramCycle")
    program: str
    period: str
    region_code: str
    status: str = strawberry.field(
        description="completed, then approved.",
        deprecation_reason="The stored spelling: read cycleStatus, an enum as the rest of the API spells it.",
    )
    cycle_status: enums.ProgramCycleStatus = enums.enum_twin(
        enums.ProgramCycleStatus, "status", "Where the cycle stands: RUNNING, COMPLETED, then APPROVED."
    )
    enrolled: int = strawberry.field(description="Households enrolled by this cycle.")
    refused: int = strawberry.field(description="Eligible households refused as double recipients.")
    total_amount: float = strawberry.field(description="Rupiah for all enrollments of the cycle.")
    started_at: datetime
    finished_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    run_by: str

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, cycles.CycleRecord)


@guarded("cycle")
@strawberry.type(
    description="Nothing was written: the cycle already ran, the database was busy, or its state forbids it."
)
class CycleRefused(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.CYCLE_REFUSED)
    cycle: ProgramCycle | None = strawberry.field(description="The cycle as it stands, when there is one.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, cycles.CycleRefused)


@guarded("cycle")
@strawberry.type(description="What a cycle would do in one region.")
class CyclePreviewRegion:
    region_code: str
    name: str
    eligible: int = strawberry.field(description="Households passing the program's rules, not yet enrolled.")
    quota: int | None = strawberry.field(description="Sum of the quotas inside the region; null without quotas.")
    would_enrol: int
    refused: int = strawberry.field(description="Eligible households a run would refuse as double recipients.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, preview.RegionCount)


@guarded("cycle")
@strawberry.type(description="What running a cycle would do, per region one level down; nothing was written.")
class CyclePreview:
    program: str
    period: str
    region_code: str
    total: CyclePreviewRegion
    regions: list[CyclePreviewRegion]
    cycle: ProgramCycle | None = strawberry.field(description="The cycle, if it already ran.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, preview.CyclePreview)


@guarded("quota")
@strawberry.type(description="How many households a program may enrol in a region for a period.")
class ProgramQuota:
    program: str
    period: str
    region_code: str
    quota: int | None = strawberry.field(description="Null once cleared.")
    updated_at: datetime | None

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, quotas.Quota)


CyclePreviewResult = Annotated[
    CyclePreview | ValidationError,
    strawberry.union("CyclePreviewResult", description="The preview, or what was wrong with the arguments."),
]
RunProgramCycleResult = Annotated[
    ProgramCycle | CycleRefused | ValidationError,
    strawberry.union("RunProgramCycleResult", description="The completed cycle, or why nothing was written."),
]
ApproveProgramCycleResult = Annotated[
    ProgramCycle | CycleRefused | NotFound,
    strawberry.union("ApproveProgramCycleResult", description="The approved cycle, or why nothing changed."),
]
SetProgramQuotaResult = Annotated[
    ProgramQuota | ValidationError,
    strawberry.union("SetProgramQuotaResult", description="The quota as stored, or what was wrong."),
]


def _region(region_code: str) -> str:
    """The region a cycle or quota covers, as the access check sees it ('' for all of Indonesia)."""
    return "" if region_code == NATIONAL else region_code


@strawberry.type
class CycleQuery:
    @strawberry.field(
        description="Counts per region of what runProgramCycle would do, without writing anything.",
        metadata=field_reads("cycle"),  # its answer may be a ValidationError, which needs nothing of its own
    )
    async def program_cycle_preview(
        self,
        info: Info[Context, None],
        program: str,
        period: Annotated[str, strawberry.argument(description=PERIOD)],
        region_code: Annotated[str, strawberry.argument(description=REGION_CODE)],
    ) -> CyclePreviewResult:
        require(info.context, "cycle", "read", _region(region_code))
        outcome = await preview.preview_cycle(info.context.engine, info.context.registry, program, period, region_code)
        return as_error(outcome)  # type: ignore[return-value]


@strawberry.type
class CycleMutation:
    @strawberry.mutation(
        description="Enrol the eligible households of a region for a program and period, poorest first within "
        "quotas, refusing double recipients; writes enrollments and pending disbursements in one transaction."
    )
    async def run_program_cycle(
        self,
        info: Info[Context, None],
        program: str,
        period: Annotated[str, strawberry.argument(description=PERIOD)],
        region_code: Annotated[str, strawberry.argument(description=REGION_CODE)],
    ) -> RunProgramCycleResult:
        context = info.context
        region = _region(region_code)
        await check_allowed(info, "runProgramCycle", "cycle", "run", region, target=region or "-")

        async def audit(conn: AsyncConnection, record: object) -> None:
            await record_audit(
                conn,
                context.request_info,
                operation="runProgramCycle",
                entity="program_cycle",
                entity_id=record.id,
                after=record,
            )  # type: ignore[attr-defined]

        outcome = await cycles.run_cycle(
            context.engine,
            context.registry,
            program,
            period,
            region_code,
            context.principal.username,
            audit,
            request_info=context.request_info,
        )
        return as_error(outcome)  # type: ignore[return-value]

    @strawberry.mutation(description="Approve a completed cycle: its pending disbursements are released.")
    async def approve_program_cycle(
        self, info: Info[Context, None], cycle_id: strawberry.ID
    ) -> ApproveProgramCycleResult:
        context = info.context
        await check_allowed(info, "approveProgramCycle", "cycle", "approve")

        async def audit(conn: AsyncConnection, record: object) -> None:
            await record_audit(
                conn,
                context.request_info,
                operation="approveProgramCycle",
                entity="program_cycle",
                entity_id=record.id,
                after=record,
            )  # type: ignore[attr-defined]

        outcome = await cycles.approve_cycle(
            context.engine,
            parse_id(cycle_id, "cycleId", "ProgramCycle"),
            context.principal.username,
            context.principal.scope,
            audit,
            registry=context.registry,
            request_info=context.request_info,
        )
        return as_error(outcome)  # type: ignore[return-value]

    @strawberry.mutation(description="Set or replace a program's quota in a region for a period; null clears it.")
    async def set_program_quota(
        self,
        info: Info[Context, None],
        program: str,
        period: Annotated[str, strawberry.argument(description=PERIOD)],
        region_code: Annotated[str, strawberry.argument(description=REGION_CODE)],
        quota: int | None,
    ) -> SetProgramQuotaResult:
        context = info.context
        region = _region(region_code)

        async def change(conn: AsyncConnection) -> object:
            outcome = await quotas.set_quota(conn, context.registry, program, period, region_code, quota)
            if not isinstance(outcome, Invalid | Missing):
                await record_audit(
                    conn,
                    context.request_info,
                    operation="setProgramQuota",
                    entity="program_quota",
                    entity_id=f"{program}/{period}/{region_code}"[:64],
                    after=outcome,
                )
            return outcome

        return await run_write(  # type: ignore[return-value]
            info,
            operation="setProgramQuota",
            obj="quota",
            act="write",
            change=change,
            region=region,
            target=region or "-",
        )
