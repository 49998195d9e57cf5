"""KUBe as a program: families of an active group, poor enough, share the group's capital grant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, Select, cast, exists, func, literal, select

from core.plugin_api import (
    BenefitContext,
    BenefitRule,
    DecileAtMost,
    EligibilityRule,
    PeriodKind,
    Program,
    RuleContext,
    load_program_settings,
)
from plugins.kube.tables import MEMBERSHIPS

SLUG = "kube"
#: What every year of settings.toml must give.
REQUIRED_SETTINGS = ("grant_per_group", "max_decile", "min_families", "max_families")


class InActiveGroup(EligibilityRule):
    code = "kube_group"
    description = "belongs to an active KUBe group"

    def predicate(self, ctx: RuleContext) -> ColumnElement[bool]:
        return exists(
            select(MEMBERSHIPS.c.id).where(
                MEMBERSHIPS.c.household_id == ctx.facts.c.household_id, MEMBERSHIPS.c.active == 1
            )
        )

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        return "member of a KUBe group" if passed else "not in any KUBe group"


class GrantShare(BenefitRule):
    """Each family's equal share of its group's grant (the remainder stays with the group)."""

    def components(self, ctx: BenefitContext) -> Select[Any]:
        sizes = (
            select(MEMBERSHIPS.c.group_id, func.count().label("families"))
            .where(MEMBERSHIPS.c.active == 1)
            .group_by(MEMBERSHIPS.c.group_id)
            .subquery("sizes")
        )
        share = cast(literal(int(ctx.config["grant_per_group"])) / sizes.c.families, Integer)
        return (
            select(
                ctx.facts.c.household_id,
                literal(None, BigInteger).label("member_id"),
                literal("kube_grant_share").label("component"),
                share.label("amount"),
            )
            .select_from(ctx.facts)
            .join(MEMBERSHIPS, (MEMBERSHIPS.c.household_id == ctx.facts.c.household_id) & (MEMBERSHIPS.c.active == 1))
            .join(sizes, sizes.c.group_id == MEMBERSHIPS.c.group_id)
        )


def kube_program() -> Program:
    return Program(
        slug=SLUG,
        name="Kelompok Usaha Bersama (KUBe)",
        description="A capital grant for a joint-business group of 5 to 20 poor families of one village, "
        "shared equally by its families; a family belongs to one group at most.",
        period_kind=PeriodKind.YEAR,
        rules=[InActiveGroup(), DecileAtMost()],
        benefit=GrantShare(),
        channel="bank_transfer",
        settings=load_program_settings(__package__ or __name__, required=REQUIRED_SETTINGS),
    )
