"""Reading grievance cases within a scope: one case, pages, counts by status and age, their events.

A case is visible when its village lies in the caller's scope (one indexed range on the village
code, as for households). Levels: a case is handled at ``village`` first; ``ESCALATION`` names the
level above each; an officer may act on a case when their scope's level is the case's level or
above (``may_act``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, make_dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import GrievanceStatus, VerificationLevel
from core.models import Grievance, GrievanceEvent
from core.regions.codes import level_number, within
from core.storage.keyset import Slice, Window, settle

GRIEVANCES = Grievance.__table__
EVENTS = GrievanceEvent.__table__
FINAL = (GrievanceStatus.UPHELD.value, GrievanceStatus.REJECTED.value)
UNRESOLVED = (GrievanceStatus.OPEN.value, GrievanceStatus.ASSIGNED.value, GrievanceStatus.ESCALATED.value)
#: The level an undecided case moves to past its deadline.
ESCALATION = {
    VerificationLevel.VILLAGE.value: VerificationLevel.DISTRICT.value,
    VerificationLevel.DISTRICT.value: VerificationLevel.REGENCY.value,
    VerificationLevel.REGENCY.value: VerificationLevel.PROVINCE.value,
    VerificationLevel.PROVINCE.value: VerificationLevel.NATIONAL.value,
}
#: The number of parts of a scope code at each level ('' national: 0).
LEVEL_DEPTH = {
    VerificationLevel.VILLAGE.value: 4,
    VerificationLevel.DISTRICT.value: 3,
    VerificationLevel.REGENCY.value: 2,
    VerificationLevel.PROVINCE.value: 1,
    VerificationLevel.NATIONAL.value: 0,
}


class AgeBand(StrEnum):
    """Days since an unresolved case was filed."""

    UNDER_7_DAYS = "under_7_days"
    DAYS_7_TO_14 = "days_7_to_14"
    OVER_14_DAYS = "over_14_days"


#: Each age band's days since filing: [low, high).
AGE_BANDS = ((AgeBand.UNDER_7_DAYS, 0, 7), (AgeBand.DAYS_7_TO_14, 7, 14), (AgeBand.OVER_14_DAYS, 14, None))

GrievanceRecord: Any = make_dataclass("GrievanceRecord", [(c.name, Any) for c in GRIEVANCES.columns], slots=True)
EventRecord: Any = make_dataclass("EventRecord", [(c.name, Any) for c in EVENTS.columns], slots=True)


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def scope_depth(scope: str) -> int:
    return level_number(scope) if scope else 0


def may_act(scope: str, level: str) -> bool:
    """An officer of ``scope`` acts on a case handled at ``level``: their level is that level or above."""
    return scope_depth(scope) <= LEVEL_DEPTH[level]


def overdue(record: Any, at: datetime | None = None) -> bool:
    return record.status in UNRESOLVED and aware(record.deadline) < (at or now())


@dataclass(frozen=True, slots=True)
class GrievanceFilter:
    scope: str
    region_code: str | None = None
    status: str | None = None
    overdue: bool | None = None
    at: datetime | None = None  # the moment "overdue" is judged at; now when None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = [within(GRIEVANCES.c.village_code, self.scope)]
        if self.region_code:
            conditions.append(within(GRIEVANCES.c.village_code, self.region_code))
        if self.status is not None:
            conditions.append(GRIEVANCES.c.status == self.status)
        if self.overdue is not None:
            late = GRIEVANCES.c.status.in_(UNRESOLVED) & (GRIEVANCES.c.deadline < (self.at or now()))
            conditions.append(late if self.overdue else ~late)
        return conditions


async def grievance_page(conn: AsyncConnection, where: GrievanceFilter, window: Window) -> Slice:
    """One page of cases in id order (keyset pagination either way); ``rows`` are GrievanceRecords."""
    query = window.apply(select(GRIEVANCES).where(*where.conditions()), GRIEVANCES.c.id)
    return settle(window, [GrievanceRecord(*row) for row in await conn.execute(query)])


async def count_grievances(conn: AsyncConnection, where: GrievanceFilter) -> int:
    return int(
        (await conn.execute(select(func.count()).select_from(GRIEVANCES).where(*where.conditions()))).scalar_one()
    )


async def grievances_by_id(conn: AsyncConnection, grievance_ids: Sequence[int], scope: str) -> dict[int, Any]:
    """Cases by id whose village lies in ``scope``; one statement."""
    if not grievance_ids:
        return {}
    query = select(GRIEVANCES).where(
        GRIEVANCES.c.id.in_(sorted(set(grievance_ids))), within(GRIEVANCES.c.village_code, scope)
    )
    return {row.id: GrievanceRecord(*row) for row in await conn.execute(query)}


async def grievance_by_id(conn: AsyncConnection, grievance_id: int, scope: str) -> Any:
    return (await grievances_by_id(conn, [grievance_id], scope)).get(grievance_id)


async def events_of(
    conn: AsyncConnection, grievance_ids: Sequence[int], public_only: bool = False
) -> dict[int, list[Any]]:
    """Each case's events, oldest first (only those shown to the citizen when ``public_only``)."""
    found: dict[int, list[Any]] = {key: [] for key in grievance_ids}
    if not grievance_ids:
        return found
    query = select(EVENTS).where(EVENTS.c.grievance_id.in_(sorted(set(grievance_ids))))
    if public_only:
        query = query.where(EVENTS.c.public.is_(True))
    for row in await conn.execute(query.order_by(EVENTS.c.at, EVENTS.c.id)):
        found[row.grievance_id].append(EventRecord(*row))
    return found


@dataclass(frozen=True, slots=True)
class Counts:
    by_status: dict[str, int]
    by_age: dict[str, int]  # unresolved cases by age band (AGE_BANDS)
    overdue: int


async def grievance_counts(
    conn: AsyncConnection, scope: str, region_code: str | None, at: datetime | None = None
) -> Counts:
    """Cases of the region (within ``scope``) by status, and the unresolved ones by age band and overdue."""
    at = at or now()
    where = GrievanceFilter(scope, region_code).conditions()
    by_status = {status.value: 0 for status in GrievanceStatus}
    rows = await conn.execute(select(GRIEVANCES.c.status, func.count()).where(*where).group_by(GRIEVANCES.c.status))
    for status, number in rows:
        by_status[status] = int(number)
    created = GRIEVANCES.c.created_at
    columns = []
    for name, low, high in AGE_BANDS:
        condition = created <= at - timedelta(days=low)
        if high is not None:
            condition = condition & (created > at - timedelta(days=high))
        columns.append(func.sum(case((condition, 1), else_=0)).label(name.value))
    late = func.sum(case((GRIEVANCES.c.deadline < at, 1), else_=0)).label("overdue")
    row = (await conn.execute(select(*columns, late).where(*where, GRIEVANCES.c.status.in_(UNRESOLVED)))).one()
    by_age = {name.value: int(getattr(row, name.value) or 0) for name, _low, _high in AGE_BANDS}
    return Counts(by_status, by_age, int(row.overdue or 0))
