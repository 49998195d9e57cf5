"""Turning GraphQL arguments into domain values, with errors that say what was wrong."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from core.foundation.ids import id_from_text
from core.regions.codes import RegionCodeError, check_code


def parse_id(value: strawberry.ID, argument: str = "id") -> int:
    number = id_from_text(str(value))
    if number is None:
        raise GraphQLError(f"{argument}: {str(value)[:24]!r} is not a SIKS id (ids are whole numbers)")
    return number


def checked_code(code: str, argument: str) -> str:
    try:
        return check_code(code)
    except RegionCodeError as exc:
        raise GraphQLError(f"{argument}: {exc}") from exc
