"""BPNT / Sembako (Bantuan Pangan Non-Tunai): non-cash food aid a family a month through the KKS card.

Amount and welfare-decile threshold per year live in ``settings.toml`` beside this file.
"""

from __future__ import annotations

from core.plugin_api import (
    DecileAtMost,
    DisbursementField,
    FamilyAmount,
    PeriodKind,
    Program,
    hookimpl,
    load_program_settings,
)

PROGRAM = Program(
    slug="bpnt",
    name="Bantuan Pangan Non-Tunai (BPNT / Sembako)",
    description="Non-cash food aid for poor families, an amount a month spent at e-warong shops with the KKS card.",
    period_kind=PeriodKind.MONTH,
    rules=(DecileAtMost(),),
    benefit=FamilyAmount(),
    channel="kks_card",
    settings=load_program_settings(__name__, required=("max_decile", "monthly_amount")),
    refuse_civil_deceased=True,
    disbursement_fields=(DisbursementField("account_reference", "The family's KKS card number."),),
)


@hookimpl
def siks_register_programs() -> list[Program]:
    return [PROGRAM]
