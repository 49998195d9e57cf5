"""GraphQL: changing households and members. Resolvers convert input and map outcomes; the rules
live in ``core.households.service``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.foundation.refusals import FieldError
from core.households import service
from core.households.data import HouseholdData, MemberData
from core.households.queries import Include, household_by_id
from core.schema import enums
from core.schema.arguments import parse_id
from core.schema.context import Context
from core.schema.errors import NotFound, ValidationError, VersionConflict
from core.schema.households import Household
from core.schema.writes import run_write

HouseholdResult = Annotated[
    Household | ValidationError | VersionConflict | NotFound,
    strawberry.union("HouseholdResult", description="The household as changed, or why nothing changed."),
]


@strawberry.input(description="A person to add to a household.")
class MemberInput:
    nik: str
    name: str
    sex: enums.Sex
    birth_date: date
    relationship: enums.Relationship
    education: enums.Education = enums.Education.NONE
    in_school: bool = False
    occupation: enums.Occupation = enums.Occupation.NOT_WORKING
    disability: enums.Disability = enums.Disability.NONE
    pregnant: bool = False

    def to_data(self) -> MemberData:
        return MemberData(**{f.name: getattr(self, f.name) for f in fields(MemberData)})


@strawberry.input(description="Changes to a member; fields left out stay as they are.")
class MemberChanges:
    nik: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    sex: enums.Sex | None = strawberry.UNSET
    birth_date: date | None = strawberry.UNSET
    relationship: enums.Relationship | None = strawberry.UNSET
    education: enums.Education | None = strawberry.UNSET
    in_school: bool | None = strawberry.UNSET
    occupation: enums.Occupation | None = strawberry.UNSET
    disability: enums.Disability | None = strawberry.UNSET
    pregnant: bool | None = strawberry.UNSET


@strawberry.input(description="A new household with all its members; exactly one member is the head.")
class HouseholdInput:
    kk_number: str
    village_code: str
    address: str
    rt: str
    rw: str
    floor_material: enums.FloorMaterial
    wall_material: enums.WallMaterial
    roof_material: enums.RoofMaterial
    toilet: enums.ToiletFacility
    drinking_water: enums.DrinkingWater
    lighting: enums.LightingSource
    cooking_fuel: enums.CookingFuel
    ownership: enums.HomeOwnership
    floor_area: float
    members: list[MemberInput]
    latitude: float | None = None
    longitude: float | None = None
    has_refrigerator: bool = False
    has_air_conditioner: bool = False
    has_television: bool = False
    has_computer: bool = False
    has_motorcycle: bool = False
    has_car: bool = False
    has_boat: bool = False
    has_gold: bool = False
    has_land: bool = False
    livestock_count: int = 0

    def to_data(self) -> HouseholdData:
        values = {f.name: getattr(self, f.name) for f in fields(HouseholdData) if f.name != "members"}
        return HouseholdData(**values, members=[m.to_data() for m in self.members])


@strawberry.input(description="Changes to a household's own variables; fields left out stay as they are.")
class HouseholdChanges:
    kk_number: str | None = strawberry.UNSET
    village_code: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    rt: str | None = strawberry.UNSET
    rw: str | None = strawberry.UNSET
    latitude: float | None = strawberry.UNSET
    longitude: float | None = strawberry.UNSET
    floor_material: enums.FloorMaterial | None = strawberry.UNSET
    wall_material: enums.WallMaterial | None = strawberry.UNSET
    roof_material: enums.RoofMaterial | None = strawberry.UNSET
    toilet: enums.ToiletFacility | None = strawberry.UNSET
    drinking_water: enums.DrinkingWater | None = strawberry.UNSET
    lighting: enums.LightingSource | None = strawberry.UNSET
    cooking_fuel: enums.CookingFuel | None = strawberry.UNSET
    ownership: enums.HomeOwnership | None = strawberry.UNSET
    floor_area: float | None = strawberry.UNSET
    has_refrigerator: bool | None = strawberry.UNSET
    has_air_conditioner: bool | None = strawberry.UNSET
    has_television: bool | None = strawberry.UNSET
    has_computer: bool | None = strawberry.UNSET
    has_motorcycle: bool | None = strawberry.UNSET
    has_car: bool | None = strawberry.UNSET
    has_boat: bool | None = strawberry.UNSET
    has_gold: bool | None = strawberry.UNSET
    has_land: bool | None = strawberry.UNSET
    livestock_count: int | None = strawberry.UNSET


# Fields that may be cleared with an explicit null; every other field refuses null.
NULLABLE = frozenset({"latitude", "longitude"})


def given(changes: object) -> dict[str, Any] | ValidationError:
    """The fields a changes input sets; an explicit null on a required field is an error."""
    values = {name: value for name, value in vars(changes).items() if value is not strawberry.UNSET}
    nulls = [name for name, value in values.items() if value is None and name not in NULLABLE]
    if nulls:
        camel = strawberry.utils.str_converters.to_camel_case(nulls[0])
        return ValidationError.single(camel, f"{camel} cannot be null; leave it out to keep the current value")
    if not values:
        return ValidationError.single("changes", "no field to change was given")
    return values


#: What a household write refused by a unique index says: another request registered the same KK or NIK
#: between our check and our write.
HOUSEHOLD_RACE = FieldError(
    "nik", "a KK number or NIK in the input was registered by someone else just now; read again and retry"
)


async def write_household(
    info: Info[Context, None],
    *,
    operation: str,
    obj: str,
    household_id: int | None,
    change: Callable[[AsyncConnection, str], Awaitable[object]],
) -> object:
    """``run_write`` for a change of one household aggregate in the caller's scope, audited as a household
    row with the household as it was before and after."""
    scope = info.context.principal.scope

    async def before(conn: AsyncConnection) -> object:
        return await household_by_id(conn, household_id, Include(), scope) if household_id is not None else None

    return await run_write(
        info,
        operation=operation,
        obj=obj,
        act="write",
        change=lambda conn: change(conn, scope),
        audited="household",
        before=before,
        target=household_id if household_id is not None else "-",
        race=HOUSEHOLD_RACE,
    )


@strawberry.type
class HouseholdMutation:
    @strawberry.mutation(description="Register a new household with its members, in a village of your region.")
    async def register_household(self, info: Info[Context, None], input: HouseholdInput) -> HouseholdResult:
        data = input.to_data()
        return await write_household(  # type: ignore[return-value]
            info,
            operation="registerHousehold",
            obj="household",
            household_id=None,
            change=lambda conn, scope: service.register_household(conn, data, scope),
        )

    @strawberry.mutation(
        description="Change a household's variables; version is the one you read. A new villageCode must lie in "
        "your region, and a new GPS point (or village) within 25 km of the village's other households."
    )
    async def update_household(
        self, info: Info[Context, None], id: strawberry.ID, version: int, changes: HouseholdChanges
    ) -> HouseholdResult:
        values = given(changes)
        if isinstance(values, ValidationError):
            return values
        household_id = parse_id(id, "id", "Household")
        return await write_household(  # type: ignore[return-value]
            info,
            operation="updateHousehold",
            obj="household",
            household_id=household_id,
            change=lambda conn, scope: service.update_household(conn, household_id, version, values, scope),
        )

    @strawberry.mutation(description="Add a person to a household; version is the household's.")
    async def add_member(
        self, info: Info[Context, None], household_id: strawberry.ID, version: int, member: MemberInput
    ) -> HouseholdResult:
        target = parse_id(household_id, "householdId", "Household")
        data = member.to_data()
        return await write_household(  # type: ignore[return-value]
            info,
            operation="addMember",
            obj="member",
            household_id=target,
            change=lambda conn, scope: service.add_member(conn, target, version, data, scope),
        )

    @strawberry.mutation(description="Change a member's data; version is the household's.")
    async def update_member(
        self,
        info: Info[Context, None],
        household_id: strawberry.ID,
        version: int,
        member_id: strawberry.ID,
        changes: MemberChanges,
    ) -> HouseholdResult:
        values = given(changes)
        if isinstance(values, ValidationError):
            return values
        target, member = parse_id(household_id, "householdId", "Household"), parse_id(member_id, "memberId", "Member")
        return await write_household(  # type: ignore[return-value]
            info,
            operation="updateMember",
            obj="member",
            household_id=target,
            change=lambda conn, scope: service.update_member(conn, target, version, member, values, scope),
        )

    @strawberry.mutation(
        description="Take a member out of a household (deceased, moved, ...); removing the head names newHeadId."
    )
    async def remove_member(
        self,
        info: Info[Context, None],
        household_id: strawberry.ID,
        version: int,
        member_id: strawberry.ID,
        reason: enums.RemovalReason,
        new_head_id: strawberry.ID | None = None,
    ) -> HouseholdResult:
        target, member = parse_id(household_id, "householdId", "Household"), parse_id(member_id, "memberId", "Member")
        new_head = parse_id(new_head_id, "newHeadId", "Member") if new_head_id is not None else None
        return await write_household(  # type: ignore[return-value]
            info,
            operation="removeMember",
            obj="member",
            household_id=target,
            change=lambda conn, scope: service.remove_member(conn, target, version, member, reason, new_head, scope),
        )
