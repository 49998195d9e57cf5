"""Keyset pagination in both directions over one indexed key column (Relay's first/after and last/before).

Forward: ``key > after AND key < before ORDER BY key LIMIT n + 1``; backward: the same bounds,
``ORDER BY key DESC LIMIT n + 1``, and the rows reversed, so a page always reads in key order and
costs one index range scan either way. The extra row says whether there is more in the direction
read; in the other direction there is more exactly when a cursor bounds it (the cursor's own row
was on the page before), which the Relay specification allows instead of an extra count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Window:
    """Which page: ``size`` rows after ``after`` and before ``before`` (keys), from the end when ``backward``."""

    size: int
    after: int | None = None
    before: int | None = None
    backward: bool = False

    def bounds(self, key: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        found = []
        if self.after is not None:
            found.append(key > self.after)
        if self.before is not None:
            found.append(key < self.before)
        return found

    def apply(
        self, query: Select[Any], key: ColumnElement[Any], leading: Sequence[ColumnElement[Any]] = ()
    ) -> Select[Any]:
        """``query`` limited to this window (its other conditions kept), one row more than the page.

        ``leading`` are expressions the query's conditions hold to one value, ordered by before the key:
        the order is the same, but only an index that starts with them gives it, so the planner reads that
        index in order instead of walking the key's own index and filtering (see ``household_page``).
        """
        order = [*leading, key]
        if self.backward:
            order = [column.desc() for column in order]
        return query.where(*self.bounds(key)).order_by(*order).limit(self.size + 1)


@dataclass(slots=True)
class Slice:
    rows: list[Any]
    has_previous_page: bool
    has_next_page: bool


def settle(window: Window, rows: Sequence[T]) -> Slice:
    """The page from the rows ``Window.apply`` read: at most ``size``, in key order, with what lies either side."""
    more = len(rows) > window.size
    page = list(rows[: window.size])
    if window.backward:
        page.reverse()
        return Slice(page, has_previous_page=more, has_next_page=window.before is not None)
    return Slice(page, has_previous_page=window.after is not None, has_next_page=more)
