"""What a program cycle or quota is about: a program, one of its periods and a region (or the nation).

``check_scope`` turns the caller's strings into a ``ProgramScope`` or the field errors a user
can fix; ``covers`` is the region condition, where ``ID`` stands for all of Indonesia.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.refusals import FieldError, Invalid
from core.programs.periods import Period, PeriodError, parse_period
from core.programs.registry import ProgramRegistry
from core.programs.types import Program
from core.regions.codes import RegionCodeError, check_code, level_number, within
from core.regions.queries import existing_codes

#: The region code of a nation-wide cycle or quota.
NATIONAL = "ID"
VILLAGE_CODE_LENGTH = 13


@dataclass(frozen=True, slots=True)
class ProgramScope:
    """A program, one of its periods and the region (or ``ID``) a cycle or quota covers."""

    program: Program
    period: Period
    region_code: str

    @property
    def child_code_length(self) -> int:
        """Length of the codes one level below the region (villages stay villages)."""
        if self.region_code == NATIONAL:
            return 2
        return min(VILLAGE_CODE_LENGTH, len(self.region_code) + 3)


def covers(column: ColumnElement[str], region_code: str) -> ColumnElement[bool]:
    """SQL: the code column lies in ``region_code`` (everything for ``ID``)."""
    return true() if region_code == NATIONAL else within(column, region_code)


def region_chain(village_code: str) -> list[str]:
    """The village's own code and every region above it, the nation last."""
    parts = village_code.split(".")
    return [".".join(parts[:size]) for size in range(len(parts), 0, -1)] + [NATIONAL]


async def check_region(conn: AsyncConnection, region_code: str) -> FieldError | None:
    """Why ``region_code`` names no region (or ``ID``), as a ``regionCode`` field error; None when it does."""
    if region_code == NATIONAL:
        return None
    try:
        check_code(region_code)
    except RegionCodeError as exc:
        return FieldError("regionCode", f"{exc}, or ID for all of Indonesia")
    if not await existing_codes(conn, [region_code]):
        kind = ("province", "regency/city", "district", "village")[level_number(region_code) - 1]
        return FieldError("regionCode", f"no {kind} with code {region_code}")
    return None


async def check_scope(
    conn: AsyncConnection, registry: ProgramRegistry, program: str, period: str, region_code: str
) -> ProgramScope | Invalid:
    """The scope the strings name, or every problem with them as field errors (camelCase field names)."""
    errors: list[FieldError] = []
    found: Program | None = None
    parsed: Period | None = None
    try:
        found = registry.program(program)
    except LookupError as exc:
        errors.append(FieldError("program", str(exc)))
    if found is not None:
        try:
            parsed = parse_period(period, found.period_kind)
            found.settings_for(parsed)
        except (PeriodError, LookupError) as exc:
            errors.append(FieldError("period", str(exc)))
    region_error = await check_region(conn, region_code)
    if region_error is not None:
        errors.append(region_error)
    if errors or found is None or parsed is None:
        return Invalid(errors)
    return ProgramScope(found, parsed, region_code)
