"""Household facts every program may read, registered by core as a built-in plugin.

A fact counts the household's active members that meet a condition at the period's start.
"""

from __future__ import annotations

from sqlalchemy import and_

from core.foundation.enums import Disability, Education, Sex
from core.programs.hookspecs import hookimpl
from core.programs.types import FactContext, HouseholdFact


def _younger_than(years: int):  # type: ignore[no-untyped-def]
    return lambda ctx: ctx.members.c.birth_date > ctx.born_after(years)


def _at_least(years: int):  # type: ignore[no-untyped-def]
    return lambda ctx: ctx.members.c.birth_date <= ctx.born_after(years)


def _in_school(level: Education):  # type: ignore[no-untyped-def]
    return lambda ctx: and_(ctx.members.c.in_school.is_(True), ctx.members.c.education == level.value)


def _pregnant(ctx: FactContext):  # type: ignore[no-untyped-def]
    return and_(ctx.members.c.pregnant.is_(True), ctx.members.c.sex == Sex.FEMALE.value)


CORE_FACTS: list[HouseholdFact] = [
    HouseholdFact("members", "active members", lambda ctx: ctx.members.c.id.is_not(None)),
    HouseholdFact("pregnant", "pregnant women", _pregnant),
    HouseholdFact("children_0_6", "children younger than 7", _younger_than(7)),
    HouseholdFact("primary_pupils", "children attending primary school (SD/MI)", _in_school(Education.PRIMARY)),
    HouseholdFact(
        "junior_pupils", "children attending junior high school (SMP/MTs)", _in_school(Education.JUNIOR_HIGH)
    ),
    HouseholdFact(
        "senior_pupils", "children attending senior high school (SMA/SMK/MA)", _in_school(Education.SENIOR_HIGH)
    ),
    HouseholdFact(
        "severe_disability",
        "members with a severe disability",
        lambda ctx: ctx.members.c.disability == Disability.SEVERE.value,
    ),
    HouseholdFact("elderly_60", "members aged 60 or more", _at_least(60)),
]


@hookimpl
def siks_register_facts() -> list[HouseholdFact]:
    return CORE_FACTS
