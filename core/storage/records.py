"""Read-side records: plain slotted objects built straight from Core rows.

The GraphQL layer resolves fields by attribute, so these records are what it returns; no ORM
objects are built on the read path. Their fields are the table columns, in table order, so
``HouseholdRecord(*row)`` builds one from a ``select(HOUSEHOLDS)`` row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any

from core.foundation.enums import RegionLevel
from core.models import Household, Member, Region
from core.regions.codes import LEVELS

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
REGIONS = Region.__table__

MEMBER_FIELDS: tuple[str, ...] = tuple(c.name for c in MEMBERS.columns)
HOUSEHOLD_FIELDS: tuple[str, ...] = tuple(c.name for c in HOUSEHOLDS.columns)


@dataclass(slots=True)
class RegionRecord:
    code: str
    name: str
    level_number: int
    parent_code: str | None

    @property
    def level(self) -> RegionLevel:
        return LEVELS[self.level_number - 1]


MemberRecord: Any = make_dataclass("MemberRecord", [(name, Any) for name in MEMBER_FIELDS], slots=True)
HouseholdRecord: Any = make_dataclass(
    "HouseholdRecord",
    [
        *((name, Any) for name in HOUSEHOLD_FIELDS),
        ("members", list, field(default_factory=list)),  # active members, filled by the query
        ("region", Any, None),  # the village's RegionRecord, when asked for
    ],
    slots=True,
)
