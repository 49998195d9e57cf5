"""Turning GraphQL arguments into domain values, with errors that say what was wrong."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from core.regions.codes import RegionCodeError, check_code
from core.schema.global_ids import parse_global


def parse_id(value: strawberry.ID, argument: str = "id", kind: str | None = None) -> int:
    """The row id of the ``kind`` record (a GraphQL type name) that ``value`` names: its global id, or during the
    deprecation period its raw whole-number id; an error naming ``argument`` for another type's id or garbage.
    Without ``kind`` (plugins written before global ids) only raw ids are taken, as before."""
    return parse_global(value, argument, kind)


def checked_code(code: str, argument: str) -> str:
    try:
        return check_code(code)
    except RegionCodeError as exc:
        raise GraphQLError(f"{argument}: {exc}") from exc
