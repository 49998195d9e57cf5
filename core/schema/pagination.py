"""Relay-style connections: cursors over id order, ``PageInfo``, and the page arguments in both directions.

``first``/``after`` page forward and ``last``/``before`` backward (``core/storage/keyset.py``: one index
range scan either way); ``first`` and ``last`` together are refused, naming both. A connection field declares
its page size when neither is given with ``metadata=paged(n)`` (``core/schema/list_sizes.py``), which the query
cost reads too, so ``last`` is priced exactly like ``first``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError

from core.schema.authorization import unguarded
from core.storage.keyset import Slice, Window

_PREFIX = "h:"


def encode_cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{record_id}".encode()).decode()


def decode_cursor(cursor: str, argument: str = "after") -> int:
    """The id inside a cursor from this API, or a GraphQLError naming ``argument`` saying the cursor is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_PREFIX):
            return int(text[len(_PREFIX) :])
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise GraphQLError(
        f"{argument}: not a cursor returned by this API; pass a startCursor, endCursor or edge cursor unchanged"
    )


def window(
    first: int | None, after: str | None, last: int | None, before: str | None, *, default: int, limit: int
) -> Window:
    """The page the arguments ask for; a GraphQLError naming the argument that is out of range or conflicts."""
    if first is not None and last is not None:
        raise GraphQLError("first, last: give one of them (first pages forward from after, last backward from before)")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= limit:
            raise GraphQLError(f"{name}: must be between 0 and {limit}, not {size}")
    return Window(
        size=first if first is not None else last if last is not None else default,
        after=decode_cursor(after, "after") if after is not None else None,
        before=decode_cursor(before, "before") if before is not None else None,
        backward=last is not None,
    )


@unguarded
@strawberry.type(description="Where a page lies in its list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items after this page (paging backward: true when before was given)."
    )
    end_cursor: str | None = strawberry.field(description="The last item's cursor: pass it as after for the next page.")
    has_previous_page: bool = strawberry.field(
        description="More items before this page (paging forward: true when after was given)."
    )
    start_cursor: str | None = strawberry.field(
        description="The first item's cursor: pass it as before for the previous page."
    )


def page_info(page: Slice, key: Callable[[Any], int]) -> PageInfo:
    """The PageInfo of a page read by ``core.storage.keyset``; ``key`` gives a row's id."""
    rows = page.rows
    return PageInfo(
        has_next_page=page.has_next_page,
        end_cursor=encode_cursor(key(rows[-1])) if rows else None,
        has_previous_page=page.has_previous_page,
        start_cursor=encode_cursor(key(rows[0])) if rows else None,
    )
