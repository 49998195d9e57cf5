"""A GraphQL field contributed by a plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SchemaField:
    """``name`` is the GraphQL field name; ``field`` is a strawberry field, e.g. ``strawberry.field(resolver=f)``."""

    name: str
    field: Any
