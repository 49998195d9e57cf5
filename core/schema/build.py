"""Assembling the schema from the per-concern query and mutation types."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache

from core.programs.registry import get_registry
from core.schema import hardening
from core.schema.assembly import assemble
from core.schema.audit import AuditQuery
from core.schema.auth import AuthMutation, AuthQuery
from core.schema.cycles import CycleMutation, CycleQuery
from core.schema.disbursements import DisbursementMutation, DisbursementQuery
from core.schema.double_recipients import DoubleRecipientQuery
from core.schema.execution import PlanningExecutionContext
from core.schema.fieldwork import FieldworkMutation, FieldworkQuery
from core.schema.households import HouseholdQuery
from core.schema.list_sizes import Known
from core.schema.mutations import HouseholdMutation
from core.schema.programs import ProgramQuery
from core.schema.proposals import ProposalMutation, ProposalQuery
from core.schema.regions import RegionQuery
from core.schema.welfare import WelfareMutation, WelfareQuery
from core.settings import Settings, get_settings


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


MUTATION_BASES: tuple[type, ...] = (
    AuthMutation,
    HouseholdMutation,
    DisbursementMutation,
    CycleMutation,
    WelfareMutation,
    ProposalMutation,
    FieldworkMutation,
)


def build_schema(settings: Settings | None = None, known: Known | None = None) -> strawberry.Schema:
    """The API schema with the plugins' fields, hardened (``core.schema.hardening``); parsed and validated
    documents are cached. ``known`` holds the data's sizes that queries are priced with (the national region
    list when not given)."""
    settings = settings or get_settings()
    registry = get_registry()
    mutation = assemble(
        "Mutation", "Change the registry.", MUTATION_BASES, registry.mutation_fields, registry.owner, "mutation field"
    )
    return hardening.Schema(
        query=Query,
        mutation=mutation,
        extensions=[lambda: ParserCache(maxsize=512), *hardening.extensions(settings, known)],
        execution_context_class=hardening.execution_context(PlanningExecutionContext, settings),
        config=hardening.config(settings),
    )
