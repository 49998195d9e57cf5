"""The set-based heart of a program cycle: who is eligible, what they get, who is refused, who is enrolled.

Each step is one ``INSERT … SELECT`` into a temporary work table of the current transaction, so
the whole population is read once and every later step joins small, indexed tables:

1. ``work_candidates``: the household-facts row (only the facts the program reads) of every
   active household in the region that passes the program's own rules and is not yet enrolled
   in the program for the period;
2. ``work_components``: the program's benefit components for those households, numbered in
   lines per household (highest amount first);
3. ``work_refusals``: ``(household, reason)`` for every double-recipient case among them
   (``core.programs.double_recipients``; the NIK and KK scans only when their unique index is
   not in place);
4. ``work_quotas``: the program-period's quotas, less what earlier cycles enrolled under them;
5. ``work_selected``: the households to enrol, poorest first within each quota region (decile,
   then welfare score, then id), each with its amount and an ordinal for id assignment.

A preview runs the same steps and rolls back; a run writes from ``work_selected`` and drops the
tables before committing (PostgreSQL drops them on commit by itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Float,
    FromClause,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    union,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import visitors
from sqlalchemy.types import NullType, TypeEngine

from core.models import Enrollment
from core.models.types import code_type
from core.programs import double_recipients as doubles
from core.programs.eligibility import eligible_condition
from core.programs.facts import facts_select
from core.programs.member_outcomes import MemberView, deceased_refusals, member_view
from core.programs.quotas import most_specific_region, remaining_quotas
from core.programs.registry import ProgramRegistry
from core.programs.scope import NATIONAL, ProgramScope, covers
from core.programs.types import BenefitContext, FactContext, RuleContext
from core.storage.records import HOUSEHOLDS, MEMBERS

ENROLLMENTS = Enrollment.__table__
#: PostgreSQL memory for each sort and hash of a cycle's transaction (``SET LOCAL work_mem``). With
#: the server's default (4MB) a whole-population run spills its sorts to disk and joins in batches,
#: and batches hand rows on out of household order, so the index entries written from them land
#: all over their indexes (a million households: 1.1 s more for PKH's components alone).
CYCLE_WORK_MEM = "64MB"
#: A household id keying a work table: on SQLite the rowid itself (no index of its own to write);
#: on PostgreSQL a plain column, as a key there would be one more index to write and nothing looks
#: a work row up by household (the joins hash).
ROW_KEY: TypeEngine[int] = Integer().with_variant(BigInteger(), "postgresql")
_FIXED_TYPES: dict[str, TypeEngine[object]] = {
    "village_code": code_type(),
    "kk_number": String(16),
    "welfare_score": Float(),
    "ranked": Boolean(),
}


@dataclass(frozen=True)
class WorkTables:
    candidates: Table
    components: Table
    refusals: Table
    quotas: Table
    selected: Table

    def all(self) -> list[Table]:
        return [self.candidates, self.components, self.refusals, self.quotas, self.selected]


def _temporary(name: str, metadata: MetaData, *columns: Column[object] | Index) -> Table:
    return Table(name, metadata, *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


def facts_read(registry: ProgramRegistry, scope: ProgramScope) -> ProgramRegistry:
    """The registry with only the facts the program's rules and benefit read.

    Found by walking the SQL they build over a probe facts row, so a whole-population run
    aggregates members only for the counts it needs (BST none, PKH one: members counted as a component).
    """
    program, period = scope.program, scope.period
    probe = facts_select(registry, period).subquery("facts")
    config = program.settings_for(period)
    built: list[Any] = [
        rule.predicate(RuleContext(facts=probe, period=period, config=config)) for rule in program.rules
    ]
    fact_context = FactContext(members=MEMBERS, period=period)
    built.append(program.benefit.components(BenefitContext(probe, MEMBERS, period, config, fact_context)))
    read = {
        element.name for sql in built for element in visitors.iterate(sql) if getattr(element, "table", None) is probe
    }
    return replace(registry, facts={name: fact for name, fact in registry.facts.items() if name in read})


def _household_key(dialect: str) -> Column[int]:
    return Column("household_id", ROW_KEY, primary_key=dialect == "sqlite", nullable=False)


def _work_tables(scope: ProgramScope, registry: ProgramRegistry, dialect: str) -> WorkTables:
    metadata = MetaData()
    fact_columns = [
        Column(
            column.name,
            _FIXED_TYPES.get(column.name, Integer() if isinstance(column.type, NullType) else column.type),
        )
        for column in facts_select(registry, scope.period).selected_columns
        if column.name != "household_id"
    ]
    return WorkTables(
        candidates=_temporary("work_candidates", metadata, _household_key(dialect), *fact_columns),
        components=_temporary(
            "work_components",
            metadata,
            Column("household_id", BigInteger, nullable=False),
            Column("line", Integer, nullable=False),
            Column("member_id", BigInteger),
            Column("component", String(32), nullable=False),
            Column("amount", BigInteger, nullable=False),
        ),
        refusals=_temporary(
            "work_refusals",
            metadata,
            Column("household_id", BigInteger, nullable=False),
            Column("reason", String(200), nullable=False),
        ),
        quotas=_temporary(
            "work_quotas",
            metadata,
            Column("region_code", code_type(), primary_key=True),
            Column("quota", Integer, nullable=False),
            Column("remaining", Integer, nullable=False),
        ),
        selected=_temporary(
            "work_selected",
            metadata,
            _household_key(dialect),
            Column("ordinal", BigInteger, nullable=False),
            Column("village_code", code_type(), nullable=False),
            Column("amount", BigInteger, nullable=False),
            Column("quota_region", code_type()),
        ),
    )


@dataclass(frozen=True)
class Selection:
    """The work tables of one cycle computation, filled; valid until the transaction ends."""

    scope: ProgramScope
    tables: WorkTables
    has_quotas: bool
    outcome_tables: tuple[Table, ...] = ()  # the identity outcomes a cycle read (``MemberView.tables``)


async def _analyze(conn: AsyncConnection, table: Table) -> None:
    """PostgreSQL's autovacuum never analyses temporary tables; give the planner their sizes."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"ANALYZE {table.name}"))


