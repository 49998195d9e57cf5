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

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core.audit.log import record
from core.db import write_transaction
from core.schema.authorization import guard_of
from core.schema.context import Context, Disclosure

OPERATION = "read:personal"


Recorder = Callable[[Any], None]


def recorder(disclosure: Disclosure, object_type: GraphQLObjectType, selected: Iterable[str]) -> Recorder | None:
    """A function noting one record of ``object_type``, if the selected fields (Python names) include personal
    ones; None otherwise, so objects without personal fields cost nothing."""
    guard = guard_of(object_type)
    if guard is None or not guard.personal:
        return None
    hit = guard.personal.intersection(selected)
    if not hit:
        return None
    labels = [
        f"{object_type.name}.{graphql_name}"
        for graphql_name, graphql_field in object_type.fields.items()
        if getattr(graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF), "python_name", None) in hit
    ]
    households, people, household, person = disclosure.households, disclosure.people, guard.household, guard.person
    noted = False

    def note(source: Any) -> None:
        nonlocal noted
        if not noted:
            disclosure.fields.update(labels)
            noted = True
        if household is not None:
            value = getattr(source, household, None)
            if isinstance(value, list | tuple):
                households.update(int(item) for item in value)
            elif value is not None:
                households.add(int(value))
        if person is not None:
            value = getattr(source, person, None)
            if value is not None:
                people.add(value)

    return note


async def audit_disclosure(context: Context) -> None:
    """Append the request's read row, if its answer carried personal data."""
    disclosure = context.disclosure
    if not disclosure:
        return
    households = disclosure.households
    entity_id = next(iter(households)) if len(households) == 1 else f"{len(households)} households"
    async with write_transaction(context.engine) as conn:
        await record(
            conn,
            context.request_info,
            operation=OPERATION,
            entity="household",
            entity_id=entity_id,
            outcome="read",
            after=disclosure.summary(),
        )


class ReadAudit(SchemaExtension):
    """Appends the read row once execution is done and the answer holds data."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, Context) and getattr(self.execution_context.result, "data", None) is not None:
            await audit_disclosure(context)
