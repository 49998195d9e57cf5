"""Refusals: what a service returns instead of a record when it wrote nothing.

Every service that changes something (core's and plugins') returns either the record it wrote or
one of these; the caller rolls its transaction back and answers with the matching GraphQL error
type (``core.schema.writes.as_error``): ``Invalid`` → ``ValidationError``, ``Conflict`` →
``VersionConflict``, ``Missing`` → ``NotFound``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with the input: the field (dotted path) and the reason."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """The input broke a rule; nothing was written."""

    errors: list[FieldError]


@dataclass(frozen=True, slots=True)
class OutsideScope(Invalid):
    """The write would put a household in a village outside the caller's region; nothing was written.

    Answered like registerHousehold always answered it — a field error on the village code — and
    audited as a denied attempt by whoever runs the write.
    """

    village_code: str
    household_id: int | None = None  # None for a household not registered yet


@dataclass(frozen=True, slots=True)
class Conflict:
    """The record changed since the caller read it; nothing was written."""

    current_version: int
    entity: str = "household"


@dataclass(frozen=True, slots=True)
class Missing:
    """No active record with that id (or none the caller may see)."""

    entity: str
    key: str


#: Every refusal type, for ``isinstance`` checks.
REFUSALS = (Invalid, Conflict, Missing)

__all__ = ["REFUSALS", "Conflict", "FieldError", "Invalid", "Missing", "OutsideScope"]
