"""The read audit: one row per request whose answer carried personal data, naming whose.

What counts is what the answer returns, not which resolver ran: a household read by id, found by
its KK number in a list, reached through a proposal or a visit, or returned by a mutation is
recorded the same way. A type declares its personal fields with ``@guarded(personal=...)``
(``core.schema.authorization``); while the answer is built, every record of such a type whose
selection includes one of them is noted (``core.schema.execution`` does it for planned and
ordinary objects alike), and after execution ``ReadAudit`` appends one ``read:personal`` row: the
household ids, how many people, and which fields. No personal field, no row. If the row cannot be
written, the answer is withheld (the request fails) rather than sent unaudited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from operator import attrgetter
from typing import Any

from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.graphql import OperationType

from core.audit.log import record
from core.schema.access import audit_denied
from core.schema.authorization import guard_of, refused_fields
from core.schema.context import Context, Disclosure
from core.storage.db import write_transaction

OPERATION = "read:personal"


Recorder = Callable[[Any], None]


def recorder(disclosure: Disclosure, object_type: GraphQLObjectType, selected: Iterable[str]) -> Recorder | None:
    """A function noting one record of ``object_type`` if the selected fields (Python names) include personal
    ones, else None. Noting appends the record to a list (whose data it is is worked out once, by
    ``summary``), so a page of thousands of records pays one list append each."""
    guard = guard_of(object_type)
    if guard is None or not guard.personal:
        return None
    hit = guard.personal.intersection(selected)
    if not hit:
        return None
    labels = tuple(
        f"{object_type.name}.{graphql_name}"
        for graphql_name, graphql_field in object_type.fields.items()
        if getattr(graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF), "python_name", None) in hit
    )
    records: list[Any] = []
    disclosure.noted.append((labels, guard.household, guard.person, records))
    return records.append


def summary(disclosure: Disclosure) -> dict[str, Any] | None:
    """Whose personal data the answer held: household ids, how many people, which fields; None if nobody's."""
    households: set[Any] = set()
    people: set[Any] = set()
    fields: set[str] = set()
    for labels, household, person, records in disclosure.noted:
        if not records:
            continue
        fields.update(labels)
        if household is not None:
            try:
                households.update(map(attrgetter(household), records))
            except TypeError:  # a list of ids (a double-recipient case names several households)
                households.update(value for ids in map(attrgetter(household), records) for value in ids)
        if person is not None:
            people.update(map(attrgetter(person), records))
    if not fields:
        return None
    households.discard(None)
    people.discard(None)
    return {"households": sorted({int(value) for value in households}), "people": len(people), "fields": sorted(fields)}


async def audit_disclosure(context: Context) -> None:
    """Append the request's read row, if its answer carried personal data."""
    found = summary(context.disclosure)
    if found is None:
        return
    households = found["households"]
    entity_id = households[0] if len(households) == 1 else f"{len(households)} households"
    async with write_transaction(context.engine) as conn:
        await record(
            conn,
            context.request_info,
            operation=OPERATION,
            entity="household",
            entity_id=entity_id,
            outcome="read",
            after=found,
        )


class ReadAudit(SchemaExtension):
    """After execution: the read row of an answer that holds data, or the denied row of a mutation refused by the
    read check (a refused write attempt is audited; a refused query is not, as resolvers never audited one)."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        context = execution.context
        if not isinstance(context, Context) or execution.result is None:
            return
        if getattr(execution.result, "data", None) is not None:
            await audit_disclosure(context)
        elif execution.operation_type is OperationType.MUTATION:
            refused = refused_fields(getattr(execution.result, "errors", None) or ())
            if refused:
                await audit_denied(context, "refusedDocument", "graphql", "-", "; ".join(refused)[:500])


class SyncReadAudit(SchemaExtension):
    """ReadAudit's stand-in for synchronous execution (introspection), which cannot write the audit row: it
    withholds an answer that would need one."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, Context) and summary(context.disclosure) is not None:
            raise RuntimeError("personal data is only answered by asynchronous execution, which audits it")
