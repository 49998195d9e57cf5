"""The Relay ``Node`` interface, and how each type implementing it is fetched by ``node``/``nodes``.

Every object type with an id implements ``Node`` and declares with ``@fetched_by(load)`` how its records are read
by key: ``load(info, keys)`` answers the records found *within the caller's region scope*, by key, in a fixed
number of statements whatever the number of keys. ``Query.node``/``nodes`` (``core.schema.nodes``) check the
type's Casbin objects before calling it; a type implementing ``Node`` without ``@fetched_by`` stops the build.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.foundation.ids import id_from_text
from core.schema.authorization import checked_per_record

T = TypeVar("T")
NODE_ATTRIBUTE = "__siks_node_load__"

#: Reads records by key (the text after ``Type:`` in a global id), within the caller's scope.
NodeLoad = Callable[[Info[Any, Any], list[str]], Awaitable[Mapping[str, Any]]]
#: A batch query by row ids and the caller's scope (``''``: national).
RowFetch = Callable[[AsyncConnection, Sequence[int], str], Awaitable[Mapping[int, Any]]]


@checked_per_record
@strawberry.interface(description="An entity with a global id; fetch it again with node(id) or nodes(ids).")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id (Relay); pass it back unchanged.")


def fetched_by(load: NodeLoad) -> Callable[[T], T]:
    """Declare how ``node``/``nodes`` read a ``Node`` type's records by key within the caller's scope."""

    def mark(cls: T) -> T:
        setattr(cls, NODE_ATTRIBUTE, load)
        return cls

    return mark


def by_row_id(fetch: RowFetch) -> NodeLoad:
    """A ``NodeLoad`` for a type keyed by row id, from a batch query by ids and scope (one connection)."""

    async def load(info: Info[Any, Any], keys: list[str]) -> Mapping[str, Any]:
        numbers = {key: number for key in keys if (number := id_from_text(key)) is not None}
        if not numbers:
            return {}
        context = info.context
        async with context.engine.connect() as conn:
            found = await fetch(conn, sorted(set(numbers.values())), context.principal.scope)
        return {key: found[number] for key, number in numbers.items() if number in found}

    return load
