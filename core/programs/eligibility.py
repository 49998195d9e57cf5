"""Eligibility: the same SQL predicates for a whole population and for one household.

``eligible_condition`` is what a cycle puts in its INSERT ... SELECT; ``explain`` evaluates every
rule's predicate as a column for a set of households (one statement per program, whatever the
number of households) and words each outcome with the rule's own ``explain``. Both count the
members as a cycle does (``core.programs.member_outcomes``: the civil registry's deaths, Dapodik's
enrolment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.models import Enrollment
from core.programs.facts import facts_select
from core.programs.member_outcomes import member_view
from core.programs.periods import Period
from core.programs.registry import ProgramRegistry
from core.programs.types import EligibilityRule, Program, RuleContext
from core.storage.records import HOUSEHOLDS

ENROLLMENTS = Enrollment.__table__


class ExclusionRule(EligibilityRule):
    """Core's rule for ``Program.excludes``: not enrolled in an excluded program in an overlapping period."""

    code = "exclusion"
    description = "not enrolled in a program this one excludes, in an overlapping period"

    def __init__(self, excluded: Sequence[str]) -> None:
        self.excluded = list(excluded)

    def predicate(self, ctx: RuleContext) -> ColumnElement[bool]:
        return ~exists(
            select(ENROLLMENTS.c.id).where(
                ENROLLMENTS.c.household_id == ctx.facts.c.household_id,
                ENROLLMENTS.c.program.in_(self.excluded),
                ENROLLMENTS.c.status == "enrolled",
                ENROLLMENTS.c.period_start < ctx.period.end,
                ENROLLMENTS.c.period_end > ctx.period.start,
            )
        )

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        names = " or ".join(slug.upper() for slug in self.excluded)
        return f"receives no {names} in this period" if passed else f"already receives {names} in this period"


def rules_of(program: Program) -> list[EligibilityRule]:
    """The program's own rules, then core's exclusion rule when it excludes other programs."""
    rules = list(program.rules)
    if program.excludes:
        rules.append(ExclusionRule(program.excludes))
    return rules


def eligible_condition(program: Program, facts: Any, period: Period) -> ColumnElement[bool]:
    """SQL true for the facts rows of households eligible for ``program`` in ``period``."""
    ctx = RuleContext(facts=facts, period=period, config=program.settings_for(period))
    return and_(*(rule.predicate(ctx) for rule in rules_of(program)))


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    code: str
    passed: bool
    explanation: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one household is eligible for one program in one period, and why."""

    program: str
    period: str
    eligible: bool
    outcomes: list[RuleOutcome]

    @property
    def summary(self) -> str:
        passed = [o.explanation for o in self.outcomes if o.passed]
        failed = [o.explanation for o in self.outcomes if not o.passed]
        if self.eligible:
            return "eligible: " + "; ".join(passed)
        return "not eligible: " + "; ".join(failed)


async def explain(
    conn: AsyncConnection,
    registry: ProgramRegistry,
    household_ids: Iterable[int],
    periods: Mapping[str, Period],
) -> dict[int, list[Verdict]]:
    """Verdicts for every program in ``periods`` (slug → period) for each household; one statement a program."""
    ids = list(set(household_ids))
    verdicts: dict[int, list[Verdict]] = {household_id: [] for household_id in ids}
    if not ids:
        return verdicts
    for slug, period in sorted(periods.items()):
        program = registry.program(slug)
        config = program.settings_for(period)
        view = await member_view(conn, registry, program, period)
        facts = facts_select(registry, period, where=[HOUSEHOLDS.c.id.in_(ids)], members=view.members).subquery("facts")
        ctx = RuleContext(facts=facts, period=period, config=config)
        rules = rules_of(program)
        columns = [rule.predicate(ctx).label(f"rule_{index}") for index, rule in enumerate(rules)]
        for row in await conn.execute(select(facts, *columns)):
            values = row._mapping
            outcomes = []
            for index, rule in enumerate(rules):
                passed = bool(values[f"rule_{index}"])
                outcomes.append(RuleOutcome(rule.code, passed, rule.explain(values, config, passed)))
            verdicts[values["household_id"]].append(
                Verdict(program=slug, period=period.label, eligible=all(o.passed for o in outcomes), outcomes=outcomes)
            )
    return verdicts
