"""GraphQL: households and members (read side)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.households.data import MEMBER_COLUMNS
from core.households.identity import kk_from_other_district
from core.households.queries import (
    HouseholdFilter,
    Include,
    active_member_by_nik,
    count_households,
    household_by_id,
    household_page,
    households_by_id,
    members_by_id,
)
from core.reference.formats import Source
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code, parse_id
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.global_ids import global_id
from core.schema.list_sizes import paged
from core.schema.node import Node, by_row_id, fetched_by
from core.schema.pagination import PageInfo, encode_cursor, page_info, window
from core.schema.programs import HouseholdPrograms
from core.schema.regions import Region
from core.schema.selection import selected_paths
from core.schema.welfare import Welfare
from core.storage.records import HouseholdRecord, MemberRecord

if TYPE_CHECKING:
    from core.schema.identity import IdentityCheck

DEFAULT_PAGE_SIZE = 50


#: Reading any of a member's own fields is reading personal data (audited, core.schema.disclosure).
MEMBER_PERSONAL = MEMBER_COLUMNS
#: What identifies a family or finds its home.
HOUSEHOLD_PERSONAL = ("kk_number", "address", "rt", "rw", "latitude", "longitude")


@fetched_by(by_row_id(members_by_id))
@guarded("member", personal=MEMBER_PERSONAL, household="household_id", person="id")
@strawberry.type(description="A person in a household (anggota rumah tangga).")
class Member(Node):
    id: strawberry.ID = global_id("Member")
    nik: str = strawberry.field(description="16-digit national identity number (NIK).")
    name: str
    sex: enums.Sex
    birth_date: date
    relationship: enums.Relationship
    education: enums.Education
    in_school: bool
    occupation: enums.Occupation
    disability: enums.Disability
    pregnant: bool
    status: enums.MemberStatus
    version: int

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, MemberRecord)

    @strawberry.field(description="The household this person belongs to.")
    async def household(self: MemberRecord, info: Info[Context, None]) -> Household | None:  # type: ignore[misc]
        return await info.context.loaders.household.load(self.household_id)  # type: ignore[return-value]

    @strawberry.field(
        description="The latest completed identity check against a reference source (null if never checked)."
    )
    async def identity_check(
        self: MemberRecord,  # type: ignore[misc]
        info: Info[Context, None],
        source: enums.ReferenceSource = Source.ADMINDUK,  # type: ignore[valid-type, assignment]
    ) -> Annotated[IdentityCheck, strawberry.lazy("core.schema.identity")] | None:
        from core.schema.identity import member_identity_check

        return await member_identity_check(info, self.id, Source(source))  # type: ignore[return-value]

    @strawberry.field(description="The latest completed identity check against each source checked.")
    async def identity_checks(
        self: MemberRecord,  # type: ignore[misc]
        info: Info[Context, None],
    ) -> list[Annotated[IdentityCheck, strawberry.lazy("core.schema.identity")]]:
        from core.schema.identity import member_identity_checks

        return await member_identity_checks(info, self.id)  # type: ignore[return-value]


@fetched_by(lambda info, keys: _households_by_key(info, keys))
@guarded("household", personal=HOUSEHOLD_PERSONAL, household="id")
@strawberry.type(description="A household (rumah tangga) with its family card (KK) and unified-database variables.")
class Household(Node):
    id: strawberry.ID = global_id("Household")
    kk_number: str = strawberry.field(description="16-digit family card (Kartu Keluarga) number.")
    version: int = strawberry.field(description="Pass this back when changing the household or its members.")
    status: enums.RecordStatus
    region: Region | None = strawberry.field(description="The village (desa/kelurahan).")
    village_code: str
    address: str
    rt: str
    rw: str
    latitude: float | None
    longitude: float | None
    floor_material: enums.FloorMaterial
    wall_material: enums.WallMaterial
    roof_material: enums.RoofMaterial
    toilet: enums.ToiletFacility
    drinking_water: enums.DrinkingWater
    lighting: enums.LightingSource
    cooking_fuel: enums.CookingFuel
    ownership: enums.HomeOwnership
    floor_area: float = strawberry.field(description="Floor area in square metres.")
    has_refrigerator: bool
    has_air_conditioner: bool
    has_television: bool
    has_computer: bool
    has_motorcycle: bool
    has_car: bool
    has_boat: bool
    has_gold: bool
    has_land: bool
    livestock_count: int
    created_at: datetime
    updated_at: datetime
    determined_edition_id: strawberry.ID | None = global_id(
        "DtksEdition",
        "determined_edition_id",
        required=False,
        description="The DTKS edition that last determined this household (null until one does).",
    )
    members: list[Member] = strawberry.field(description="Active members, head first by registration.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, HouseholdRecord)

    @strawberry.field(
        description="True when the KK was issued in another district than the village's (digits 1-6): allowed "
        "for a family living away from the address on its card, but also what a mistyped KK looks like; check it."
    )
    def kk_from_other_district(self: HouseholdRecord) -> bool:  # type: ignore[misc]
        return kk_from_other_district(self.kk_number, self.village_code)

    @strawberry.field(description="Aid programs: enrollments and each program's own fields.")
    def programs(self: HouseholdRecord) -> HouseholdPrograms:  # type: ignore[misc, valid-type]
        return self

    @strawberry.field(description="The household's welfare rank (desil) and why; null until it is ranked.")
    async def welfare(self: HouseholdRecord, info: Info[Context, None]) -> Welfare | None:  # type: ignore[misc]
        return await info.context.loaders.welfare.load(self.id)  # type: ignore[return-value]


async def _households_by_key(info: Info[Context, None], keys: list[str]) -> Mapping[str, HouseholdRecord]:
    """Households for node()/nodes(), with members and village fetched up front when the selection asks."""
    include = include_for(selected_paths(info), "")

    async def fetch(conn: AsyncConnection, ids: Sequence[int], scope: str) -> Mapping[int, HouseholdRecord]:
        return await households_by_id(conn, ids, include, scope)

    return await by_row_id(fetch)(info, keys)


@guarded("household")
@strawberry.type
class HouseholdEdge:
    cursor: str
    node: Household


class _Edge:
    __slots__ = ("cursor", "node")

    def __init__(self, node: HouseholdRecord) -> None:
        self.cursor = encode_cursor(node.id)
        self.node = node


@guarded("household")
@strawberry.type
class HouseholdConnection:
    edges: list[HouseholdEdge]
    page_info: PageInfo
    where: strawberry.Private[HouseholdFilter]

    @strawberry.field(description="Households matching the filters, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.engine.connect() as conn:
            return await count_households(conn, self.where)


def include_for(paths: frozenset[str], prefix: str) -> Include:
    return Include(members=f"{prefix}members" in paths, region=f"{prefix}region" in paths)


@strawberry.type
class HouseholdQuery:
    @strawberry.field(
        description=f"Households in a region and everything below it, in pages (Relay cursors): first/after "
        f"forward, last/before backward ({DEFAULT_PAGE_SIZE} when neither first nor last is given).",
        metadata=paged(DEFAULT_PAGE_SIZE),
    )
    async def households(
        self,
        info: Info[Context, None],
        region_code: str | None = None,
        kk_number: str | None = None,
        status: enums.RecordStatus | None = enums.RecordStatus.ACTIVE,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> HouseholdConnection:
        principal = require(info.context, "household", "read")
        page_window = window(
            first, after, last, before, default=DEFAULT_PAGE_SIZE, limit=info.context.settings.max_page_size
        )
        where = HouseholdFilter(
            region_code=checked_code(region_code, "regionCode") if region_code is not None else None,
            kk_number=kk_number,
            status=status,
            scope=principal.scope,
        )
        include = include_for(selected_paths(info), "edges.node.")
        async with info.context.engine.connect() as conn:
            page = await household_page(conn, where, page_window, include)
        return HouseholdConnection(
            edges=[_Edge(record) for record in page.rows],  # type: ignore[misc]
            page_info=page_info(page, attrgetter("id")),
            where=where,
        )

    @strawberry.field(description="One household by id (null outside your region, as if it did not exist).")
    async def household(self, info: Info[Context, None], id: strawberry.ID) -> Household | None:
        principal = require(info.context, "household", "read")
        include = include_for(selected_paths(info), "")
        async with info.context.engine.connect() as conn:
            record = await household_by_id(conn, parse_id(id, "id", "Household"), include, scope=principal.scope)
        return record  # type: ignore[return-value]

    @strawberry.field(description="The active member with this NIK (null outside your region).")
    async def person(self, info: Info[Context, None], nik: str) -> Member | None:
        principal = require(info.context, "member", "read")
        async with info.context.engine.connect() as conn:
            record = await active_member_by_nik(conn, nik, scope=principal.scope)
        return record  # type: ignore[return-value]
