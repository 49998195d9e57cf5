"""The registration file BPJS Kesehatan takes for PBI members: one CSV per regency/city and cycle.

Columns (docs/programs.md, "PBI-JK"): ``nik, kk, full_name, birth_date, sex, regency_code, segment,
period`` — NIK and KK as 16 digits, birth date ``YYYY-MM-DD``, sex ``L``/``P``, the dotted
Kemendagri regency code, ``PBI-APBN``, and the cycle's month ``YYYY-MM``. A file is named
``PBI-JK_<period>_<regency code>.csv``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from core.plugin_api import EnrolledMember, csv_writer, enrolled_members
from plugins.pbi_jk.cycles import CycleArea, regency_of
from plugins.pbi_jk.program import SEGMENT

COLUMNS = ("nik", "kk", "full_name", "birth_date", "sex", "regency_code", "segment", "period")
SEX = {"male": "L", "female": "P"}


@dataclass(frozen=True, slots=True)
class RegistrationFile:
    regency_code: str
    path: Path
    rows: int


def file_name(period: str, regency_code: str) -> str:
    return f"PBI-JK_{period}_{regency_code}.csv"


def registration_row(member: EnrolledMember, period: str) -> tuple[str, ...]:
    return (
        member.nik,
        member.kk_number,
        member.name,
        member.birth_date.isoformat(),
        SEX[member.sex],
        regency_of(member.village_code),
        SEGMENT,
        period,
    )


def write_files(members: Iterable[EnrolledMember], period: str, folder: Path) -> list[RegistrationFile]:
    """One file per regency of ``members`` (ordered by village, as ``enrolled_members`` answers)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for regency, group in groupby(members, key=lambda member: regency_of(member.village_code)):
        path = folder / file_name(period, regency)
        with path.open("w", encoding="utf-8", newline="") as stream:
            out = csv_writer(stream, lineterminator="\n")
            out.writerow(COLUMNS)
            rows = 0
            for member in group:
                out.writerow(registration_row(member, period))
                rows += 1
        written.append(RegistrationFile(regency, path, rows))
    return written


async def export_registration(conn: Any, area: CycleArea, folder: Path) -> list[RegistrationFile]:
    """Write the cycle's members in ``area`` as BPJS registration files under ``folder``."""
    members = await enrolled_members(conn, area.cycle.id, area.region_code)
    return write_files(members, area.cycle.period, folder)
