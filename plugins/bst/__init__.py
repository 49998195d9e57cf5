"""BST (Bantuan Sosial Tunai): cash a family a month through the post office (PT Pos Indonesia).

Only for families that receive neither PKH nor BPNT in an overlapping period: the program
declares ``excludes``, and core's exclusion rule and the cycle's double-recipient check enforce
it. Amount and welfare-decile threshold per year live in ``settings.toml`` beside this file.
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
    slug="bst",
    name="Bantuan Sosial Tunai (BST)",
    description="Cash for registry (DTKS) families that receive neither PKH nor BPNT, paid at the post office.",
    period_kind=PeriodKind.MONTH,
    rules=(DecileAtMost(),),
    benefit=FamilyAmount(),
    channel="post_office",
    settings=load_program_settings(__name__, required=("max_decile", "monthly_amount")),
    excludes=("pkh", "bpnt"),
    refuse_civil_deceased=True,
    disbursement_fields=(DisbursementField("account_reference", "The post-office payment voucher (undangan) code."),),
)


@hookimpl
def siks_register_programs() -> list[Program]:
    return [PROGRAM]
