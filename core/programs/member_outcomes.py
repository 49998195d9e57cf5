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

from sqlalchemy import (
    BigInteger,
    Column,
    FromClause,
    MetaData,
    Select,
    String,
    Table,
    case,
    exists,
    insert,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import visitors

from core.foundation.enums import IdentityStatus, MemberStatus
from core.identity.outcomes import any_outcome, civil_deceased, completed_run_count, school_outcomes
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
    tables: tuple[Table, ...] = ()  # temporary tables holding the outcomes (a cycle's), to drop with its others

    def left_out(self) -> Select[Any] | None:
        """The member ids left out, as a filter for ``facts_select`` over ``registry_members``."""
        return None if self.deceased is None else select(self.deceased.subquery("left_out_ids").c.member_id)


def _temporary(name: str, *columns: Column[Any]) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


async def _materialise(conn: AsyncConnection, table: Table, rows: Select[Any]) -> Select[Any]:
    """Fill a temporary table keyed by member from ``rows`` once; later statements look members up in it."""
    if conn.dialect.name == "sqlite":
        await conn.execute(text(f"DROP TABLE IF EXISTS temp.{table.name}"))
    await conn.run_sync(lambda sync: table.create(sync))
    await conn.execute(insert(table).from_select([c.name for c in table.columns], rows))
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"ANALYZE {table.name}"))
    return select(*table.c)


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


async def member_view(
    conn: AsyncConnection, registry: ProgramRegistry, program: Program, period: Period, materialise: bool = False
) -> MemberView:
    """The members ``program`` counts in ``period``: two short probes, then plain SQL.

    ``materialise`` (a cycle over a whole region): the outcomes that count are read once into
    temporary tables keyed by member, which the cycle's statements then look members up in.
    """
    deceased = school = None
    wants_deceased = program.refuse_civil_deceased and await any_outcome(
        conn, Source.ADMINDUK, [IdentityStatus.DECEASED]
    )
    wants_school = reads_school(registry, program, period) and await any_outcome(
        conn, Source.DAPODIK, [IdentityStatus.ENROLLED, IdentityStatus.NOT_ENROLLED]
    )
    if not (wants_deceased or wants_school):
        return MemberView(MEMBERS, MEMBERS, None)
    single_run = await completed_run_count(conn) == 1
    tables: list[Table] = []
    if wants_deceased:
        deceased = civil_deceased(single_run)
        if materialise:
            table = _temporary(
                "work_civil_deceased",
                Column("member_id", BigInteger, primary_key=True),
                Column("household_id", BigInteger, nullable=False),
            )
            deceased = await _materialise(conn, table, deceased)
            tables.append(table)
    if wants_school:
        school = school_outcomes(single_run)
        if materialise:
            table = _temporary(
                "work_school_levels", Column("member_id", BigInteger, primary_key=True), Column("level", String(16))
            )
            school = await _materialise(conn, table, school)
            tables.append(table)
    return MemberView(_relation(school, deceased), _relation(school, None), deceased, tuple(tables))


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
