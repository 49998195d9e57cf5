"""Typed household and member data, as given by an operator, an import file or the demo."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date

from core.foundation.enums import (
    CookingFuel,
    Disability,
    DrinkingWater,
    Education,
    FloorMaterial,
    HomeOwnership,
    LightingSource,
    Occupation,
    Relationship,
    RoofMaterial,
    Sex,
    ToiletFacility,
    WallMaterial,
)

ASSET_FIELDS: tuple[str, ...] = (
    "has_refrigerator",
    "has_air_conditioner",
    "has_television",
    "has_computer",
    "has_motorcycle",
    "has_car",
    "has_boat",
    "has_gold",
    "has_land",
)


@dataclass(slots=True)
class MemberData:
    """One person of a household (anggota rumah tangga)."""

    nik: str
    name: str
    sex: Sex
    birth_date: date
    relationship: Relationship
    education: Education = Education.NONE
    in_school: bool = False
    occupation: Occupation = Occupation.NOT_WORKING
    disability: Disability = Disability.NONE
    pregnant: bool = False


@dataclass(slots=True)
class HouseholdData:
    """A household's own variables (the members travel beside it)."""

    kk_number: str
    village_code: str
    address: str
    rt: str
    rw: str
    floor_material: FloorMaterial
    wall_material: WallMaterial
    roof_material: RoofMaterial
    toilet: ToiletFacility
    drinking_water: DrinkingWater
    lighting: LightingSource
    cooking_fuel: CookingFuel
    ownership: HomeOwnership
    floor_area: float
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
    members: list[MemberData] = field(default_factory=list)


HOUSEHOLD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(HouseholdData) if f.name != "members")
MEMBER_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(MemberData))

#: The most characters each text field holds: its table column's width (a test compares them).
TEXT_LENGTHS: dict[str, int] = {
    "kk_number": 16,
    "village_code": 13,
    "address": 200,
    "rt": 3,
    "rw": 3,
    "nik": 16,
    "name": 120,
}
#: The smallest and largest value of each whole-number field; inside the 32-bit INTEGER column of either database.
WHOLE_NUMBER_RANGES: dict[str, tuple[int, int]] = {
    "livestock_count": (0, 100_000),
}


def household_values(data: HouseholdData) -> dict[str, object]:
    """The table columns of a household, enums as their stored strings."""
    return {name: getattr(data, name) for name in HOUSEHOLD_COLUMNS}


def member_values(data: MemberData) -> dict[str, object]:
    return {name: getattr(data, name) for name in MEMBER_COLUMNS}
