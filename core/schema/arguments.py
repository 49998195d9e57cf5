"""Turning GraphQL arguments into domain values, with errors that say what was wrong."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from core.regions.codes import RegionCodeError, check_code

MAX_ID = 2**63 - 1  # ids are 63-bit (core/ids.py)


def parse_id(value: strawberry.ID, argument: str = "id") -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_ID:
        raise GraphQLError(f"{argument}: '{str(value)[:24]}' is not a SIKS id (ids are whole numbers)")
    return number


def checked_code(code: str, argument: str) -> str:
    try:
        return check_code(code)
    except RegionCodeError as exc:
        raise GraphQLError(f"{argument}: {exc}") from exc
