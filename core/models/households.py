"""Households (rumah tangga/keluarga), their members and survey labels."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, SmallInteger, text
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type

ACTIVE_ONLY = text("status = 'active'")
DECEASED_ONLY = text("status = 'deceased'")


class Household(SQLModel, table=True):
    """A household as on the unified-database form, with its family card (KK) number."""

    __tablename__ = "households"
    __table_args__ = (
        Index(
            "ix_households_kk_active", "kk_number", unique=True, sqlite_where=ACTIVE_ONLY, postgresql_where=ACTIVE_ONLY
        ),
        Index("ix_households_kk_number", "kk_number"),
        # A page of any region in id order, read straight from an index (core/households/queries.py:
        # region_condition): the region's code is the index's first column, so the equality is one range
        # of the index, in id order, and no region is ever sorted.
        Index("ix_households_province_id", text("substr(village_code, 1, 2)"), "id"),
        Index("ix_households_regency_id", text("substr(village_code, 1, 5)"), "id"),
        Index("ix_households_district_id", text("substr(village_code, 1, 8)"), "id"),
        Index("ix_households_village_id", "village_code", "id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    kk_number: str = Field(max_length=16)
    village_code: str = Field(foreign_key="regions.code", sa_type=code_type())
    address: str = Field(max_length=200)
    rt: str = Field(max_length=3)
    rw: str = Field(max_length=3)
    latitude: float | None = None
    longitude: float | None = None
    floor_material: str = Field(max_length=24)
    wall_material: str = Field(max_length=24)
    roof_material: str = Field(max_length=24)
    toilet: str = Field(max_length=24)
    drinking_water: str = Field(max_length=24)
    lighting: str = Field(max_length=24)
    cooking_fuel: str = Field(max_length=24)
    ownership: str = Field(max_length=24)
    floor_area: float
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
    status: str = Field(default="active", max_length=12)
    version: int = 1
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    determined_edition_id: int | None = Field(
        default=None, sa_type=ID_TYPE, description="The DTKS edition that last determined this household."
    )


class Member(SQLModel, table=True):
    """A household member (anggota rumah tangga), identified by NIK."""

    __tablename__ = "members"
    __table_args__ = (
        Index("ix_members_nik_active", "nik", unique=True, sqlite_where=ACTIVE_ONLY, postgresql_where=ACTIVE_ONLY),
        Index("ix_members_nik", "nik"),
        # The few NIKs recorded as deceased, read as one small set by every cycle's refusal check.
        Index("ix_members_nik_deceased", "nik", sqlite_where=DECEASED_ONLY, postgresql_where=DECEASED_ONLY),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    household_id: int = Field(foreign_key="households.id", index=True, sa_type=ID_TYPE)
    nik: str = Field(max_length=16)
    name: str = Field(max_length=120)
    sex: str = Field(max_length=8)
    birth_date: date
    relationship: str = Field(max_length=24)
    education: str = Field(max_length=24)
    in_school: bool = False
    occupation: str = Field(max_length=24)
    disability: str = Field(max_length=12)
    pregnant: bool = False
    status: str = Field(default="active", max_length=12)
    version: int = 1
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class WelfareSurvey(SQLModel, table=True):
    """Measured consumption of a surveyed household: the ground truth for welfare ranking."""

    __tablename__ = "welfare_surveys"

    household_id: int = Field(primary_key=True, foreign_key="households.id", sa_type=ID_TYPE)
    consumption_per_capita: float = Field(description="Rupiah per person per month.")
    survey_year: int


class RegionHouseholdCount(SQLModel, table=True):
    """How many households of one status a village, district or regency holds (``totalCount`` without a scan).

    Kept by triggers on ``households`` (migration 0019) in the same transaction as every insert, move,
    status change and delete, whichever code path or bulk load writes; a province or the country is the
    sum of its regencies' rows. ``siks counts check`` compares them with a full count, ``siks counts
    rebuild`` recomputes them (docs/scale.md, "Counts and pages").
    """

    __tablename__ = "region_household_counts"

    level: int = Field(primary_key=True, sa_type=SmallInteger, description="2 regency, 3 district, 4 village.")
    region_code: str = Field(primary_key=True, sa_type=code_type())
    status: str = Field(primary_key=True, max_length=12)
    households: int = Field(default=0, sa_type=ID_TYPE)
