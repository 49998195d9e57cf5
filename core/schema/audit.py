"""GraphQL: the audit log, for auditors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from core.audit.queries import AuditFilter, audit_page
from core.schema import enums
from core.schema.access import require
from core.schema.authorization import guarded
from core.schema.context import Context


@guarded("audit")
@strawberry.type(description="One audited action: who, as what, from where, what, and the record before and after.")
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    scope: str
    client: str
    request_id: str
    operation: str
    entity: str
    entity_id: str
    outcome: str = strawberry.field(
        description="ok, denied, read or error.",
        deprecation_reason="The stored spelling: read auditOutcome, an enum as the rest of the API spells it.",
    )
    audit_outcome: enums.AuditOutcome = enums.enum_twin(
        enums.AuditOutcome,
        "outcome",
        "OK (a change made), DENIED (an attempt refused), READ (personal data returned) or ERROR.",
    )
    before: strawberry.scalars.JSON | None
    after: strawberry.scalars.JSON | None
    hash: str


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audited actions, newest first; pass the last seq you saw as beforeSeq for more.")
    async def audit_log(
        self,
        info: Info[Context, None],
        operation: str | None = None,
        actor: str | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        outcome: Annotated[
            str | None,
            strawberry.argument(
                deprecation_reason="The stored spelling: filter with auditOutcome, an enum as the rest of the API "
                "spells it."
            ),
        ] = None,
        audit_outcome: enums.AuditOutcome | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 100,
        before_seq: int | None = None,
    ) -> list[AuditEntry]:
        principal = require(info.context, "audit", "read")
        if not 1 <= first <= 1000:
            raise GraphQLError(f"first: must be between 1 and 1000, not {first}")
        if audit_outcome is not None:
            if outcome is not None and outcome != audit_outcome.value:
                raise GraphQLError("auditOutcome and outcome disagree; filter with auditOutcome only")
            outcome = audit_outcome.value
        where = AuditFilter(operation, actor, entity, entity_id, outcome, since, until, scope=principal.scope)
        async with info.context.engine.connect() as conn:
            rows = await audit_page(conn, where, first, before_seq)
        return [
            AuditEntry(
                **{
                    k: row[k]
                    for k in (
                        "seq",
                        "at",
                        "actor",
                        "role",
                        "scope",
                        "client",
                        "request_id",
                        "operation",
                        "entity",
                        "entity_id",
                        "outcome",
                        "hash",
                    )
                },
                before=json.loads(row["before"]) if row["before"] else None,
                after=json.loads(row["after"]) if row["after"] else None,
            )
            for row in rows
        ]
