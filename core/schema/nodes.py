"""``Query.node(id)`` and ``Query.nodes(ids)``: any entity by its global id (Relay).

A record is answered exactly when the type's own query would answer it: the caller's role may read the type's
Casbin objects (those of its ``@guarded`` declaration) and the record lies in the caller's region scope (each
type's ``@fetched_by`` load filters by scope in SQL). Anything else, and an id that is not one, answers null, as
if the record did not exist (the Relay convention). ``nodes`` reads each type once, whatever the number of ids
(one batch per type). Personal fields returned are audited like any read (``core.schema.disclosure`` notes
records by their concrete type).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLInterfaceType, GraphQLSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info

from core.schema.access import allowed
from core.schema.authorization import GUARD_ATTRIBUTE, READ, Guard, UndeclaredType
from core.schema.context import Context
from core.schema.global_ids import decode
from core.schema.list_sizes import OnePerArgumentItem, sized
from core.schema.node import NODE_ATTRIBUTE, Node, NodeLoad

#: The most ids one ``nodes`` call takes (a page of a client's cache, refetched at once).
MAX_NODES = 100


@lru_cache(maxsize=16)
def node_sources(schema: GraphQLSchema) -> dict[str, tuple[tuple[str, ...], NodeLoad]]:
    """For each type implementing Node: its Casbin objects and its load; UndeclaredType if one has no load."""
    interface = schema.get_type("Node")
    if not isinstance(interface, GraphQLInterfaceType):
        return {}
    sources: dict[str, tuple[tuple[str, ...], NodeLoad]] = {}
    missing = []
    for object_type in schema.get_possible_types(interface):
        origin = getattr(object_type.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF), "origin", None)
        load, guard = getattr(origin, NODE_ATTRIBUTE, None), getattr(origin, GUARD_ATTRIBUTE, None)
        if load is None or not isinstance(guard, Guard) or not guard.objects:
            missing.append(object_type.name)
            continue
        sources[object_type.name] = (guard.objects, load)
    if missing:
        raise UndeclaredType(f"types implementing Node without @fetched_by and @guarded: {', '.join(sorted(missing))}")
    return sources


async def resolve_nodes(info: Info[Context, None], ids: list[strawberry.ID]) -> list[Any]:
    """The records the ids name, in order; null for an id that is not one, or names nothing the caller may see."""
    context = info.context
    sources = node_sources(info.schema._schema)
    decoded = [decode(str(value)) for value in ids]
    wanted: dict[str, list[str]] = {}
    for found in decoded:
        if found is not None and found[0] in sources:
            wanted.setdefault(found[0], []).append(found[1])
    loaded: dict[str, Any] = {}
    for type_name, keys in wanted.items():
        objects, load = sources[type_name]
        if all(allowed(context, obj, READ) for obj in objects):
            loaded[type_name] = await load(info, keys)
    return [loaded.get(found[0], {}).get(found[1]) if found is not None else None for found in decoded]


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any entity by its global id; null if there is none you may see (Relay).")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]  # type: ignore[no-any-return]

    @strawberry.field(
        description=f"Entities by global id, in the order asked (at most {MAX_NODES}); null for each id with "
        "none you may see. Each type is read once, whatever the number of ids.",
        metadata=sized(OnePerArgumentItem("ids", MAX_NODES)),
    )
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise GraphQLError(
                f"ids: at most {MAX_NODES} ids at once, not {len(ids)}; split the list",
                extensions={"code": "BAD_USER_INPUT", "argument": "ids"},
            )
        return await resolve_nodes(info, ids)
