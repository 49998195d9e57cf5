"""Households, rankings and look-ups the program and cycle tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import (
    CookingFuel,
    DrinkingWater,
    Education,
    FloorMaterial,
    LightingSource,
    Relationship,
    RoofMaterial,
    Sex,
    ToiletFacility,
    WallMaterial,
)
from core.households import service
from core.households.data import HouseholdData, MemberData
from core.models import CycleRefusal, Disbursement, Enrollment, EnrollmentComponent, ProgramCycle, WelfareRank
from core.programs.registry import ProgramRegistry, build_registry, make_manager
from core.storage.db import write_transaction
from tests import factories

ENROLLMENTS = Enrollment.__table__
COMPONENTS = EnrollmentComponent.__table__
DISBURSEMENTS = Disbursement.__table__
REFUSALS = CycleRefusal.__table__
CYCLES = ProgramCycle.__table__
PROGRAM_TABLES = ("program_cycles", "enrollments", "enrollment_components", "disbursements", "cycle_refusals")

#: Housing that counts every deprivation indicator: estimated decile 1 without a ranking.
POOR_HOUSING: dict[str, object] = {
    "floor_material": FloorMaterial.EARTH,
    "wall_material": WallMaterial.BAMBOO,
    "roof_material": RoofMaterial.THATCH,
    "toilet": ToiletFacility.NONE,
    "drinking_water": DrinkingWater.SURFACE_WATER,
    "lighting": LightingSource.NONE,
    "cooking_fuel": CookingFuel.FIREWOOD,
    "floor_area": 12.0,
}


def builtin_registry() -> ProgramRegistry:
    """Core facts and the three built-in cash programs, nothing else installed."""
    return build_registry(make_manager(["pkh", "bpnt", "bst"]))


def head(district: str = "32.01.01", **extra: object) -> MemberData:
    return factories.member(Relationship.HEAD, Sex.MALE, date(1988, 4, 2), district, "Agus Salim", **extra)


def pregnant_mother(district: str = "32.01.01") -> MemberData:
    return factories.member(Relationship.SPOUSE, Sex.FEMALE, date(1994, 7, 11), district, "Rina Wati", pregnant=True)


def child(born: date, district: str = "32.01.01", education: Education = Education.NONE) -> MemberData:
    return factories.member(
        Relationship.CHILD,
        Sex.FEMALE,
        born,
        district,
        "Putri Ayu",
        education=education,
        in_school=education is not Education.NONE,
    )


def grandmother(district: str = "32.01.01") -> MemberData:
    return factories.member(Relationship.PARENT, Sex.FEMALE, date(1952, 1, 20), district, "Sumarni")


def poor_household(village: str = factories.VILLAGE, members: list[MemberData] | None = None) -> HouseholdData:
    """A household in estimated decile 1; with a head and a child of three unless members are given."""
    district = village.rsplit(".", 1)[0]
    members = members or [head(district), child(date(2022, 6, 1), district)]
    return factories.household(village, members=members, **POOR_HOUSING)


async def register(engine: AsyncEngine, households: list[HouseholdData]) -> list[int]:
    """Register through the service; the new households' ids in input order."""
    found = []
    async with write_transaction(engine) as conn:
        for data in households:
            record = await service.register_household(conn, data)
            assert not isinstance(record, service.Invalid), record
            found.append(record.id)
    return found


async def rank(engine: AsyncEngine, ranks: Mapping[int, tuple[int, float]]) -> None:
    """Store a welfare ranking: household id -> (decile, score)."""
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(WelfareRank.__table__),
            [
                {
                    "household_id": household_id,
                    "model_version": "test",
                    "score": score,
                    "decile": decile,
                    "regency_decile": decile,
                    "ranked_at": now,
                }
                for household_id, (decile, score) in ranks.items()
            ],
        )


async def enrolled(engine: AsyncEngine, program: str, period: str) -> dict[int, int]:
    """Household id -> amount of the program-period's enrollments."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(ENROLLMENTS.c.household_id, ENROLLMENTS.c.amount).where(
                ENROLLMENTS.c.program == program, ENROLLMENTS.c.period == period
            )
        )
        return {household_id: amount for household_id, amount in rows}


async def refusals(engine: AsyncEngine, cycle_id: int) -> dict[int, list[str]]:
    """Household id -> the reasons the cycle recorded."""
    found: dict[int, list[str]] = {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(REFUSALS.c.household_id, REFUSALS.c.reason)
            .where(REFUSALS.c.cycle_id == cycle_id)
            .order_by(REFUSALS.c.household_id, REFUSALS.c.reason)
        )
        for household_id, reason in rows:
            found.setdefault(household_id, []).append(reason)
    return found


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() for table in PROGRAM_TABLES
        }


async def components_of(engine: AsyncEngine, household_id: int, program: str) -> list[tuple[int | None, str, int]]:
    """(member id, component, amount) of the household's enrollments in the program, by stored line."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(COMPONENTS.c.member_id, COMPONENTS.c.component, COMPONENTS.c.amount)
            .join(ENROLLMENTS, ENROLLMENTS.c.id == COMPONENTS.c.enrollment_id)
            .where(ENROLLMENTS.c.household_id == household_id, ENROLLMENTS.c.program == program)
            .order_by(ENROLLMENTS.c.id, COMPONENTS.c.line)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def disbursements_of(engine: AsyncEngine, cycle_id: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(DISBURSEMENTS, ENROLLMENTS.c.household_id)
            .join(ENROLLMENTS, ENROLLMENTS.c.id == DISBURSEMENTS.c.enrollment_id)
            .where(ENROLLMENTS.c.cycle_id == cycle_id)
            .order_by(DISBURSEMENTS.c.reference)
        )
        return [dict(row._mapping) for row in rows]


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(text(table)))).scalar_one()


@asynccontextmanager
async def without_unique_index(engine: AsyncEngine, index: str, table: str, column: str) -> AsyncIterator[None]:
    """Drop a partial unique index (as a legacy migration would have lacked it), restoring it afterwards."""
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP INDEX {index}"))
    try:
        yield
    finally:
        from tests.conftest import clear_data

        await clear_data(engine)
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE UNIQUE INDEX {index} ON {table} ({column}) WHERE status = 'active'"))


async def member_ids_by_birth(engine: AsyncEngine, household_id: int) -> dict[date, int]:
    from core.storage.records import MEMBERS

    async with engine.connect() as conn:
        rows = await conn.execute(
            select(MEMBERS.c.birth_date, MEMBERS.c.id).where(MEMBERS.c.household_id == household_id)
        )
        return {birth: member_id for birth, member_id in rows}
