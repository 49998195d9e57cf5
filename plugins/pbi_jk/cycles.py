"""Which PBI-JK cycle, and which part of it, an export or a reconciliation reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.plugin_api import (
    CycleRecord,
    FieldError,
    Invalid,
    Missing,
    cycle_by_id,
    existing_codes,
    is_region_code,
    region_within,
)
from plugins.pbi_jk.program import SLUG

NATIONAL = "ID"
#: A cycle's members are final once its run completed; an approved cycle is as final.
FINISHED = ("completed", "approved")


@dataclass(frozen=True, slots=True)
class CycleArea:
    """A finished PBI-JK cycle and the region of it asked for (``''`` for all of Indonesia)."""

    cycle: CycleRecord
    region_code: str

    @property
    def label(self) -> str:
        return self.region_code or NATIONAL


def regency_of(code: str) -> str:
    """The dotted regency/city code (``32.01``) of a district or village code."""
    return code[:5]


async def cycle_area(conn: Any, cycle_id: int, region_code: str | None) -> CycleArea | Invalid | Missing:
    """The cycle and region to read, or why not: no such PBI-JK cycle, not finished, a region outside it."""
    cycle = await cycle_by_id(conn, cycle_id)
    if cycle is None or cycle.program != SLUG:
        return Missing("PBI-JK program cycle", str(cycle_id))
    if cycle.status not in FINISHED:
        return Invalid([FieldError("cycle", f"cycle {cycle_id} is {cycle.status}; only a completed run has members")])
    scope = "" if cycle.region_code == NATIONAL else cycle.region_code
    if region_code is None or region_code == NATIONAL:
        region = scope if region_code is None else ""
    else:
        region = region_code.strip()
        if not is_region_code(region) or not await existing_codes(conn, [region]):
            return Invalid([FieldError("region", f"'{region_code[:20]}' is not a loaded Kemendagri region code")])
    if not region_within(region, scope):
        where = f"region {cycle.region_code}" if scope else "all of Indonesia"
        return Invalid([FieldError("region", f"{region_code} is outside cycle {cycle_id}, which covers {where}")])
    return CycleArea(cycle, region)
