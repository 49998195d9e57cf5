"""GraphQL for PBI-JK: a cycle's reconciliation against BPJS's membership, as counts per regency in the caller's region.

Counts only: the lists of NIKs are the command line's (``siks pbi-jk reconcile``), for the national
data centre. An officer asks for their region's part of a cycle; a cycle over no part of their
region answers as if it did not exist. Every answer is audited (``reconcilePbiJk``).
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from core.plugin_api import (
    Context,
    FieldError,
    Invalid,
    Items,
    Missing,
    NotFound,
    ValidationError,
    cycle_by_id,
    global_id,
    guarded,
    parse_id,
    record_audit,
    region_within,
    require,
    sized,
    write_transaction,
)
from plugins.pbi_jk import reconciliation
from plugins.pbi_jk.cycles import NATIONAL, CycleArea, cycle_area
from plugins.pbi_jk.program import SLUG

#: The commands' field names, as GraphQL's arguments are called.
ARGUMENTS = {"region": "regionCode", "cycle": "cycleId", "snapshot": "bpjsSnapshot"}


@guarded("enrollment")
@strawberry.type(name="PbiJkRegencyCount", description="NIKs of one regency/city by reconciliation outcome.")
class RegencyCount:
    regency_code: str = strawberry.field(description="Dotted Kemendagri code (32.01), or 'total'.")
    recipients: int = strawberry.field(description="Members the cycle pays the premium for.")
    pbi_active: int = strawberry.field(description="Recipients with an active PBI-APBN membership.")
    to_register: int = strawberry.field(description="Recipients BPJS has no active PBI-APBN membership for.")
    to_deactivate: int = strawberry.field(description="Active PBI-APBN members counted here the cycle does not pay.")


@guarded("enrollment")
@strawberry.type(
    name="PbiJkReconciliation",
    description="A PBI-JK cycle's recipients against BPJS's membership (the active BPJS snapshot), per regency/city.",
)
class Reconciliation:
    cycle_id: strawberry.ID = global_id("ProgramCycle", "cycle_key")
    cycle_key: strawberry.Private[int]
    period: str
    region_code: str = strawberry.field(description="The part of the cycle reconciled: a dotted code, or ID.")
    bpjs_snapshot: str = strawberry.field(description="The BPJS snapshot read (`siks reference status bpjs`).")
    regencies: list[RegencyCount] = strawberry.field(
        description="One line per regency/city with recipients or PBI members to deactivate, by code.",
        metadata=sized(Items(514, "the regencies and cities of Indonesia")),
    )
    total: RegencyCount


ReconciliationResult = Annotated[
    Reconciliation | ValidationError | NotFound,
    strawberry.union("PbiJkReconciliationResult", description="The counts, or why there are none."),
]


def _count(count: reconciliation.RegencyCount) -> RegencyCount:
    return RegencyCount(**{name: getattr(count, name) for name in reconciliation.SUMMARY_COLUMNS})


def _error(refusal: Invalid) -> ValidationError:
    return ValidationError.of(Invalid([FieldError(ARGUMENTS[e.field], e.message) for e in refusal.errors]))


async def pbi_jk_reconciliation(
    info: Info[Context, None], cycle_id: strawberry.ID, region_code: str | None = None
) -> ReconciliationResult:
    context = info.context
    scope = require(context, "enrollment", "read").scope
    target = parse_id(cycle_id, "cycleId", "ProgramCycle")
    async with write_transaction(context.engine) as conn:
        cycle = await cycle_by_id(conn, target)
        covers = "" if cycle is None or cycle.region_code == NATIONAL else cycle.region_code
        if cycle is None or cycle.program != SLUG or not (region_within(covers, scope) or region_within(scope, covers)):
            return NotFound.of(Missing("PBI-JK program cycle", str(cycle_id)))
        if region_code is not None:
            wanted: str | None = region_code.strip()
        elif scope and region_within(scope, covers):
            wanted = scope  # the caller's part of a cycle over a wider region
        else:
            wanted = None  # the whole cycle, which lies in the caller's region
        if wanted is not None:
            require(context, "enrollment", "read", wanted)  # a region outside the caller's: Forbidden
        area = await cycle_area(conn, target, wanted)
        if not isinstance(area, CycleArea):
            return _error(area) if isinstance(area, Invalid) else NotFound.of(area)
        report = await reconciliation.reconcile(conn, area)
        if isinstance(report, Invalid):
            return _error(report)
        total = report.total()
        await record_audit(
            conn,
            context.request_info,
            operation="reconcilePbiJk",
            entity="program_cycle",
            entity_id=str(target),
            after={"region": area.label, "snapshot": report.snapshot_id, **_numbers(total)},
        )
    return Reconciliation(
        cycle_key=target,
        period=report.period,
        region_code=area.label,
        bpjs_snapshot=str(report.snapshot_id),
        regencies=[_count(count) for count in report.counts()],
        total=_count(total),
    )


def _numbers(count: reconciliation.RegencyCount) -> dict[str, Any]:
    return {name: getattr(count, name) for name in reconciliation.SUMMARY_COLUMNS[1:]}
