"""Relay-style cursors over id order."""

from __future__ import annotations

import base64
import binascii

import strawberry
from graphql import GraphQLError

from core.schema.authorization import unguarded

_PREFIX = "h:"


def encode_cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{record_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The id inside a cursor from this API, or a GraphQLError saying the cursor is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_PREFIX):
            return int(text[len(_PREFIX) :])
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise GraphQLError("after: not a cursor returned by this API; pass an endCursor or edge cursor unchanged")


@unguarded
@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
