"""Rules several programs share: a welfare-decile threshold and one amount per family per month.

A program unit's plugin may use them as they are; each reads its figures from the program's
settings for the period (``max_decile``, ``monthly_amount``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, literal, null, select

from core.programs.periods import Period
from core.programs.types import BenefitContext, BenefitRule, EligibilityRule, RuleContext

FAMILY_COMPONENT = "family"


class DecileAtMost(EligibilityRule):
    """The household's welfare decile is at most the program's ``max_decile`` (1 = poorest)."""

    code = "decile"
    description = "welfare decile at most the program's threshold (decile 1 is the poorest tenth)"

    def predicate(self, ctx: RuleContext) -> ColumnElement[bool]:
        return ctx.facts.c.decile <= int(ctx.config["max_decile"])

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        return f"decile {facts['decile']} {'≤' if passed else '>'} {config['max_decile']}"


def period_share(yearly: int, period: Period) -> int:
    """What a yearly amount pays for one period (a quarter pays a quarter), in whole Rupiah."""
    return yearly * period.months // 12


class FamilyAmount(BenefitRule):
    """One family-level component: ``monthly_amount`` Rupiah for every month of the period.

    Not itemised: the enrollment's amount says it all, so cycles store no component row for it.
    """

    itemised = False

    def components(self, ctx: BenefitContext) -> Select[Any]:
        amount = int(ctx.config["monthly_amount"]) * ctx.period.months
        return select(
            ctx.facts.c.household_id,
            null().label("member_id"),
            literal(FAMILY_COMPONENT, String).label("component"),
            literal(amount, Integer).label("amount"),
            literal(1, Integer).label("line"),
        )
