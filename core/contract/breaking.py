"""Breaking changes between a base contract and the current one, and which of them were intended.

graphql-core's ``find_breaking_changes`` names what may break a client's operations (a field, enum
value or argument removed, a type changed, a required argument added …) and
``find_dangerous_changes`` what may surprise one (an enum value or union member added, a default
changed); the latter are warnings only. A breaking change passes only when the committed
intended-changes file (``contract/intended-changes.toml``) lists it with a reason and the day it
was deprecated (or, for a change the schema cannot deprecate, announced to integrators), and that
day lies at least ``minimum_deprecation_days`` back. A removed field, enum value or argument must
also carry ``@deprecated`` in the base schema: clients were told in the schema itself before it went.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema, find_breaking_changes, find_dangerous_changes

from core.contract.sdl import DEFAULT_DIR, MAIN_FILE, PUBLIC_FILE

#: The contract's schemas by the name the intended-changes file uses.
SCHEMA_FILES = {"main": MAIN_FILE, "public": PUBLIC_FILE}
DEFAULT_INTENDED = DEFAULT_DIR / "intended-changes.toml"
DEFAULT_MINIMUM_DAYS = 90
_ENTRY_KEYS = {"schema", "change", "reason", "deprecated_on"}
_FIELD_REMOVED = re.compile(r"Field (\w+)\.(\w+) was removed\.")
_VALUE_REMOVED = re.compile(r"Enum value (\w+)\.(\w+) was removed\.")
_ARGUMENT_REMOVED = re.compile(r"Argument (\w+)\.(\w+)\((\w+):\) was removed\.")


class ContractFileError(ValueError):
    """A schema or the intended-changes file cannot be read; the message says where and what."""


@dataclass(frozen=True, slots=True)
class IntendedChange:
    """One breaking change made on purpose."""

    schema: str
    change: str
    reason: str
    deprecated_on: date


@dataclass(frozen=True, slots=True)
class IntendedChanges:
    """The committed list of intended breaking changes and the deprecation period they must respect."""

    minimum_deprecation_days: int = DEFAULT_MINIMUM_DAYS
    changes: tuple[IntendedChange, ...] = ()

    def find(self, schema: str, change: str) -> IntendedChange | None:
        return next((c for c in self.changes if c.schema == schema and c.change == change), None)


def read_intended(path: Path) -> IntendedChanges:
    """The intended changes in ``path``; none (and the default period) when the file does not exist."""
    if not path.is_file():
        return IntendedChanges()
    return parse_intended(path.read_text(encoding="utf-8"), str(path))


def parse_intended(text: str, source: str) -> IntendedChanges:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContractFileError(f"{source}: not valid TOML ({exc})") from None
    unknown = set(document) - {"minimum_deprecation_days", "change"}
    if unknown:
        raise ContractFileError(
            f"{source}: unknown keys {sorted(unknown)}; write minimum_deprecation_days and [[change]]s"
        )
    days = document.get("minimum_deprecation_days", DEFAULT_MINIMUM_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ContractFileError(f"{source}: minimum_deprecation_days must be a whole number of days, 0 or more")
    entries = document.get("change", [])
    if not isinstance(entries, list):
        raise ContractFileError(f"{source}: write each change as a [[change]] table")
    return IntendedChanges(days, tuple(_entry(entry, f"{source}: change {n}") for n, entry in enumerate(entries, 1)))


def _entry(entry: Any, where: str) -> IntendedChange:
    if not isinstance(entry, dict):
        raise ContractFileError(f"{where}: write the change as a [[change]] table")
    missing, unknown = _ENTRY_KEYS - set(entry), set(entry) - _ENTRY_KEYS
    if missing or unknown:
        problem = f"missing {sorted(missing)}" if missing else f"unknown keys {sorted(unknown)}"
        raise ContractFileError(f"{where}: {problem}; a change has exactly {sorted(_ENTRY_KEYS)}")
    if entry["schema"] not in SCHEMA_FILES:
        raise ContractFileError(f"{where}: schema must be one of {sorted(SCHEMA_FILES)}")
    for key in ("change", "reason"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ContractFileError(f"{where}: {key} must be a non-empty string")
    if not isinstance(entry["deprecated_on"], date):
        raise ContractFileError(f"{where}: deprecated_on must be a date written as 2026-01-31, without quotes")
    return IntendedChange(entry["schema"], entry["change"].strip(), entry["reason"].strip(), entry["deprecated_on"])


@dataclass(frozen=True, slots=True)
class BreakingFinding:
    """A breaking change, the entry that intends it (if any) and why it is still refused (if it is)."""

    schema: str
    change: str
    intended: IntendedChange | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """What changed from the base to the current SDL of one schema."""

    schema: str
    breaking: tuple[BreakingFinding, ...]
    dangerous: tuple[str, ...]

    @property
    def refused(self) -> list[BreakingFinding]:
        return [finding for finding in self.breaking if finding.problem]


def parse_sdl(sdl: str, label: str) -> GraphQLSchema:
    try:
        return build_schema(sdl)
    except GraphQLError as exc:
        raise ContractFileError(f"{label}: not a valid GraphQL schema ({exc.message})") from None


def compare(
    schema: str, base_sdl: str, current_sdl: str, intended: IntendedChanges, today: date, *, base_label: str = "base"
) -> Comparison:
    """The breaking and dangerous changes from ``base_sdl`` to ``current_sdl``, each breaking one judged."""
    base = parse_sdl(base_sdl, base_label)
    current = parse_sdl(current_sdl, "current")
    findings = tuple(
        _judge(schema, change.description, base, intended, today) for change in find_breaking_changes(base, current)
    )
    dangerous = tuple(change.description for change in find_dangerous_changes(base, current))
    return Comparison(schema, findings, dangerous)


def _judge(schema: str, change: str, base: GraphQLSchema, intended: IntendedChanges, today: date) -> BreakingFinding:
    entry = intended.find(schema, change)
    if entry is None:
        return BreakingFinding(schema, change, None, "not listed as intended")
    undeprecated = _removed_undeprecated(base, change)
    if undeprecated is not None:
        return BreakingFinding(
            schema,
            change,
            entry,
            f"{undeprecated} was not @deprecated in the base schema; deprecate it first and remove it "
            f"{intended.minimum_deprecation_days} days later",
        )
    allowed_from = entry.deprecated_on + timedelta(days=intended.minimum_deprecation_days)
    if today < allowed_from:
        return BreakingFinding(
            schema,
            change,
            entry,
            f"deprecated on {entry.deprecated_on}; the contract keeps a deprecated part "
            f"{intended.minimum_deprecation_days} days, so it may change from {allowed_from}",
        )
    return BreakingFinding(schema, change, entry, None)


def _removed_undeprecated(base: GraphQLSchema, change: str) -> str | None:
    """The coordinate of a removed field, enum value or argument that was not deprecated, or None."""
    if match := _FIELD_REMOVED.fullmatch(change):
        type_name, field_name = match.groups()
        field = getattr(base.get_type(type_name), "fields", {}).get(field_name)
        return f"{type_name}.{field_name}" if field is not None and field.deprecation_reason is None else None
    if match := _VALUE_REMOVED.fullmatch(change):
        type_name, value_name = match.groups()
        value = getattr(base.get_type(type_name), "values", {}).get(value_name)
        return f"{type_name}.{value_name}" if value is not None and value.deprecation_reason is None else None
    if match := _ARGUMENT_REMOVED.fullmatch(change):
        type_name, field_name, argument_name = match.groups()
        field = getattr(base.get_type(type_name), "fields", {}).get(field_name)
        argument = field.args.get(argument_name) if field is not None else None
        if argument is not None and argument.deprecation_reason is None:
            return f"{type_name}.{field_name}({argument_name}:)"
    return None
