"""The column layouts of the three reference extracts (docs/reference-data.md).

One header row of lower_snake_case names, in any order; every column listed must be present
(a column may be empty where ``required`` is False). These names are the contract with
``siks demo reference``, which writes files in these layouts.

Cell values: dates ``YYYY-MM-DD``; ``updated_at`` also ``YYYY-MM-DDTHH:MM:SS`` (kept as the date);
sex ``L`` (laki-laki) or ``P`` (perempuan); booleans ``true``/``false``; codes exactly as listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    ADMINDUK = "adminduk"  # Dukcapil civil registry
    DAPODIK = "dapodik"  # Kemendikbud school registry
    BPJS = "bpjs"  # BPJS Kesehatan membership (PBI)


class CivilStatus(StrEnum):
    ALIVE = "alive"
    DECEASED = "deceased"
    MOVED = "moved"


class SchoolLevel(StrEnum):
    SD = "SD"
    SMP = "SMP"
    SMA = "SMA"
    SMK = "SMK"


class BpjsSegment(StrEnum):
    PBI_APBN = "PBI-APBN"
    PBI_APBD = "PBI-APBD"
    OTHER = "OTHER"


#: Grades each school level teaches (SMK may have a fourth year).
LEVEL_GRADES: dict[SchoolLevel, range] = {
    SchoolLevel.SD: range(1, 7),
    SchoolLevel.SMP: range(7, 10),
    SchoolLevel.SMA: range(10, 13),
    SchoolLevel.SMK: range(10, 14),
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    description: str


ADMINDUK_COLUMNS: tuple[Column, ...] = (
    Column("nik", True, "NIK, 16 digits"),
    Column("kk", True, "family card (KK) number, 16 digits"),
    Column("full_name", True, "full name as on the KTP, one line, at most 150 characters"),
    Column("birth_place", False, "place of birth, one line, at most 100 characters"),
    Column("birth_date", True, "YYYY-MM-DD"),
    Column("sex", True, "L or P"),
    Column("village_code", True, "Kemendagri village code of the address (e.g. 32.01.01.2001), a loaded region"),
    Column("status", True, "alive, deceased or moved"),
    Column("death_date", False, "YYYY-MM-DD; required when status is deceased, empty otherwise"),
    Column("updated_at", True, "when the civil registry last changed the record: YYYY-MM-DD (a time may follow)"),
)

DAPODIK_COLUMNS: tuple[Column, ...] = (
    Column("nisn", True, "NISN, 10 digits"),
    Column("nik", False, "NIK, 16 digits; may be empty"),
    Column("name", True, "pupil's name, one line, at most 150 characters"),
    Column("birth_date", True, "YYYY-MM-DD"),
    Column("sex", True, "L or P"),
    Column("npsn", True, "school number (NPSN), 8 letters or digits"),
    Column("level", True, "SD, SMP, SMA or SMK"),
    Column("grade", True, "1-6 (SD), 7-9 (SMP), 10-12 (SMA), 10-13 (SMK)"),
    Column("enrolled", True, "true or false"),
    Column("attendance_pct", False, "attendance in the semester, 0-100 (decimals allowed); may be empty"),
    Column("semester", True, "YYYY-1 or YYYY-2 (e.g. 2026-1)"),
)

BPJS_COLUMNS: tuple[Column, ...] = (
    Column("nik", True, "NIK, 16 digits"),
    Column("card_number", True, "JKN-KIS card number, 13 digits"),
    Column("segment", True, "PBI-APBN, PBI-APBD or OTHER"),
    Column("active", True, "true or false"),
)

COLUMNS: dict[Source, tuple[Column, ...]] = {
    Source.ADMINDUK: ADMINDUK_COLUMNS,
    Source.DAPODIK: DAPODIK_COLUMNS,
    Source.BPJS: BPJS_COLUMNS,
}


def header(source: Source) -> tuple[str, ...]:
    """The header row of ``source``'s files, in the documented order."""
    return tuple(column.name for column in COLUMNS[source])
