"""Assembling the schema from the per-concern query and mutation types."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from core.programs.registry import get_registry
from core.schema.assembly import assemble
from core.schema.cycles import CycleMutation, CycleQuery
from core.schema.disbursements import DisbursementMutation, DisbursementQuery
from core.schema.execution import PlanningExecutionContext
from core.schema.households import HouseholdQuery
from core.schema.mutations import HouseholdMutation
from core.schema.programs import ProgramQuery
from core.schema.regions import RegionQuery


@strawberry.type(description="Read the registry.")
class Query(RegionQuery, HouseholdQuery, ProgramQuery, DisbursementQuery, CycleQuery):
    pass


MUTATION_BASES: tuple[type, ...] = (
    HouseholdMutation,
    DisbursementMutation,
    CycleMutation,
)


def build_schema() -> strawberry.Schema:
    """The API schema with the plugins' fields; parsed and validated documents are cached."""
    registry = get_registry()
    mutation = assemble(
        "Mutation", "Change the registry.", MUTATION_BASES, registry.mutation_fields, registry.owner, "mutation field"
    )
    return strawberry.Schema(
        query=Query,
        mutation=mutation,
        extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
        execution_context_class=PlanningExecutionContext,
    )
