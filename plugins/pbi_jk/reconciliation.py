"""Reconciling BPJS Kesehatan's membership (a BPJS reference snapshot) against a PBI-JK cycle's recipients.

Three lists, each NIK once:

- ``pbi_active``: a recipient with an active PBI-APBN membership — nothing to do;
- ``to_register``: a recipient without one (no membership, an inactive one, or one in another
  segment: ``bpjs_segment`` and ``card_number`` say which, so BPJS can move it);
- ``to_deactivate``: an active PBI-APBN membership counted in the region (where the registry has
  the NIK, else the district that issued it) whose NIK is not a recipient of the cycle.

Only these fields of BPJS's rows are read (``core.plugin_api.bpjs_memberships`` /
``bpjs_members_in``): NIK, card number, segment, active.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.plugin_api import (
    BpjsMembershipRow,
    FieldError,
    Invalid,
    bpjs_members_in,
    bpjs_memberships,
    csv_writer,
    enrolled_members,
)
from plugins.pbi_jk.cycles import CycleArea, regency_of
from plugins.pbi_jk.program import SEGMENT

LINE_COLUMNS = ("regency_code", "nik", "outcome", "card_number", "bpjs_segment")
SUMMARY_COLUMNS = ("regency_code", "recipients", "pbi_active", "to_register", "to_deactivate")


class Outcome(StrEnum):
    PBI_ACTIVE = "pbi_active"
    TO_REGISTER = "to_register"
    TO_DEACTIVATE = "to_deactivate"


@dataclass(frozen=True, slots=True)
class Line:
    regency_code: str
    nik: str
    outcome: Outcome
    card_number: str | None = None
    bpjs_segment: str | None = None


@dataclass(frozen=True, slots=True)
class RegencyCount:
    regency_code: str
    recipients: int
    pbi_active: int
    to_register: int
    to_deactivate: int


@dataclass
class Reconciliation:
    cycle_id: int
    period: str
    region_code: str  # as asked: a dotted code, or ID
    snapshot_id: int
    lines: list[Line] = field(default_factory=list)

    def counts(self) -> list[RegencyCount]:
        """NIKs per regency and outcome (recipients = pbi_active + to_register), by regency code."""
        tally = Counter((line.regency_code, line.outcome) for line in self.lines)
        regencies = sorted({line.regency_code for line in self.lines})
        return [
            RegencyCount(
                regency,
                tally[regency, Outcome.PBI_ACTIVE] + tally[regency, Outcome.TO_REGISTER],
                tally[regency, Outcome.PBI_ACTIVE],
                tally[regency, Outcome.TO_REGISTER],
                tally[regency, Outcome.TO_DEACTIVATE],
            )
            for regency in regencies
        ]

    def total(self) -> RegencyCount:
        counts = self.counts()
        return RegencyCount(
            "total",
            *(sum(getattr(count, name) for count in counts) for name in SUMMARY_COLUMNS[1:]),
        )


def _recipient_line(regency: str, nik: str, memberships: list[BpjsMembershipRow]) -> Line:
    active = [membership for membership in memberships if membership.active]
    paid = next((membership for membership in active if membership.segment == SEGMENT), None)
    if paid is not None:
        return Line(regency, nik, Outcome.PBI_ACTIVE, paid.card_number, paid.segment)
    other = active[0] if active else None
    if other is None:
        return Line(regency, nik, Outcome.TO_REGISTER)
    return Line(regency, nik, Outcome.TO_REGISTER, other.card_number, other.segment)


async def reconcile(conn: Any, area: CycleArea, snapshot_id: int | None = None) -> Reconciliation | Invalid:
    """The three lists for the cycle's recipients in ``area``, against a BPJS snapshot (the active one by default)."""
    recipients: dict[str, str] = {}
    for member in await enrolled_members(conn, area.cycle.id, area.region_code):
        recipients.setdefault(member.nik, regency_of(member.village_code))
    snapshot, memberships = await bpjs_memberships(conn, recipients, snapshot_id)
    if snapshot is None:
        return Invalid([_no_snapshot(snapshot_id)])
    _, members = await bpjs_members_in(conn, area.region_code, [SEGMENT], snapshot)
    report = Reconciliation(area.cycle.id, area.cycle.period, area.label, snapshot)
    report.lines = [
        _recipient_line(regency, nik, memberships.get(nik, [])) for nik, regency in sorted(recipients.items())
    ]
    seen: set[str] = set()
    for membership in members:
        if membership.nik not in recipients and membership.nik not in seen:
            seen.add(membership.nik)
            report.lines.append(
                Line(
                    membership.regency_code or "",
                    membership.nik,
                    Outcome.TO_DEACTIVATE,
                    membership.card_number,
                    membership.segment,
                )
            )
    report.lines.sort(key=lambda line: (line.regency_code, line.outcome, line.nik))
    return report


def _no_snapshot(snapshot_id: int | None) -> FieldError:
    if snapshot_id is None:
        return FieldError("snapshot", "no BPJS snapshot is loaded; load BPJS's file with `siks reference load bpjs`")
    return FieldError("snapshot", f"{snapshot_id} is not a completed BPJS snapshot (see `siks reference status bpjs`)")


def write_report(report: Reconciliation, folder: Path) -> tuple[Path, Path]:
    """``<name>_reconciliation.csv`` (one line per NIK) and ``<name>_summary.csv`` (counts per regency)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"PBI-JK_{report.period}_{report.region_code}_snapshot-{report.snapshot_id}"
    lines_path, summary_path = folder / f"{stem}_reconciliation.csv", folder / f"{stem}_summary.csv"
    with lines_path.open("w", encoding="utf-8", newline="") as stream:
        out = csv_writer(stream, lineterminator="\n")
        out.writerow(LINE_COLUMNS)
        out.writerows(
            (line.regency_code, line.nik, line.outcome.value, line.card_number or "", line.bpjs_segment or "")
            for line in report.lines
        )
    with summary_path.open("w", encoding="utf-8", newline="") as stream:
        out = csv_writer(stream, lineterminator="\n")
        out.writerow(SUMMARY_COLUMNS)
        out.writerows(
            [getattr(count, name) for name in SUMMARY_COLUMNS] for count in [*report.counts(), report.total()]
        )
    return lines_path, summary_path
