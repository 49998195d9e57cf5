"""Which database server answers a GraphQL operation (``core.storage.replica``).

``ReadRouting`` runs once the document is parsed and validated, when the operation's type is known: a query
of a caller who has not written lately reads from the read replica while it keeps up (the context's engine
and loaders are pointed at it); a mutation stays on the primary and, once it ran, marks its caller as having
written, so their next queries read the primary for ``SIKS_DATABASE_REPLICA_STICKY_SECONDS``. Without a
replica (``SIKS_DATABASE_REPLICA_URL`` unset) it does nothing. Synchronous execution (introspection) reads
nothing from the database and is left alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core.schema.context import Context


class ReadRouting(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        router = getattr(context, "replicas", None)
        if router is None or not isinstance(context, Context):
            yield
            return
        query = self.execution_context.operation_type is OperationType.QUERY
        engine = await router.engine_for(query, context.callers())
        if engine is not context.engine:
            context.read_from(engine)
        try:
            yield
        finally:
            if not query:
                await router.wrote(context.callers())