async def _create(conn: AsyncConnection, tables: WorkTables) -> None:
    for table in tables.all():
        if conn.dialect.name == "sqlite":
            await conn.execute(text(f"DROP TABLE IF EXISTS temp.{table.name}"))
        await conn.run_sync(lambda sync, table=table: table.create(sync))


async def drop_work_tables(conn: AsyncConnection, selection: Selection) -> None:
    """Drop the work tables before the transaction commits (PostgreSQL drops them at commit anyway)."""
    if conn.dialect.name == "sqlite":
        for table in [*selection.tables.all(), *selection.outcome_tables]:
            await conn.execute(text(f"DROP TABLE temp.{table.name}"))


def _region_where(scope: ProgramScope) -> list[ColumnElement[bool]]:
    return [] if scope.region_code == NATIONAL else [covers(HOUSEHOLDS.c.village_code, scope.region_code)]


async def _eligibility(conn: AsyncConnection, scope: ProgramScope) -> Callable[[FromClause], ColumnElement[bool]]:
    """The condition a facts row meets to be a candidate: the program's rules and core's exclusion
    rule, and, when another region's cycle enrolled households for this program-period, not one of those."""
    program, period = scope.program, scope.period
    of_this_cycle = (ENROLLMENTS.c.program == program.slug, ENROLLMENTS.c.period == period.label)
    others = (await conn.execute(select(ENROLLMENTS.c.id).where(*of_this_cycle).limit(1))).first() is not None

    def eligible(facts: FromClause) -> ColumnElement[bool]:
        conditions = [eligible_condition(program, facts, period)]
        if others:
            enrolled = select(ENROLLMENTS.c.id).where(
                *of_this_cycle, ENROLLMENTS.c.household_id == facts.c.household_id
            )
            conditions.append(~exists(enrolled))
        return and_(*conditions)

    return eligible


async def _fill_candidates(
    conn: AsyncConnection,
    registry: ProgramRegistry,
    scope: ProgramScope,
    table: Table,
    view: MemberView,
    eligible: Callable[[FromClause], ColumnElement[bool]],
) -> None:
    facts = facts_select(
        registry, scope.period, where=_region_where(scope), members=view.registry_members, leave_out=view.left_out()
    ).subquery("facts")
    names = [column.name for column in table.columns]
    await conn.execute(
        insert(table).from_select(names, select(*(facts.c[name] for name in names)).where(eligible(facts)))
    )
    await _analyze(conn, table)


async def _fill_components(conn: AsyncConnection, scope: ProgramScope, tables: WorkTables, view: MemberView) -> None:
    program, period = scope.program, scope.period
    ctx = BenefitContext(
        facts=tables.candidates,
        members=view.members,
        period=period,
        config=program.settings_for(period),
        fact_context=FactContext(members=view.members, period=period),
    )
    parts = program.benefit.components(ctx).subquery("benefit_components")
    household, member_id, component, amount, *numbered_by_rule = parts.c
    member = cast(member_id, BigInteger)  # a family line's bare NULL is text to PostgreSQL
    # Lines as the rule numbered them (a fifth column), or numbered here, highest amount first: a
    # rule that ranks its components anyway (PKH) saves the whole-population run a second sort.
    if numbered_by_rule:
        line = numbered_by_rule[0]
    else:
        line = func.row_number().over(partition_by=household, order_by=(amount.desc(), component, member))
    names = ["household_id", "line", "member_id", "component", "amount"]
    numbered = select(household, line, member, component, amount)
    await conn.execute(insert(tables.components).from_select(names, numbered))
    await _analyze(conn, tables.components)


