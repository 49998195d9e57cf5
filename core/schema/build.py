"""Assembling the schema from the per-concern query and mutation types."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from core.schema.execution import PlanningExecutionContext
from core.schema.households import HouseholdQuery
from core.schema.mutations import HouseholdMutation
from core.schema.regions import RegionQuery


@strawberry.type(description="Read the registry.")
class Query(RegionQuery, HouseholdQuery):
    pass


@strawberry.type(description="Change the registry.")
class Mutation(HouseholdMutation):
    pass


def build_schema() -> strawberry.Schema:
    """The API schema; parsed and validated documents are cached, so repeated queries skip both."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
        execution_context_class=PlanningExecutionContext,
    )
