"""KUBe (Kelompok Usaha Bersama): joint-business groups of poor families and their capital grant.

Registered through the ``siks.programs`` entry point like any third-party program.
"""

from __future__ import annotations

from pathlib import Path

import strawberry

from core.plugin_api import Program, SchemaField, add_api_catalog, hookimpl
from plugins.kube.program import kube_program

add_api_catalog(Path(__file__).parent / "locale")  # the Indonesian of the groups' refusals


@hookimpl
def siks_register_programs() -> list[Program]:
    return [kube_program()]


@hookimpl
def siks_register_migrations() -> list[str]:
    return [str(Path(__file__).parent / "migrations")]


@hookimpl
def siks_extra_household_fields() -> list[SchemaField]:
    from plugins.kube import schema  # the GraphQL layer is imported only when the schema is assembled

    return [
        SchemaField(
            "kubeGroup", strawberry.field(resolver=schema.household_group, description="The family's KUBe group.")
        )
    ]


@hookimpl
def siks_extra_query_fields() -> list[SchemaField]:
    from plugins.kube import schema

    return [
        SchemaField(
            "kubeGroups",
            strawberry.field(
                resolver=schema.village_groups,
                description="A village's active KUBe groups.",
                metadata=schema.VILLAGE_GROUPS,
            ),
        )
    ]


@hookimpl
def siks_extra_mutation_fields() -> list[SchemaField]:
    from plugins.kube import schema

    return [
        SchemaField(
            "formKubeGroup", strawberry.mutation(resolver=schema.form_kube_group, description="Form a KUBe group.")
        ),
        SchemaField(
            "changeKubeGroup",
            strawberry.mutation(
                resolver=schema.change_kube_group, description="Rename a group or change its families."
            ),
        ),
        SchemaField(
            "dissolveKubeGroup",
            strawberry.mutation(resolver=schema.dissolve_kube_group, description="Dissolve a group, with a reason."),
        ),
    ]


@hookimpl
def siks_extra_policies() -> list[str]:
    return [
        "p, kube_officer, kube_group, (read)|(write)",
        "p, kube_officer, household, read",
        "g, kube_officer, authenticated",
        "p, regency_office, kube_group, (read)|(write)",
        "p, data_centre, kube_group, (read)|(write)",
        "p, district_officer, kube_group, read",
        "p, village_operator, kube_group, read",
    ]