async def _fill_refusals(
    conn: AsyncConnection,
    registry: ProgramRegistry,
    scope: ProgramScope,
    tables: WorkTables,
    view: MemberView,
    eligible: Callable[[FromClause], ColumnElement[bool]],
) -> None:
    candidates, slug = tables.candidates, scope.program.slug
    checks = [doubles.deceased_refusals(tables.components)]
    civil = deceased_refusals(view, registry, scope.program, scope.period, _region_where(scope), eligible, candidates)
    if civil is not None:
        checks.append(civil)
    if not await doubles.unique_while_active(conn, doubles.NIK_INDEX):
        checks.append(doubles.nik_refusals(candidates))
    if not await doubles.unique_while_active(conn, doubles.KK_INDEX):
        checks.append(doubles.kk_refusals(candidates))
    excluding = doubles.excluded_by(registry, slug)
    if excluding:
        checks.append(doubles.exclusion_refusals(candidates, slug, scope.period, excluding))
    await conn.execute(insert(tables.refusals).from_select(["household_id", "reason"], union(*checks)))


async def _fill_quotas(conn: AsyncConnection, scope: ProgramScope, table: Table) -> bool:
    result = await conn.execute(
        insert(table).from_select(["region_code", "quota", "remaining"], remaining_quotas(scope))
    )
    return bool(result.rowcount)


async def _fill_selected(conn: AsyncConnection, tables: WorkTables, has_quotas: bool) -> None:
    candidates, components, quotas = tables.candidates, tables.components, tables.quotas
    amounts = (
        select(components.c.household_id, func.sum(components.c.amount).label("amount"))
        .group_by(components.c.household_id)
        .subquery("amounts")
    )
    source = candidates.join(amounts, amounts.c.household_id == candidates.c.household_id)
    not_refused = candidates.c.household_id.not_in(select(tables.refusals.c.household_id))
    if has_quotas:
        joined, region = most_specific_region(source, candidates.c.village_code, quotas)
        place = func.row_number().over(
            partition_by=region,
            order_by=(candidates.c.decile, candidates.c.welfare_score, candidates.c.household_id),
        )
        ranked = (
            select(
                candidates.c.household_id,
                candidates.c.village_code,
                amounts.c.amount,
                region.label("quota_region"),
                place.label("place"),
            )
            .select_from(joined)
            .where(not_refused, region.is_not(None))
            .subquery("ranked")
        )
        chosen = (
            select(ranked.c.household_id, ranked.c.village_code, ranked.c.amount, ranked.c.quota_region)
            .select_from(ranked.join(quotas, quotas.c.region_code == ranked.c.quota_region))
            .where(ranked.c.place <= quotas.c.remaining)
            .subquery("chosen")
        )
    else:
        chosen = (
            select(
                candidates.c.household_id,
                candidates.c.village_code,
                amounts.c.amount,
                literal(None, String).label("quota_region"),
            )
            .select_from(source)
            .where(not_refused)
            .subquery("chosen")
        )
    # Numbers the new enrollments' ids in household order: the enrollments are then written in
    # that order too, so their foreign-key checks and index entries walk the households table and
    # its index forward instead of jumping about (on PostgreSQL over a million households, 2x faster).
    ordinal = func.row_number().over(order_by=chosen.c.household_id)
    final = select(chosen.c.household_id, ordinal, chosen.c.village_code, chosen.c.amount, chosen.c.quota_region)
    names = ["household_id", "ordinal", "village_code", "amount", "quota_region"]
    await conn.execute(insert(tables.selected).from_select(names, final))
    await _analyze(conn, tables.selected)


async def select_households(conn: AsyncConnection, registry: ProgramRegistry, scope: ProgramScope) -> Selection:
    """Fill the work tables for ``scope`` in the current transaction; nothing outside them is written."""
    registry = facts_read(registry, scope)
    tables = _work_tables(scope, registry, conn.dialect.name)
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"SET LOCAL work_mem = '{CYCLE_WORK_MEM}'"))
    await _create(conn, tables)
    view = await member_view(conn, registry, scope.program, scope.period, materialise=True)
    eligible = await _eligibility(conn, scope)
    await _fill_candidates(conn, registry, scope, tables.candidates, view, eligible)
    await _fill_components(conn, scope, tables, view)
    await _fill_refusals(conn, registry, scope, tables, view, eligible)
    has_quotas = await _fill_quotas(conn, scope, tables.quotas)
    await _fill_selected(conn, tables, has_quotas)
    return Selection(scope=scope, tables=tables, has_quotas=has_quotas, outcome_tables=view.tables)
