"""PBI-JK as a program: poor households' members with a valid NIK, the state paying each one's premium."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, func, literal, select

from core.plugin_api import (
    BenefitContext,
    BenefitRule,
    DecileAtMost,
    EligibilityRule,
    FactContext,
    HouseholdFact,
    MemberStatus,
    PeriodKind,
    Program,
    RuleContext,
    load_program_settings,
)

SLUG = "pbi_jk"
COMPONENT = "pbi_premium"
#: The BPJS Kesehatan segment the state budget pays for; registration files carry it on every row.
SEGMENT = "PBI-APBN"
REQUIRED_SETTINGS = ("max_decile", "monthly_premium")


def valid_nik(ctx: FactContext) -> ColumnElement[bool]:
    """A member BPJS can register: a NIK of 16 digits (the registry checks its structure on every write)."""
    return func.length(ctx.members.c.nik) == 16


#: How many active members of a household BPJS can register.
INSURABLE = HouseholdFact("pbi_insurable", "active members with a valid NIK (BPJS registers people by NIK)", valid_nik)


class HasInsurableMember(EligibilityRule):
    code = "valid_nik"
    description = "at least one active member with a valid NIK"

    def predicate(self, ctx: RuleContext) -> ColumnElement[bool]:
        return ctx.facts.c.pbi_insurable > 0

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        if passed:
            return f"members with a valid NIK ×{facts['pbi_insurable']}"
        return "no member with a valid NIK"


class PremiumPerMember(BenefitRule):
    """``monthly_premium`` for every active member with a valid NIK, each month of the period."""

    def components(self, ctx: BenefitContext) -> Select[Any]:
        members = ctx.members  # every member, inactive ones too: keep the active ones
        amount = int(ctx.config["monthly_premium"]) * ctx.period.months
        return select(
            ctx.facts.c.household_id,
            members.c.id.label("member_id"),
            literal(COMPONENT, String).label("component"),
            literal(amount, Integer).label("amount"),
        ).select_from(
            ctx.facts.join(
                members,
                and_(
                    members.c.household_id == ctx.facts.c.household_id,
                    members.c.status == MemberStatus.ACTIVE.value,
                    valid_nik(ctx.fact_context),
                ),
            )
        )


def pbi_jk_program() -> Program:
    return Program(
        slug=SLUG,
        name="Penerima Bantuan Iuran Jaminan Kesehatan (PBI-JK)",
        description="The state pays the monthly JKN health-insurance premium of every member with a valid NIK "
        "of the poorest households, registered with BPJS Kesehatan in the PBI-APBN segment.",
        period_kind=PeriodKind.MONTH,
        rules=(HasInsurableMember(), DecileAtMost()),
        benefit=PremiumPerMember(),
        channel="bpjs_premium",
        refuse_civil_deceased=True,  # no premium for a person the civil registry records as deceased
        settings=load_program_settings(__package__ or __name__, required=REQUIRED_SETTINGS),
    )
