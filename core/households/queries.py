"""Reading households and members: one statement per kind of row, never one per household."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus, RecordStatus
from core.regions.codes import within
from core.regions.queries import regions_by_code
from core.storage.keyset import Slice, Window, settle
from core.storage.records import HOUSEHOLDS, MEMBERS, HouseholdRecord, MemberRecord


@dataclass(frozen=True, slots=True)
class HouseholdFilter:
    """Which households a list shows. ``region_code`` covers that region and all below it."""

    region_code: str | None = None
    kk_number: str | None = None
    status: RecordStatus | None = RecordStatus.ACTIVE
    scope: str = ""  # the caller's region scope; '' = national

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.scope:
            found.append(within(HOUSEHOLDS.c.village_code, self.scope))
        if self.region_code:
            found.append(within(HOUSEHOLDS.c.village_code, self.region_code))
        if self.kk_number:
            found.append(HOUSEHOLDS.c.kk_number == self.kk_number)
        if self.status is not None:
            found.append(HOUSEHOLDS.c.status == self.status.value)
        return found


@dataclass(frozen=True, slots=True)
class Include:
    """Which related rows to attach before the records are handed out."""

    members: bool = True
    region: bool = True


async def attach(conn: AsyncConnection, records: Sequence[HouseholdRecord], include: Include) -> None:
    """Fill ``members`` and ``region`` of ``records`` with one statement each."""
    if not records:
        return
    if include.members:
        by_id = {record.id: record for record in records}
        rows = await conn.execute(
            select(MEMBERS)
            .where(MEMBERS.c.household_id.in_(list(by_id)), MEMBERS.c.status == MemberStatus.ACTIVE.value)
            .order_by(MEMBERS.c.household_id, MEMBERS.c.id)
        )
        for row in rows:
            by_id[row[1]].members.append(MemberRecord(*row))
    if include.region:
        regions = await regions_by_code(conn, {record.village_code for record in records})
        for record in records:
            record.region = regions.get(record.village_code)


async def _fetch(conn: AsyncConnection, query: Select[tuple[object, ...]], include: Include) -> list[HouseholdRecord]:
    records = [HouseholdRecord(*row) for row in await conn.execute(query)]
    await attach(conn, records, include)
    return records


async def household_page(conn: AsyncConnection, where: HouseholdFilter, window: Window, include: Include) -> Slice:
    """One page of households in id order (keyset pagination, either direction); ``rows`` are HouseholdRecords."""
    query = window.apply(select(HOUSEHOLDS).where(*where.conditions()), HOUSEHOLDS.c.id)
    page = settle(window, [HouseholdRecord(*row) for row in await conn.execute(query)])
    await attach(conn, page.rows, include)
    return page


async def count_households(conn: AsyncConnection, where: HouseholdFilter) -> int:
    query = select(func.count()).select_from(HOUSEHOLDS).where(*where.conditions())
    return int((await conn.execute(query)).scalar_one())


async def households_by_id(
    conn: AsyncConnection, ids: Sequence[int], include: Include = Include(), scope: str = ""
) -> dict[int, HouseholdRecord]:
    """Households by id; outside ``scope`` they are simply not found."""
    if not ids:
        return {}
    query = select(HOUSEHOLDS).where(HOUSEHOLDS.c.id.in_(list(set(ids))))
    if scope:
        query = query.where(within(HOUSEHOLDS.c.village_code, scope))
    records = await _fetch(conn, query, include)
    return {record.id: record for record in records}


async def household_by_id(
    conn: AsyncConnection, household_id: int, include: Include = Include(), scope: str = ""
) -> HouseholdRecord | None:
    return (await households_by_id(conn, [household_id], include, scope)).get(household_id)


async def members_by_id(conn: AsyncConnection, ids: Sequence[int], scope: str = "") -> dict[int, MemberRecord]:
    """Members by id, whatever their status; outside ``scope`` (their household's village) they are not found."""
    if not ids:
        return {}
    query = select(MEMBERS).where(MEMBERS.c.id.in_(list(set(ids))))
    if scope:
        query = query.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id).where(
            within(HOUSEHOLDS.c.village_code, scope)
        )
    return {row.id: MemberRecord(*row) for row in await conn.execute(query)}


async def active_member_by_nik(conn: AsyncConnection, nik: str, scope: str = "") -> MemberRecord | None:
    """The active member with this NIK; outside ``scope`` simply not found."""
    query = select(MEMBERS).where(MEMBERS.c.nik == nik, MEMBERS.c.status == MemberStatus.ACTIVE.value)
    if scope:
        query = query.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id).where(
            within(HOUSEHOLDS.c.village_code, scope)
        )
    row = (await conn.execute(query)).first()
    return MemberRecord(*row) if row else None
