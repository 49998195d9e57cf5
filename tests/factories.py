"""Valid households for tests, built over real region codes."""

from __future__ import annotations

import itertools
from dataclasses import fields
from datetime import date
from enum import StrEnum

from core.foundation.enums import (
    CookingFuel,
    DrinkingWater,
    Education,
    FloorMaterial,
    HomeOwnership,
    LightingSource,
    Relationship,
    RoofMaterial,
    Sex,
    ToiletFacility,
    WallMaterial,
)
from core.households.data import HouseholdData, MemberData
from core.households.identity import make_nik
from core.schema.global_ids import decode

VILLAGE = "32.01.01.1001"  # Pondok Rajeg, Cibinong, Kabupaten Bogor, Jawa Barat
OTHER_VILLAGE = "35.78.01.1001"  # in Kota Surabaya, Jawa Timur
_serials = itertools.count(1)


def member(
    relationship: Relationship = Relationship.HEAD,
    sex: Sex = Sex.MALE,
    birth_date: date = date(1980, 5, 17),
    district: str = "32.01.01",
    name: str = "Budi Santoso",
    **extra: object,
) -> MemberData:
    nik = make_nik(district, birth_date, sex, next(_serials) % 9999 + 1)
    return MemberData(nik=nik, name=name, sex=sex, birth_date=birth_date, relationship=relationship, **extra)  # type: ignore[arg-type]


def kk_number(district: str = "32.01.01") -> str:
    return f"{district.replace('.', '')}{next(_serials):010d}"


def household(village: str = VILLAGE, members: list[MemberData] | None = None, **extra: object) -> HouseholdData:
    district = village.rsplit(".", 1)[0]
    if members is None:
        members = [
            member(district=district),
            member(Relationship.SPOUSE, Sex.FEMALE, date(1983, 2, 9), district, "Siti Aminah"),
            member(
                Relationship.CHILD,
                Sex.FEMALE,
                date(2015, 8, 30),
                district,
                "Ayu Lestari",
                education=Education.PRIMARY,
                in_school=True,
            ),
        ]
    values: dict[str, object] = {
        "kk_number": kk_number(district),
        "village_code": village,
        "address": "Jl. Melati No. 5",
        "rt": "003",
        "rw": "007",
        "floor_material": FloorMaterial.CEMENT_BRICK,
        "wall_material": WallMaterial.MASONRY,
        "roof_material": RoofMaterial.CLAY_TILE,
        "toilet": ToiletFacility.PRIVATE,
        "drinking_water": DrinkingWater.PROTECTED_WELL,
        "lighting": LightingSource.PLN_METERED,
        "cooking_fuel": CookingFuel.LPG,
        "ownership": HomeOwnership.OWNED,
        "floor_area": 36.0,
        "latitude": -6.48,
        "longitude": 106.85,
        "members": members,
    }
    values.update(extra)
    return HouseholdData(**values)  # type: ignore[arg-type]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _graphql_value(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.name
    if isinstance(value, date):
        return value.isoformat()
    return value


def member_input(data: MemberData) -> dict[str, object]:
    """GraphQL MemberInput variables for a member."""
    return {_camel(f.name): _graphql_value(getattr(data, f.name)) for f in fields(data)}


def household_input(data: HouseholdData) -> dict[str, object]:
    """GraphQL HouseholdInput variables for a household with its members."""
    values = {_camel(f.name): _graphql_value(getattr(data, f.name)) for f in fields(data) if f.name != "members"}
    values["members"] = [member_input(m) for m in data.members]
    return values


def key_of(global_id: str) -> str:
    """The row key inside a global id the API answered (core/schema/global_ids.py), to compare with stored rows."""
    found = decode(global_id)
    assert found is not None, f"{global_id!r} is not a global id"
    return found[1]
