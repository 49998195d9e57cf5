"""Assembling the schema from the per-concern query and mutation types and one application's plugins.

Each call builds a schema of its own from the registry it is given: the plugins' mutations join
``Mutation``, their household and query fields are mounted on ``HouseholdPrograms`` and
``Programs`` for this schema only (``PluginSchema.get_fields``), so two applications with different
plugins can serve from one process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import strawberry
from strawberry.extensions import AddValidationRules, ParserCache, SchemaExtension
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from core.foundation.settings import Settings, get_settings
from core.programs.registry import ProgramRegistry, registry_from_settings
from core.schema import hardening
from core.schema.assembly import assemble, plugin_fields
from core.schema.audit import AuditQuery
from core.schema.auth import ONE_LOGIN, AuthMutation, AuthQuery
from core.schema.authorization import ReadAuthorization, namespace, rules_of, unguarded
from core.schema.cycles import CycleMutation, CycleQuery
from core.schema.disbursements import DisbursementMutation, DisbursementQuery
from core.schema.disclosure import ReadAudit, SyncReadAudit
from core.schema.double_recipients import DoubleRecipientQuery
from core.schema.duplicates import DuplicateMutation, DuplicateQuery
from core.schema.errors import said_in_the_callers_language
from core.schema.execution import PlanningExecutionContext
from core.schema.fieldwork import FieldworkMutation, FieldworkQuery
from core.schema.global_ids import refuse_ids_as_validation_errors
from core.schema.grievances import GrievanceMutation, GrievanceQuery
from core.schema.households import HouseholdQuery
from core.schema.identity import IdentityQuery
from core.schema.list_sizes import Known
from core.schema.mutations import HouseholdMutation
from core.schema.nodes import NodeQuery, node_sources
from core.schema.operation_label import OperationLabel
from core.schema.programs import HouseholdPrograms, ProgramQuery, Programs
from core.schema.proposals import ProposalMutation, ProposalQuery
from core.schema.regions import RegionQuery
from core.schema.routing import ReadRouting
from core.schema.welfare import WelfareMutation, WelfareQuery


@namespace
@strawberry.type(description="Read the registry.")
class Query(
    NodeQuery,
    AuthQuery,
    AuditQuery,
    RegionQuery,
    HouseholdQuery,
    ProgramQuery,
    DisbursementQuery,
    DoubleRecipientQuery,
    CycleQuery,
    WelfareQuery,
    ProposalQuery,
    FieldworkQuery,
    IdentityQuery,
    DuplicateQuery,
    GrievanceQuery,
):
    pass


class AuditedSchema(hardening.Schema):
    """The hardened schema; synchronous execution (introspection) gets ``SyncReadAudit`` for ``ReadAudit`` and no
    ``ReadRouting`` (it reads nothing from the database)."""

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        made = super().get_extensions(sync)
        if sync:
            made = [extension for extension in made if not isinstance(extension, ReadRouting)]
        return [SyncReadAudit() if sync and isinstance(extension, ReadAudit) else extension for extension in made]


MUTATION_BASES: tuple[type, ...] = (
    AuthMutation,
    HouseholdMutation,
    DisbursementMutation,
    CycleMutation,
    WelfareMutation,
    ProposalMutation,
    FieldworkMutation,
    DuplicateMutation,
    GrievanceMutation,
)


class PluginSchema(AuditedSchema):
    """The audited, hardened schema with one registry's plugin fields mounted on core's program namespaces."""

    def __init__(self, *, mounted: Mapping[str, Sequence[StrawberryField]], **kwargs: object) -> None:
        self._mounted = mounted  # read while the base class converts the types
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        return [*type_definition.fields, *self._mounted.get(type_definition.name, ())]


def mounted_fields(registry: ProgramRegistry) -> dict[str, list[StrawberryField]]:
    """The registry's household and query fields by the name of the core type they join."""
    return {
        "HouseholdPrograms": plugin_fields(
            (HouseholdPrograms,), registry.household_fields, registry.owner, "household field"
        ),
        "Programs": plugin_fields((Programs,), registry.query_fields, registry.owner, "query field"),
    }


def build_schema(
    settings: Settings | None = None, known: Known | None = None, *, registry: ProgramRegistry | None = None
) -> strawberry.Schema:
    """The API schema with ``registry``'s plugin fields (the settings' plugins when not given), hardened
    (``core.schema.hardening``); parsed and validated documents are cached. Reads are authorized per type
    before execution and audited by what the answer returns (``core.schema.authorization``,
    ``core.schema.disclosure``); a type that declares no Casbin object stops the build (``UndeclaredType``).
    ``known`` holds the data's sizes that queries are priced with (the national region list when not given)."""
    settings = settings or get_settings()
    registry = registry or registry_from_settings(settings)
    known = known or Known()
    known.registry = registry  # the programs the estimate prices per-program lists with
    mutation = assemble(
        "Mutation", "Change the registry.", MUTATION_BASES, registry.mutation_fields, registry.owner, "mutation field"
    )
    unguarded(mutation)  # each mutation checks its write; what it returns is checked like any read
    refuse_ids_as_validation_errors(mutation)
    schema = PluginSchema(
        mounted=mounted_fields(registry),
        query=Query,
        mutation=mutation,
        extensions=[
            OperationLabel,  # first: it leaves last, when every error has its code
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules([ONE_LOGIN]),
            *hardening.extensions(settings, known),
            ReadAuthorization,
            ReadRouting,  # before ReadAudit, so the read row is written once the route is known
            ReadAudit,
        ],
        execution_context_class=hardening.execution_context(PlanningExecutionContext, settings),
        config=hardening.config(settings),
    )
    rules_of(schema._schema)  # refuse to start with an undeclared type
    node_sources(schema._schema)  # and with a Node type that node(id) cannot fetch
    said_in_the_callers_language(schema._schema)
    return schema
