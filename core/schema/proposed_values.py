"""GraphQL: one value a proposal changes, in the API's own words.

The verification service keeps proposed values as stored (``floor_material``, ``"ceramic"``); this type shows
them as the rest of the API does: the field's camelCase input name, enum member names, ISO dates, numbers and
booleans. The stored spellings stay readable through the deprecated fields until they are removed
(docs/api-contract.md).
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import strawberry
from strawberry.scalars import JSON
from strawberry.utils.str_converters import to_camel_case

from core.foundation.enums import MemberStatus
from core.foundation.enums import ProposalTarget as Target
from core.households.data import HouseholdData, MemberData
from core.schema import enums
from core.schema.authorization import guarded
from core.schema.global_ids import global_id

_STORED = "The stored spelling: read {new}, as the rest of the API spells it."


def _kinds() -> dict[tuple[str, str], Any]:
    """The Python type of every value a proposal can change, by (target, stored field name)."""
    kinds: dict[tuple[str, str], Any] = {}
    for target, data in ((Target.HOUSEHOLD, HouseholdData), (Target.MEMBER, MemberData)):
        for name, hint in get_type_hints(data).items():
            if get_origin(hint) in (Union, UnionType):
                hint = next(arg for arg in get_args(hint) if arg is not type(None))
            kinds[(target.value, name)] = hint
    kinds[(Target.MEMBER.value, "status")] = MemberStatus
    return kinds


_KINDS = _kinds()


def api_value(target: str, name: str, stored: str | None) -> Any:
    """A stored value (text) as the API shows it: an enum member's name, a number, a boolean, an ISO date."""
    if stored is None:
        return None
    kind = _KINDS.get((target, name), str)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(stored).name
        except ValueError:
            return stored  # a code no longer in the enum (an old proposal): shown as stored
    if kind is bool:
        return stored == "true"
    if kind is int:
        return int(stored)
    if kind is float:
        return float(stored)
    if kind is date:
        return date.fromisoformat(stored).isoformat()
    return stored


@guarded("proposal", "household", "member")
@strawberry.type(description="One value a proposal changes, beside the value it has now.")
class ProposedValue:
    entity: str = strawberry.field(description="household or member.", deprecation_reason=_STORED.format(new="target"))
    field: str = strawberry.field(
        description="The variable, as stored (e.g. floor_material).",
        deprecation_reason=_STORED.format(new="fieldName"),
    )
    current: str | None = strawberry.field(
        description="Now, as stored (null for a new household or member).",
        deprecation_reason=_STORED.format(new="currentValue"),
    )
    proposed: str | None = strawberry.field(
        description="Proposed, as stored.", deprecation_reason=_STORED.format(new="proposedValue")
    )
    member_id: strawberry.ID | None = global_id("Member", "member_id", required=False)
    nik: str | None

    @strawberry.field(description="Whether the value is the household's or a member's (memberId, nik say whose).")
    def target(self: Any) -> enums.ProposalTarget:  # type: ignore[misc]
        return Target(self.entity)  # type: ignore[return-value]

    @strawberry.field(description="The field as the API's inputs and types spell it, e.g. floorMaterial.")
    def field_name(self: Any) -> str:  # type: ignore[misc]
        return to_camel_case(self.field)

    @strawberry.field(
        description="The value now, as the API shows it (an enum member name, a number, a boolean, an ISO date); "
        "null for a new household or member."
    )
    def current_value(self: Any) -> JSON | None:  # type: ignore[misc]
        return api_value(self.entity, self.field, self.current)

    @strawberry.field(description="The proposed value, as the API shows it.")
    def proposed_value(self: Any) -> JSON | None:  # type: ignore[misc]
        return api_value(self.entity, self.field, self.proposed)
