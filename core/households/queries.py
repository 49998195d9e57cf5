"""Reading households and members: one statement per kind of row, never one per household."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, false, func, literal, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus, RecordStatus
from core.households.counts import counted_households
from core.regions.codes import level_number, region_within, within
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

    def region(self) -> str | None:
        """The one region the list covers (``''`` the country): the narrower of ``region_code`` and the scope,
        or None when they do not overlap (the list is empty)."""
        asked = self.region_code or ""
        if region_within(asked, self.scope):
            return asked
        if region_within(self.scope, asked):
            return self.scope
        return None

    def conditions(self, region_as_range: bool = False) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        region = self.region()
        if region is None:
            found.append(false())
        elif region:
            found.append(in_region(region, region_as_range))
        if self.kk_number:
            found.append(HOUSEHOLDS.c.kk_number == self.kk_number)
        if self.status is not None:
            # Inlined, not bound: SQLite uses a partial index on the status only when it sees the value.
            found.append(HOUSEHOLDS.c.status == literal(self.status.value, literal_execute=True))
        return found


#: The width of a province's, regency's and district's code: ``substr(village_code, 1, width)`` is indexed
#: together with the id (migration 0019), so a region's page is one index range in id order.
PREFIX_WIDTHS = {1: 2, 2: 5, 3: 8}


def region_key(code: str) -> ColumnElement[str]:
    """The indexed expression that equals ``code`` (not ``''``) for every household of that region.

    ``substr(village_code, 1, width)`` with the width inlined, so that SQLite matches the expression index;
    a village is its own column (``(village_code, id)``).
    """
    level = level_number(code)
    if level not in PREFIX_WIDTHS:
        return HOUSEHOLDS.c.village_code
    return func.substr(HOUSEHOLDS.c.village_code, literal_column("1"), literal_column(str(PREFIX_WIDTHS[level])))


def in_region(code: str, as_range: bool = False) -> ColumnElement[bool]:
    """SQL: the household lies in region ``code`` (not ``''``): the same rows as ``within(village_code, code)``,
    written as the index of its level is; ``as_range``: as the range ``code ≤ key ≤ code``, which PostgreSQL
    does not fold into a constant (see ``household_page``)."""
    key = region_key(code)
    return and_(key >= code, key <= code) if as_range else key == code


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


def page_query(where: HouseholdFilter, window: Window, dialect: str) -> Select[tuple[object, ...]]:
    """The statement of one page of households: one index range in id order, for any region."""
    region = where.region()
    if region and dialect == "postgresql":
        # PostgreSQL estimates a region's rows as spread evenly over the ids, so for a large region it would
        # walk the primary key and filter — reading every household before the region's first when the region
        # was loaded late (measured: 50,000 rows, 80 ms, at 1M). Ordering by the region's key first, held by a
        # range it does not fold into a constant, leaves only the region's index able to give the order.
        # SQLite plans the equality right, and would sort for the extra ORDER BY term.
        conditions = where.conditions(region_as_range=True)
        return window.apply(select(HOUSEHOLDS).where(*conditions), HOUSEHOLDS.c.id, [region_key(region)])
    return window.apply(select(HOUSEHOLDS).where(*where.conditions()), HOUSEHOLDS.c.id)


async def household_page(conn: AsyncConnection, where: HouseholdFilter, window: Window, include: Include) -> Slice:
    """One page of households in id order (keyset pagination, either direction); ``rows`` are HouseholdRecords."""
    query = page_query(where, window, conn.dialect.name)
    page = settle(window, [HouseholdRecord(*row) for row in await conn.execute(query)])
    await attach(conn, page.rows, include)
    return page


async def count_households(conn: AsyncConnection, where: HouseholdFilter) -> int:
    """How many households the filter keeps: from the region counters when only the region and status filter
    (``core/households/counts.py``), else counted."""
    region = where.region()
    if region is None:
        return 0
    if not where.kk_number:
        return await counted_households(conn, region, where.status)
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
