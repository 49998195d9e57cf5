"""The household-facts row: one row per active household with everything eligibility reads.

Built as one SELECT: active members aggregated per household, joined to the household and its
welfare rank, so a whole-population run is a single pass. Columns: ``household_id``, ``village_code``,
``kk_number``, ``decile``, ``welfare_score``, ``ranked``, ``deprivation`` and one count per
registered fact (``members``, ``children_0_6``, ...).

Until a welfare ranking exists for a household (``welfare_ranks``), its decile is estimated
from housing deprivation: ``decile = max(1, 10 - deprivations)`` where ``deprivations`` counts
nine indicators of the unified-database form (earth/bamboo/low-quality-wood floor, bamboo/log
walls, thatch/bamboo roof, no private or shared toilet, unprotected water, no PLN electricity,
firewood/charcoal cooking, no valuable asset, under 8 m² a person) and its welfare score is
``-deprivations``. ``ranked`` says which applies.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, FromClause, Integer, Select, case, func, literal, or_, select

from core.foundation.enums import (
    CookingFuel,
    DrinkingWater,
    FloorMaterial,
    LightingSource,
    MemberStatus,
    RecordStatus,
    RoofMaterial,
    ToiletFacility,
    WallMaterial,
)
from core.models import WelfareRank
from core.programs.periods import Period
from core.programs.registry import ProgramRegistry
from core.programs.types import FactContext
from core.storage.records import HOUSEHOLDS, MEMBERS

WELFARE = WelfareRank.__table__
FLOOR_AREA_PER_PERSON = 8.0


def _values(*members: object) -> list[str]:
    return [m.value for m in members]


def _deprivations(member_count: ColumnElement[int]) -> ColumnElement[int]:
    h = HOUSEHOLDS.c
    indicators = [
        h.floor_material.in_(_values(FloorMaterial.EARTH, FloorMaterial.BAMBOO, FloorMaterial.LOW_QUALITY_WOOD)),
        h.wall_material.in_(_values(WallMaterial.WOVEN_BAMBOO, WallMaterial.BAMBOO, WallMaterial.LOG)),
        h.roof_material.in_(_values(RoofMaterial.THATCH, RoofMaterial.BAMBOO)),
        h.toilet.in_(_values(ToiletFacility.PUBLIC, ToiletFacility.NONE)),
        h.drinking_water.in_(
            _values(
                DrinkingWater.UNPROTECTED_WELL,
                DrinkingWater.UNPROTECTED_SPRING,
                DrinkingWater.SURFACE_WATER,
                DrinkingWater.RAIN_WATER,
            )
        ),
        h.lighting.in_(_values(LightingSource.NON_PLN, LightingSource.NONE)),
        h.cooking_fuel.in_(_values(CookingFuel.FIREWOOD, CookingFuel.CHARCOAL)),
        ~or_(h.has_refrigerator, h.has_motorcycle, h.has_car, h.has_gold, h.has_land),
        h.floor_area < member_count * FLOOR_AREA_PER_PERSON,
    ]
    return sum((case((indicator, 1), else_=0) for indicator in indicators), literal(0, Integer))


#: The per-household member count the deprivation estimate needs (not a facts-row column).
_MEMBER_COUNT = "active_member_count"


def facts_select(
    registry: ProgramRegistry,
    period: Period,
    where: Sequence[ColumnElement[bool]] = (),
    members: FromClause = MEMBERS,
    leave_out: Select[tuple[int]] | None = None,
) -> Select[tuple[object, ...]]:
    """One facts row per active household passing ``where`` (conditions on ``households``).

    Members are aggregated per household first (one ordered pass over the household index,
    restricted to the households ``where`` admits when it is given), then joined to their
    household and welfare rank: no sort of member rows carrying household columns. ``members``
    is the members table, or a cycle's view of it (``core.programs.member_outcomes``: without the
    members the civil registry records as deceased, with each child's school level): a household
    none of whose members it holds has no facts row. ``leave_out`` (member ids) is not counted
    either: given as a filter rather than inside ``members``, the aggregate keeps its ordered pass.
    """
    ctx = FactContext(members=members, period=period)
    counts = [func.sum(case((fact.condition(ctx), 1), else_=0)).label(name) for name, fact in registry.facts.items()]
    member_rows = select(members.c.household_id, func.count().label(_MEMBER_COUNT), *counts).where(
        members.c.status == MemberStatus.ACTIVE.value
    )
    if leave_out is not None:
        member_rows = member_rows.where(members.c.id.not_in(leave_out))
    if where:
        admitted = select(HOUSEHOLDS.c.id).where(HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value, *where)
        member_rows = member_rows.where(members.c.household_id.in_(admitted))
    per_household = member_rows.group_by(members.c.household_id).subquery("member_facts")
    deprivation = _deprivations(per_household.c[_MEMBER_COUNT])
    estimated_decile = case((deprivation >= 9, 1), else_=10 - deprivation)
    joined = per_household.join(HOUSEHOLDS, HOUSEHOLDS.c.id == per_household.c.household_id).outerjoin(
        WELFARE, WELFARE.c.household_id == HOUSEHOLDS.c.id
    )
    return (
        select(
            HOUSEHOLDS.c.id.label("household_id"),
            HOUSEHOLDS.c.village_code,
            HOUSEHOLDS.c.kk_number,
            func.coalesce(WELFARE.c.decile, estimated_decile).label("decile"),
            func.coalesce(WELFARE.c.score, -deprivation).label("welfare_score"),
            case((WELFARE.c.decile.is_(None), False), else_=True).label("ranked"),
            deprivation.label("deprivation"),
            *(per_household.c[name] for name in registry.facts),
        )
        .select_from(joined)
        .where(HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value, *where)
    )
