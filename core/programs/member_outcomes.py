"""The members a program cycle counts, as the identity checks left them (docs/identity-consequences.md).

Two outcomes of the latest completed check run reach a cycle, both read set-based inside its
statements (never one member at a time), and only when some completed run holds them — else a
cycle reads the members table exactly as before:

- a program that declares ``refuse_civil_deceased`` leaves out the members the civil registry
  (Adminduk) records as deceased: they count for no fact and no component, and a household that
  would be eligible only through them is refused with the reason;
- a program whose facts or benefit read ``FactContext.school_level()`` (PKH's school components)
  sees, per member, the level the school registry (Dapodik) found the child enrolled at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import FromClause, Select, String, case, exists, literal, null, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import visitors

from core.foundation.enums import IdentityStatus, MemberStatus
from core.identity.outcomes import any_outcome, civil_deceased, school_outcomes
from core.programs.facts import facts_select
from core.programs.periods import Period
from core.programs.registry import ProgramRegistry
from core.programs.types import BenefitContext, FactContext, Program
from core.reference.formats import Source
from core.storage.records import HOUSEHOLDS, MEMBERS

SCHOOL_LEVEL = "school_level"
ALL_DECEASED = "every active member is recorded as deceased by the civil registry (Adminduk)"
ONLY_THROUGH_DECEASED = "eligible only through members the civil registry (Adminduk) records as deceased"


@dataclass(frozen=True)
class MemberView:
    """The members relation a cycle's facts and benefit read, and what it leaves out."""

    members: FromClause  # the members table, or a view of it (``counted_members``)
    registry_members: FromClause  # the same without leaving anyone out: what the registry alone says
    deceased: Select[Any] | None  # (member_id, household_id) left out as deceased, if any


def reads_school(registry: ProgramRegistry, program: Program, period: Period) -> bool:
    """Whether the program's facts or benefit read ``FactContext.school_level()`` (found by walking their SQL)."""
    probe = select(*MEMBERS.c, null().label(SCHOOL_LEVEL)).subquery("probe_members")
    ctx = FactContext(members=probe, period=period)
    built: list[Any] = [fact.condition(ctx) for fact in registry.facts.values()]
    facts = facts_select(registry, period, members=probe).subquery("probe_facts")
    built.append(program.benefit.components(BenefitContext(facts, probe, period, program.settings_for(period), ctx)))
    return any(
        getattr(element, "table", None) is probe and getattr(element, "name", None) == SCHOOL_LEVEL
        for sql in built
        for element in visitors.iterate(sql)
    )


def _relation(school: Select[Any] | None, leave_out: Select[Any] | None) -> FromClause:
    if school is None and leave_out is None:
        return MEMBERS
    columns: list[Any] = list(MEMBERS.c)
    source: FromClause = MEMBERS
    if school is not None:
        levels = school.subquery("school_outcomes")
        source = MEMBERS.outerjoin(levels, levels.c.member_id == MEMBERS.c.id)
        columns.append(levels.c.level.label(SCHOOL_LEVEL))
    query = select(*columns).select_from(source)
    if leave_out is not None:
        query = query.where(MEMBERS.c.id.not_in(select(leave_out.subquery("left_out").c.member_id)))
    return query.subquery("counted_members")


async def member_view(conn: AsyncConnection, registry: ProgramRegistry, program: Program, period: Period) -> MemberView:
    """The members ``program`` counts in ``period``: two short probes, then plain SQL."""
    deceased = None
    if program.refuse_civil_deceased and await any_outcome(conn, Source.ADMINDUK, [IdentityStatus.DECEASED]):
        deceased = civil_deceased()
    school = None
    if reads_school(registry, program, period) and await any_outcome(
        conn, Source.DAPODIK, [IdentityStatus.ENROLLED, IdentityStatus.NOT_ENROLLED]
    ):
        school = school_outcomes()
    return MemberView(_relation(school, deceased), _relation(school, None), deceased)


def deceased_refusals(
    view: MemberView,
    registry: ProgramRegistry,
    program: Program,
    period: Period,
    where: list[Any],
    eligible: Any,
    candidates: FromClause,
) -> Select[tuple[int, str]] | None:
    """``(household_id, reason)`` for the households eligible on the registry's members alone but not
    once the civilly deceased are left out (``eligible(facts)`` builds the eligibility over a facts row)."""
    if view.deceased is None:
        return None
    left_out = view.deceased.subquery("civil_deceased_members")
    touched = [*where, HOUSEHOLDS.c.id.in_(select(left_out.c.household_id))]
    facts = facts_select(registry, period, where=touched, members=view.registry_members).subquery("registry_facts")
    remaining = exists().where(
        MEMBERS.c.household_id == facts.c.household_id,
        MEMBERS.c.status == MemberStatus.ACTIVE.value,
        MEMBERS.c.id.not_in(select(left_out.c.member_id)),
    )
    reason = case((remaining, literal(ONLY_THROUGH_DECEASED, String)), else_=literal(ALL_DECEASED, String))
    return select(facts.c.household_id, reason.label("reason")).where(
        eligible(facts), facts.c.household_id.not_in(select(candidates.c.household_id))
    )
