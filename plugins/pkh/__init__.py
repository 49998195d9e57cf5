"""PKH (Program Keluarga Harapan): conditional cash for poor families with components.

Components are pregnant women, children 0–6, primary/junior/senior high school children, members
with a severe disability and the elderly 60+; a family is paid for at most four, the
highest-paying ones. A period is one quarter, one of the four stages (tahap) of a year. Amounts
and thresholds per year live in ``settings.toml`` beside this file.

School components follow the school registry (Dapodik) where its latest completed check found
the child: enrolled, at the level it gives; not enrolled, no school component; not checked, the
registry's education field as before. Members the civil registry (Adminduk) records as deceased
count for no component (``refuse_civil_deceased``). docs/programs.md has the rules.
"""

from __future__ import annotations

from core.plugin_api import (
    DecileAtMost,
    DisbursementField,
    HouseholdFact,
    PeriodKind,
    Program,
    hookimpl,
    load_program_settings,
)
from plugins.pkh.components import ANY_COMPONENT, SCHOOL_FACTS, ComponentBenefit, HasComponent

PROGRAM = Program(
    slug="pkh",
    name="Program Keluarga Harapan (PKH)",
    description="Conditional cash for poor families with pregnant women, young or school children, members "
    "with a severe disability or the elderly; at most four components a family, paid in four stages a year.",
    period_kind=PeriodKind.QUARTER,
    rules=(DecileAtMost(), HasComponent()),
    benefit=ComponentBenefit(),
    channel="bank_account",
    settings=load_program_settings(__name__, required=("max_decile", "max_components", "components")),
    refuse_civil_deceased=True,
    disbursement_fields=(DisbursementField("account_reference", "The family's KKS bank account at a Himbara bank."),),
)


@hookimpl
def siks_register_programs() -> list[Program]:
    return [PROGRAM]


@hookimpl
def siks_register_facts() -> list[HouseholdFact]:
    return [ANY_COMPONENT, *SCHOOL_FACTS]
