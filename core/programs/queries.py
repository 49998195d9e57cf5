"""Reading enrollments and their components."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.models import Enrollment, EnrollmentComponent
from core.programs.rules import FAMILY_COMPONENT
from core.regions.codes import within
from core.storage.records import HOUSEHOLDS, MEMBERS

ENROLLMENTS = Enrollment.__table__
COMPONENTS = EnrollmentComponent.__table__


@dataclass(slots=True)
class ComponentRecord:
    component: str
    member_id: int | None
    amount: int


@dataclass(slots=True)
class EnrollmentRecord:
    id: int
    program: str
    period: str
    period_start: date
    period_end: date
    household_id: int
    amount: int
    status: str
    components: list[ComponentRecord] = field(default_factory=list)


_COLUMNS = (
    ENROLLMENTS.c.id,
    ENROLLMENTS.c.program,
    ENROLLMENTS.c.period,
    ENROLLMENTS.c.period_start,
    ENROLLMENTS.c.period_end,
    ENROLLMENTS.c.household_id,
    ENROLLMENTS.c.amount,
    ENROLLMENTS.c.status,
)


async def _attach_components(conn: AsyncConnection, by_id: dict[int, EnrollmentRecord]) -> None:
    """Fill the records' components in one statement (a family component when none is stored)."""
    if not by_id:
        return
    parts = await conn.execute(
        select(COMPONENTS.c.enrollment_id, COMPONENTS.c.component, COMPONENTS.c.member_id, COMPONENTS.c.amount)
        .where(COMPONENTS.c.enrollment_id.in_(list(by_id)))
        .order_by(COMPONENTS.c.enrollment_id, COMPONENTS.c.line)
    )
    for enrollment_id, component, member_id, amount in parts:
        by_id[enrollment_id].components.append(ComponentRecord(component, member_id, amount))
    for record in by_id.values():
        if not record.components:
            record.components.append(ComponentRecord(FAMILY_COMPONENT, None, record.amount))


async def enrollments_by_id(
    conn: AsyncConnection, enrollment_ids: Sequence[int], scope: str = ""
) -> dict[int, EnrollmentRecord]:
    """Enrollments by id whose household lies in ``scope``, with components; two statements."""
    if not enrollment_ids:
        return {}
    query = select(*_COLUMNS).where(ENROLLMENTS.c.id.in_(list(set(enrollment_ids))))
    if scope:
        query = query.join(HOUSEHOLDS, HOUSEHOLDS.c.id == ENROLLMENTS.c.household_id).where(
            within(HOUSEHOLDS.c.village_code, scope)
        )
    by_id = {row.id: EnrollmentRecord(*row) for row in await conn.execute(query)}
    await _attach_components(conn, by_id)
    return by_id


async def enrollments_by_household(
    conn: AsyncConnection, household_ids: Iterable[int]
) -> dict[int, list[EnrollmentRecord]]:
    """Each household's enrollments, newest period first, with components; two statements.

    An enrollment with no stored components (a benefit that is not itemised, such as BPNT's or
    BST's family amount) has one family component: its whole amount.
    """
    ids = list(set(household_ids))
    found: dict[int, list[EnrollmentRecord]] = {household_id: [] for household_id in ids}
    if not ids:
        return found
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(ENROLLMENTS.c.household_id.in_(ids))
        .order_by(ENROLLMENTS.c.period_start.desc(), ENROLLMENTS.c.program)
    )
    by_id: dict[int, EnrollmentRecord] = {}
    for row in rows:
        record = EnrollmentRecord(*row)
        by_id[record.id] = record
        found[record.household_id].append(record)
    await _attach_components(conn, by_id)
    return found


@dataclass(frozen=True, slots=True)
class EnrolledMember:
    """A member a cycle counted a component for, with what a payer's registration file needs."""

    enrollment_id: int
    household_id: int
    member_id: int
    village_code: str
    kk_number: str
    nik: str
    name: str
    birth_date: date
    sex: str
    component: str
    amount: int


async def enrolled_members(conn: AsyncConnection, cycle_id: int, region_code: str = "") -> list[EnrolledMember]:
    """The members a cycle's components name (an itemised, per-member benefit), in ``region_code``; one statement.

    ``region_code`` is a dotted code (the enrollment's village lies in it) or ``''`` for every region.
    Ordered by village, household and line, so one regency's members come together. Family-level
    components (no member) and non-itemised benefits name no member and answer nothing.
    """
    rows = await conn.execute(
        select(
            ENROLLMENTS.c.id,
            ENROLLMENTS.c.household_id,
            MEMBERS.c.id,
            ENROLLMENTS.c.village_code,
            HOUSEHOLDS.c.kk_number,
            MEMBERS.c.nik,
            MEMBERS.c.name,
            MEMBERS.c.birth_date,
            MEMBERS.c.sex,
            COMPONENTS.c.component,
            COMPONENTS.c.amount,
        )
        .select_from(
            ENROLLMENTS.join(COMPONENTS, COMPONENTS.c.enrollment_id == ENROLLMENTS.c.id)
            .join(MEMBERS, MEMBERS.c.id == COMPONENTS.c.member_id)
            .join(HOUSEHOLDS, HOUSEHOLDS.c.id == ENROLLMENTS.c.household_id)
        )
        .where(ENROLLMENTS.c.cycle_id == cycle_id, within(ENROLLMENTS.c.village_code, region_code))
        .order_by(ENROLLMENTS.c.village_code, ENROLLMENTS.c.household_id, COMPONENTS.c.line)
    )
    return [EnrolledMember(*row) for row in rows]
