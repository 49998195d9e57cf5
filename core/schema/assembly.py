"""Building GraphQL types from core fields plus the fields plugins contribute.

strawberry's ``merge_types`` only warns on a duplicate field; this assembler refuses, naming
both owners, so a clash stops start-up instead of silently hiding one plugin's field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.types.field import StrawberryField

from core.programs.registry import PluginConflict
from core.programs.schema_fields import SchemaField


def field_names(cls: type) -> set[str]:
    """GraphQL names of the fields a strawberry type (or a mixin of them) defines."""
    definition = getattr(cls, "__strawberry_definition__", None)
    if definition is None:
        return set()
    names = set()
    for field in definition.fields:
        names.add(field.graphql_name or strawberry.utils.str_converters.to_camel_case(field.python_name))
    return names


def plugin_fields(
    bases: tuple[type, ...], extra: Mapping[str, SchemaField], owners: Mapping[tuple[str, str], str], kind: str
) -> list[StrawberryField]:
    """The plugins' fields, named for GraphQL, refusing any name core's ``bases`` already define."""
    taken = set().union(*(field_names(base) for base in bases)) if bases else set()
    fields = []
    for field_name, contribution in extra.items():
        if field_name in taken:
            raise PluginConflict(f"{kind} '{field_name}' is defined by core and by {owners.get((kind, field_name))}")
        strawberry_field: StrawberryField = contribution.field
        strawberry_field.graphql_name = field_name
        fields.append(strawberry_field)
    return fields


def assemble(
    name: str,
    description: str,
    bases: tuple[type, ...],
    extra: Mapping[str, SchemaField],
    owners: Mapping[tuple[str, str], str],
    kind: str,
) -> type:
    """A strawberry type named ``name`` with the fields of ``bases`` plus ``extra``, refusing any clash."""
    namespace: dict[str, Any] = {"__annotations__": {}}  # never the inherited dict
    for strawberry_field in plugin_fields(bases, extra, owners, kind):
        namespace[f"plugin_{len(namespace)}_{strawberry_field.graphql_name}"] = strawberry_field
    cls = type(name, bases, namespace)
    return strawberry.type(cls, description=description)
