"""Assembling the schema from the per-concern query and mutation types."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, ParserCache, SchemaExtension

from core.programs.registry import get_registry
from core.schema import hardening
from core.schema.assembly import assemble
from core.schema.audit import AuditQuery
from core.schema.auth import ONE_LOGIN, AuthMutation, AuthQuery
from core.schema.authorization import ReadAuthorization, namespace, rules_of, unguarded
from core.schema.cycles import CycleMutation, CycleQuery
from core.schema.disbursements import DisbursementMutation, DisbursementQuery
from core.schema.disclosure import ReadAudit, SyncReadAudit
from core.schema.double_recipients import DoubleRecipientQuery
from core.schema.execution import PlanningExecutionContext
from core.schema.fieldwork import FieldworkMutation, FieldworkQuery
from core.schema.households import HouseholdQuery
from core.schema.mutations import HouseholdMutation
from core.schema.programs import ProgramQuery
from core.schema.proposals import ProposalMutation, ProposalQuery
from core.schema.regions import RegionQuery
from core.schema.welfare import WelfareMutation, WelfareQuery
from core.settings import Settings, get_settings


@namespace
@strawberry.type(description="Read the registry.")
class Query(
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
):
    pass


class AuditedSchema(hardening.Schema):
    """The hardened schema; synchronous execution (introspection) gets ``SyncReadAudit`` for ``ReadAudit``."""

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        made = super().get_extensions(sync)
        return [SyncReadAudit() if sync and isinstance(extension, ReadAudit) else extension for extension in made]


MUTATION_BASES: tuple[type, ...] = (
    AuthMutation,
    HouseholdMutation,
    DisbursementMutation,
    CycleMutation,
    WelfareMutation,
    ProposalMutation,
    FieldworkMutation,
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The API schema with the plugins' fields, hardened (``core.schema.hardening``); parsed and validated
    documents are cached. Reads are authorized per type before execution and audited by what the answer
    returns (``core.schema.authorization``, ``core.schema.disclosure``); a type that declares no Casbin
    object stops the build (``UndeclaredType``)."""
    settings = settings or get_settings()
    registry = get_registry()
    mutation = assemble(
        "Mutation", "Change the registry.", MUTATION_BASES, registry.mutation_fields, registry.owner, "mutation field"
    )
    unguarded(mutation)  # each mutation checks its write; what it returns is checked like any read
    schema = AuditedSchema(
        query=Query,
        mutation=mutation,
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules([ONE_LOGIN]),
            *hardening.extensions(settings),
            ReadAuthorization,
            ReadAudit,
        ],
        execution_context_class=hardening.execution_context(PlanningExecutionContext, settings),
        config=hardening.config(settings),
    )
    rules_of(schema._schema)  # refuse to start with an undeclared type
    return schema
