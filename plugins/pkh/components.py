"""PKH components: who in a family counts, and the family's benefit from its highest-paying ones.

Each component is a household fact of core (a member condition). A member counts once, for the
highest-paying component they qualify for; a family is paid for at most ``max_components`` of
its members' components, the highest-paying ones (ties by member id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, case, func, literal, or_, select

from core.plugin_api import (
    CORE_FACTS,
    BenefitContext,
    BenefitRule,
    EligibilityRule,
    FactContext,
    HouseholdFact,
    MemberStatus,
    RuleContext,
    period_share,
)

_FACTS = {fact.name: fact for fact in CORE_FACTS}


@dataclass(frozen=True, slots=True)
class Component:
    """A PKH component (komponen): its code in settings and enrollments, the fact it counts, its words.

    A school component (``school`` is the education level) counts a child at the level the school
    registry (Dapodik) found them enrolled at, where Dapodik checked them: a child Dapodik found
    not enrolled counts for no school component; a child it did not check counts as the registry
    says (in school, at their education level). ``registry_fact`` is core's fact for that rule.
    """

    code: str
    fact: str
    label: str
    registry_fact: str = ""
    school: str = ""

    def condition(self, ctx: FactContext) -> ColumnElement[bool]:
        registry = _FACTS[self.registry_fact or self.fact].condition(ctx)
        level = ctx.school_level() if self.school else None
        if level is None:
            return registry
        return or_(and_(level.is_(None), registry), level == self.school)


COMPONENTS: tuple[Component, ...] = (
    Component("pregnant", "pregnant", "pregnant woman"),
    Component("child_0_6", "children_0_6", "child 0–6"),
    Component("primary_pupil", "pkh_primary_pupils", "primary pupil", "primary_pupils", "primary"),
    Component("junior_pupil", "pkh_junior_pupils", "junior high pupil", "junior_pupils", "junior_high"),
    Component("senior_pupil", "pkh_senior_pupils", "senior high pupil", "senior_pupils", "senior_high"),
    Component("severe_disability", "severe_disability", "severe disability"),
    Component("elderly_60", "elderly_60", "elderly 60+"),
)

#: PKH's own counts of school children (Dapodik where it checked them; core's pupil facts count by the registry).
SCHOOL_FACTS: tuple[HouseholdFact, ...] = tuple(
    HouseholdFact(c.fact, f"{c.label}s for PKH: Dapodik's enrolment where it checked the child", c.condition)
    for c in COMPONENTS
    if c.school
)


def paid_components(config: Mapping[str, Any]) -> list[Component]:
    """The components with an amount above zero in the settings, in declaration order."""
    amounts = config["components"]
    return [component for component in COMPONENTS if int(amounts.get(component.code, 0)) > 0]


#: Members who count under any component heading: one count answers the eligibility rule, so a
#: whole-population run aggregates one fact instead of seven.
ANY_COMPONENT = HouseholdFact(
    "pkh_components",
    "members who count as a PKH component (pregnant, child 0–6, pupil, severe disability, elderly 60+)",
    lambda ctx: or_(*(component.condition(ctx) for component in COMPONENTS)),
)


class HasComponent(EligibilityRule):
    """At least one active member counts as a PKH component."""

    code = "components"
    description = "at least one PKH component: pregnant woman, child 0–6, school child, severe disability, elderly 60+"

    def predicate(self, ctx: RuleContext) -> ColumnElement[bool]:
        paid = paid_components(ctx.config)
        if len(paid) == len(COMPONENTS):
            return ctx.facts.c[ANY_COMPONENT.name] > 0
        return or_(*(ctx.facts.c[component.fact] > 0 for component in paid))

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        counted = [(c.label, facts[c.fact]) for c in paid_components(config) if facts[c.fact]]
        if not counted:
            return "no PKH component (" + ", ".join(c.label for c in paid_components(config)) + ")"
        return ", ".join(f"{label} ×{count}" for label, count in counted)


class ComponentBenefit(BenefitRule):
    """Member-level component rows, the family's highest-paying ``max_components`` of them."""

    def components(self, ctx: BenefitContext) -> Select[Any]:
        members = ctx.members
        paid = paid_components(ctx.config)
        amounts = {c.code: period_share(int(ctx.config["components"][c.code]), ctx.period) for c in paid}
        # The first matching branch is the member's best component: branches by amount, highest first.
        conditions = [(c.condition(ctx.fact_context), c.code) for c in sorted(paid, key=lambda c: -amounts[c.code])]
        per_member = (
            select(
                ctx.facts.c.household_id,
                members.c.id.label("member_id"),
                case(*((condition, literal(code, String)) for condition, code in conditions)).label("component"),
            )
            .select_from(
                ctx.facts.join(
                    members,
                    and_(
                        members.c.household_id == ctx.facts.c.household_id,
                        members.c.status == MemberStatus.ACTIVE.value,
                    ),
                )
            )
            .where(or_(*(condition for condition, _ in conditions)))
            .subquery("pkh_member_components")
        )
        amount = case({code: literal(value, Integer) for code, value in amounts.items()}, value=per_member.c.component)
        priced = select(per_member, amount.label("amount")).subquery("pkh_priced_components")
        place = func.row_number().over(
            partition_by=priced.c.household_id, order_by=(priced.c.amount.desc(), priced.c.member_id)
        )
        ranked = select(priced, place.label("place")).subquery("pkh_ranked_components")
        return select(
            ranked.c.household_id,
            ranked.c.member_id,
            ranked.c.component,
            ranked.c.amount,
            ranked.c.place.label("line"),
        ).where(ranked.c.place <= int(ctx.config["max_components"]))
