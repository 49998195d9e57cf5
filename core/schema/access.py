"""Who may do what: Casbin for the role, the region scope for the rows.

Reads are checked per GraphQL type before execution (``core.schema.authorization``); resolvers
check writes and root reads with ``require``, which raises a FORBIDDEN error naming the role,
object and action. Lookups outside the caller's scope never reach this far — queries filter by
scope in SQL and answer as if the record did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphql import GraphQLError, Node

from core.audit.log import record
from core.auth.principal import Principal
from core.schema.context import Context
from core.storage.db import write_transaction


class Forbidden(GraphQLError):
    def __init__(self, principal: Principal, obj: str, act: str, nodes: Sequence[Node] | None = None) -> None:
        who = "anonymous callers" if principal.is_public else f"role {principal.role}"
        super().__init__(f"not allowed: {who} may not {act} {obj}", nodes, extensions={"code": "FORBIDDEN"})


def allowed(context: Context, obj: str, act: str, region: str | None = None) -> bool:
    return context.access.allows(context.principal, obj, act, region)


def require(context: Context, obj: str, act: str, region: str | None = None) -> Principal:
    """The caller, if their role may ``act`` on ``obj`` (in ``region`` when given); Forbidden otherwise."""
    if not allowed(context, obj, act, region):
        raise Forbidden(context.principal, obj, act)
    return context.principal


def scope_of(context: Context) -> str:
    """The caller's region scope ('' = national)."""
    return context.principal.scope


async def audit_denied(context: Context, operation: str, entity: str, entity_id: int | str, reason: str) -> None:
    async with write_transaction(context.engine) as conn:
        await record(
            conn,
            context.request_info,
            operation=operation,
            entity=entity,
            entity_id=entity_id,
            outcome="denied",
            after={"reason": reason},
        )
