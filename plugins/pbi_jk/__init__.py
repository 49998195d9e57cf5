"""PBI-JK (Penerima Bantuan Iuran Jaminan Kesehatan): the state pays poor people's JKN health-insurance premium.

Registered through the ``siks.programs`` entry point like any third-party program, on
``core.plugin_api`` alone: the program (``program.py``), its household fact, and the ``siks pbi-jk``
commands that write BPJS's registration files and reconcile BPJS's membership snapshot, and the
reconciliation's counts in GraphQL (``programs { pbiJkReconciliation }``).
Premium and decile threshold per year live in ``settings.toml`` beside this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import strawberry

from core.plugin_api import HouseholdFact, Program, SchemaField, add_api_catalog, hookimpl
from plugins.pbi_jk.program import INSURABLE, pbi_jk_program

add_api_catalog(Path(__file__).parent / "locale")  # the Indonesian of the cycles' and reconciliation's refusals


@hookimpl
def siks_register_programs() -> list[Program]:
    return [pbi_jk_program()]


@hookimpl
def siks_register_facts() -> list[HouseholdFact]:
    return [INSURABLE]


@hookimpl
def siks_register_commands() -> list[Any]:
    from plugins.pbi_jk.commands import app  # typer is imported only when the command line asks

    return [app]


@hookimpl
def siks_extra_query_fields() -> list[SchemaField]:
    from plugins.pbi_jk import schema  # the GraphQL layer is imported only when the schema is assembled

    return [
        SchemaField(
            "pbiJkReconciliation",
            strawberry.field(
                resolver=schema.pbi_jk_reconciliation,
                description="A PBI-JK cycle's recipients reconciled against BPJS's membership (the active BPJS "
                "snapshot): NIKs per regency/city with an active PBI-APBN membership, to register and to deactivate, "
                "in the caller's region (regionCode: a part of it; default: all of the cycle the caller may see). "
                "Audited.",
            ),
        )
    ]
