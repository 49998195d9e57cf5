"""Program quotas (kuota) per program, period and region.

Semantics (docs/programs.md): a program-period without quota rows enrols every eligible household
of a cycle's region. Once it has quota rows, each household falls under the most specific quota
region containing its village (village, district, regency, province, then ``ID`` for the nation);
households are enrolled poorest first within each quota region until its quota, less the
households earlier cycles already enrolled there, is filled; households under no quota region
are not enrolled. Setting a quota replaces the previous figure; clearing removes the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, FromClause, Select, case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.refusals import FieldError, Invalid
from core.models import Enrollment, ProgramQuota
from core.programs.registry import ProgramRegistry
from core.programs.scope import NATIONAL, ProgramScope, check_scope, covers

QUOTAS = ProgramQuota.__table__
ENROLLMENTS = Enrollment.__table__
MAX_QUOTA = 2**31 - 1
#: Lengths of dotted codes from the village up to the province.
CODE_LENGTHS = (13, 8, 5, 2)


@dataclass(frozen=True, slots=True)
class Quota:
    """A quota as stored; ``quota`` is None once cleared."""

    program: str
    period: str
    region_code: str
    quota: int | None
    updated_at: datetime | None


def quota_rows(scope: ProgramScope) -> Select[tuple[str, int]]:
    """The program-period's quota rows: ``(region_code, quota)``."""
    return select(QUOTAS.c.region_code, QUOTAS.c.quota).where(
        QUOTAS.c.program == scope.program.slug, QUOTAS.c.period == scope.period.label
    )


def most_specific_region(
    source: FromClause, village: ColumnElement[str], quotas: FromClause
) -> tuple[FromClause, ColumnElement[str]]:
    """``source`` outer-joined to ``quotas`` (a ``region_code`` per row) at every level, and the deepest match.

    Five equality joins on the code, one per level, so an index (or hash) answers each.
    """
    joined, matches = source, []
    for length in CODE_LENGTHS:
        level = quotas.alias(f"quota_level_{length}")
        joined = joined.outerjoin(level, level.c.region_code == func.substr(village, 1, length))
        matches.append(level.c.region_code)
    nation = quotas.alias("quota_nation")
    joined = joined.outerjoin(nation, nation.c.region_code == NATIONAL)
    matches.append(nation.c.region_code)
    return joined, func.coalesce(*matches)


def remaining_quotas(scope: ProgramScope) -> Select[tuple[str, int, int]]:
    """``(region_code, quota, remaining)``: each quota less the enrollments earlier cycles made under it."""
    quotas = quota_rows(scope).subquery("quotas")
    joined, region = most_specific_region(ENROLLMENTS, ENROLLMENTS.c.village_code, quotas)
    used = (
        select(region.label("region_code"), func.count().label("used"))
        .select_from(joined)
        .where(
            ENROLLMENTS.c.program == scope.program.slug,
            ENROLLMENTS.c.period == scope.period.label,
            ENROLLMENTS.c.status == "enrolled",
        )
        .group_by(region)
        .subquery("used")
    )
    left = quotas.c.quota - func.coalesce(used.c.used, 0)
    remaining = case((left < 0, 0), else_=left)
    return select(quotas.c.region_code, quotas.c.quota, remaining.label("remaining")).select_from(
        quotas.outerjoin(used, used.c.region_code == quotas.c.region_code)
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def set_quota(
    conn: AsyncConnection, registry: ProgramRegistry, program: str, period: str, region_code: str, quota: int | None
) -> Quota | Invalid:
    """Set or replace the quota of a program-period in a region; ``None`` clears it.

    Runs in the caller's write transaction; a negative quota, an unknown program, a period of the
    wrong form or an unknown region is refused with the field named.
    """
    checked = await check_scope(conn, registry, program, period, region_code)
    errors = list(checked.errors) if isinstance(checked, Invalid) else []
    if quota is not None and not 0 <= quota <= MAX_QUOTA:
        errors.append(
            FieldError("quota", f"quota must be between 0 and {MAX_QUOTA:,} households; give null to clear it")
        )
    if errors or isinstance(checked, Invalid):
        return Invalid(errors)
    key = {"program": checked.program.slug, "period": checked.period.label, "region_code": checked.region_code}
    if quota is None:
        await conn.execute(delete(QUOTAS).where(*(QUOTAS.c[name] == value for name, value in key.items())))
        return Quota(**key, quota=None, updated_at=None)
    now = _now()
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(QUOTAS).values(**key, quota=quota, updated_at=now)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(key), set_={"quota": statement.excluded.quota, "updated_at": now}
        )
    )
    return Quota(**key, quota=quota, updated_at=now)


async def list_quotas(conn: AsyncConnection, scope: ProgramScope) -> list[Quota]:
    """The program-period's quotas in the scope's region, by region code."""
    rows = await conn.execute(
        select(QUOTAS)
        .where(
            QUOTAS.c.program == scope.program.slug,
            QUOTAS.c.period == scope.period.label,
            covers(QUOTAS.c.region_code, scope.region_code),
        )
        .order_by(QUOTAS.c.region_code)
    )
    return [Quota(row.program, row.period, row.region_code, row.quota, row.updated_at) for row in rows]
