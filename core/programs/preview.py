"""A cycle's preview: what a run would do, counted per region one level down, with nothing written.

The preview computes the same work tables as a run (``core.programs.selection``) inside a
transaction it then rolls back, so its counts are the run's counts by construction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.foundation.refusals import Invalid
from core.programs.cycles import CycleRecord, cycle_of
from core.programs.quotas import QUOTAS
from core.programs.registry import ProgramRegistry
from core.programs.scope import NATIONAL, ProgramScope, check_scope, covers
from core.programs.selection import Selection, select_households
from core.regions.codes import region_within
from core.storage.records import REGIONS

NATION_NAME = "Indonesia"


@dataclass(frozen=True, slots=True)
class RegionCount:
    """One region's figures: eligible households, its quota (None without one), would enrol, refused."""

    region_code: str
    name: str
    eligible: int
    quota: int | None
    would_enrol: int
    refused: int


@dataclass(frozen=True, slots=True)
class CyclePreview:
    """What running ``program`` for ``period`` over ``region_code`` would do; ``cycle`` is set once it ran."""

    program: str
    period: str
    region_code: str
    total: RegionCount
    regions: list[RegionCount]
    cycle: CycleRecord | None


async def _grouped(
    conn: AsyncConnection, source: FromClause, child: ColumnElement[str], value: ColumnElement[int]
) -> dict[str, int]:
    rows = await conn.execute(select(child, value).select_from(source).group_by(child))
    return {code: count for code, count in rows}


async def _child_regions(conn: AsyncConnection, scope: ProgramScope) -> list[tuple[str, str]]:
    if scope.region_code == NATIONAL:
        where = REGIONS.c.level == 1
    elif len(scope.region_code) == scope.child_code_length:  # a village is its own only row
        where = REGIONS.c.code == scope.region_code
    else:
        where = REGIONS.c.parent_code == scope.region_code
    rows = await conn.execute(select(REGIONS.c.code, REGIONS.c.name).where(where).order_by(REGIONS.c.code))
    return [(code, name) for code, name in rows]


async def _region_name(conn: AsyncConnection, code: str) -> str:
    if code == NATIONAL:
        return NATION_NAME
    return (await conn.execute(select(REGIONS.c.name).where(REGIONS.c.code == code))).scalar_one()


async def _quotas_by_child(conn: AsyncConnection, scope: ProgramScope, children: list[str]) -> dict[str, int]:
    """Each child's quota: the sum of the quota rows inside it (itself included)."""
    rows = await conn.execute(
        select(QUOTAS.c.region_code, QUOTAS.c.quota).where(
            QUOTAS.c.program == scope.program.slug,
            QUOTAS.c.period == scope.period.label,
            covers(QUOTAS.c.region_code, scope.region_code),
        )
    )
    totals: dict[str, int] = defaultdict(int)
    for code, quota in rows:
        for child in children:
            if region_within(code, child):
                totals[child] += quota
        totals[scope.region_code] += quota
    return totals


async def _counts(conn: AsyncConnection, selection: Selection) -> tuple[RegionCount, list[RegionCount]]:
    scope, tables = selection.scope, selection.tables
    length = scope.child_code_length
    candidates, selected, refusals = tables.candidates, tables.selected, tables.refusals

    def child(column: ColumnElement[str]) -> ColumnElement[str]:
        return func.substr(column, 1, length)

    eligible = await _grouped(conn, candidates, child(candidates.c.village_code), func.count())
    enrol = await _grouped(conn, selected, child(selected.c.village_code), func.count())
    refused = await _grouped(
        conn,
        refusals.join(candidates, candidates.c.household_id == refusals.c.household_id),
        child(candidates.c.village_code),
        func.count(distinct(refusals.c.household_id)),
    )
    children = await _child_regions(conn, scope)
    quotas = await _quotas_by_child(conn, scope, [code for code, _ in children])
    quota_set = bool(quotas)
    regions = [
        RegionCount(
            code,
            name,
            eligible.get(code, 0),
            quotas.get(code, 0) if quota_set else None,
            enrol.get(code, 0),
            refused.get(code, 0),
        )
        for code, name in children
    ]
    total = RegionCount(
        scope.region_code,
        await _region_name(conn, scope.region_code),
        sum(eligible.values()),
        quotas.get(scope.region_code, 0) if quota_set else None,
        sum(enrol.values()),
        sum(refused.values()),
    )
    return total, regions


async def preview_cycle(
    engine: AsyncEngine, registry: ProgramRegistry, program: str, period: str, region_code: str
) -> CyclePreview | Invalid:
    """Counts per region of what a run would do; nothing is written (the work is rolled back)."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            scope = await check_scope(conn, registry, program, period, region_code)
            if isinstance(scope, Invalid):
                return scope
            cycle = await cycle_of(conn, scope)
            selection = await select_households(conn, registry, scope)
            total, regions = await _counts(conn, selection)
        finally:
            await transaction.rollback()
    return CyclePreview(scope.program.slug, scope.period.label, scope.region_code, total, regions, cycle)
