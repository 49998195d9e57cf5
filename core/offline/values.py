"""Reading the field app's JSON: household and member values, and a visit's changes.

Field names are the snake_case names of ``HouseholdData`` and ``MemberData`` (the tables' column
names); coded answers are the stored values of ``core.foundation.enums`` (``"ceramic"``, not ``CERAMIC``),
booleans JSON ``true``/``false``, dates ``YYYY-MM-DD``. A value of the wrong kind raises
``ValueProblem`` naming its path, e.g. ``changes.household.floor_material``.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from datetime import date
from enum import StrEnum
from typing import Any

from core.foundation.enums import RemovalReason
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, HouseholdData, MemberData
from core.verification.drafts import ChangeRequest, MemberChange, MemberRemoval

Reader = Callable[[Any, str], Any]
_SHOWN = 40


class ValueProblem(ValueError):
    """A value in the field app's JSON that is not what its field takes; the message names the path."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"{path}: {_shown(value)} is not text")
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValueProblem(f"{path}: {_shown(value)} is not true or false")
    return value


def whole_number(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueProblem(f"{path}: {_shown(value)} is not a whole number")
    return value


def number(value: Any, path: str) -> float:
    try:
        finite = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:  # a JSON integer too large for a float
        finite = False
    if not finite:
        raise ValueProblem(f"{path}: {_shown(value)} is not a finite number")
    return float(value)


def _iso_date(value: Any, path: str) -> date:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueProblem(f"{path}: {_shown(value)} is not a date in the form YYYY-MM-DD")


def coded(kind: type[StrEnum]) -> Reader:
    allowed = ", ".join(member.value for member in kind)

    def read(value: Any, path: str) -> StrEnum:
        try:
            return kind(value)
        except ValueError:
            raise ValueProblem(f"{path}: {_shown(value)} is not one of: {allowed}") from None

    return read


def _optional(reader: Reader) -> Reader:
    return lambda value, path: None if value is None else reader(value, path)


def _reader(hint: Any) -> Reader:
    if isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _optional(_reader(inner))
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return coded(hint)
    simple: dict[Any, Reader] = {str: _text, bool: _boolean, int: whole_number, float: number, date: _iso_date}
    return simple[hint]


def _readers(kind: type[Any], names: tuple[str, ...]) -> dict[str, Reader]:
    hints = typing.get_type_hints(kind)
    return {name: _reader(hints[name]) for name in names}


HOUSEHOLD_READERS = _readers(HouseholdData, HOUSEHOLD_COLUMNS)
MEMBER_READERS = _readers(MemberData, MEMBER_COLUMNS)


def _required(kind: type[Any]) -> set[str]:
    return {f.name for f in fields(kind) if f.default is MISSING and f.default_factory is MISSING}


def _object(value: Any, path: str, allowed: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueProblem(f"{path}: {_shown(value)} is not a JSON object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueProblem(f"{path}: {unknown[0]!r} is not a field here; fields: {', '.join(allowed)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueProblem(f"{path}: {_shown(value)} is not a JSON array")
    return value


def _values(value: Any, path: str, readers: Mapping[str, Reader], required: set[str]) -> dict[str, Any]:
    given = _object(value, path, readers)
    missing = sorted(required - set(given))
    if missing:
        raise ValueProblem(f"{path}: {missing[0]} is missing")
    return {name: readers[name](item, f"{path}.{name}") for name, item in given.items()}


def member_data(value: Any, path: str) -> MemberData:
    return MemberData(**_values(value, path, MEMBER_READERS, _required(MemberData)))


def household_data(value: Any, path: str) -> HouseholdData:
    """A whole household with its members (``members``: an array of member objects)."""
    readers: dict[str, Reader] = {**HOUSEHOLD_READERS, "members": _list}
    given = _values(value, path, readers, _required(HouseholdData) | {"members"})
    members = [member_data(item, f"{path}.members.{i}") for i, item in enumerate(given.pop("members"))]
    return HouseholdData(**given, members=members)


CHANGE_PARTS = ("household", "member_changes", "new_members", "removed_members")
_MEMBER_REMOVAL: dict[str, Reader] = {"member_id": whole_number, "reason": coded(RemovalReason)}


def _member_change(value: Any, path: str) -> MemberChange:
    given = _object(value, path, {"member_id": None, "changes": None})
    if "member_id" not in given or "changes" not in given:
        raise ValueProblem(f"{path}: give member_id and changes")
    values = _values(given["changes"], f"{path}.changes", MEMBER_READERS, set())
    return MemberChange(whole_number(given["member_id"], f"{path}.member_id"), values)


def change_request(value: Any, path: str) -> ChangeRequest:
    """A visit's changes: ``household`` values, ``member_changes``, ``new_members``, ``removed_members``."""
    given = _object(value, path, dict.fromkeys(CHANGE_PARTS))
    member_changes = [
        _member_change(item, f"{path}.member_changes.{i}")
        for i, item in enumerate(_list(given.get("member_changes", []), f"{path}.member_changes"))
    ]
    removals = [
        MemberRemoval(**_values(item, f"{path}.removed_members.{i}", _MEMBER_REMOVAL, set(_MEMBER_REMOVAL)))
        for i, item in enumerate(_list(given.get("removed_members", []), f"{path}.removed_members"))
    ]
    return ChangeRequest(
        household=_values(given.get("household", {}), f"{path}.household", HOUSEHOLD_READERS, set()),
        member_changes=member_changes,
        new_members=[
            member_data(item, f"{path}.new_members.{i}")
            for i, item in enumerate(_list(given.get("new_members", []), f"{path}.new_members"))
        ],
        removed_members=removals,
    )
