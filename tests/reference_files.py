"""Reference extracts for tests and the load bench: valid rows of each source, written as CSV, XLSX or Parquet.

Rows are made from a number, so file ``i`` of a test is reproducible; villages are real
Kemendagri codes of the full region list the test database holds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import openpyxl

from core.foundation.enums import Sex
from core.households.identity import make_nik
from core.reference.formats import Source, header

VILLAGES = ("32.01.01.1001", "35.78.01.1001", "31.71.01.1001")
Row = list[str]


def adminduk_row(number: int, status: str = "alive") -> Row:
    village = VILLAGES[number % len(VILLAGES)]
    born = date(1950, 1, 1) + timedelta(days=number % 25_000)
    sex = Sex.FEMALE if number % 2 else Sex.MALE
    nik = make_nik(village.rsplit(".", 1)[0], born, sex, number % 9999 + 1)
    kk = f"{village[:8].replace('.', '')}{number % 10**10:010d}"
    death = (born + timedelta(days=20_000)).isoformat() if status == "deceased" else ""
    return [
        nik, kk, f"Warga Nomor {number}", "Bogor", born.isoformat(), "P" if sex is Sex.FEMALE else "L",
        village, status, death, "2026-11-30",
    ]  # fmt: skip


def dapodik_row(number: int) -> Row:
    village = VILLAGES[number % len(VILLAGES)]
    born = date(2012, 1, 1) + timedelta(days=number % 2000)
    sex = Sex.FEMALE if number % 2 else Sex.MALE
    nik = make_nik(village.rsplit(".", 1)[0], born, sex, number % 9999 + 1) if number % 5 else ""
    return [
        f"{number % 10**10:010d}", nik, f"Murid Nomor {number}", born.isoformat(), "P" if sex is Sex.FEMALE else "L",
        "20212345", "SD", str(number % 6 + 1), "true" if number % 7 else "false", "92.5", "2026-1",
    ]  # fmt: skip


def bpjs_row(number: int) -> Row:
    village = VILLAGES[number % len(VILLAGES)]
    born = date(1960, 1, 1) + timedelta(days=number % 20_000)
    nik = make_nik(village.rsplit(".", 1)[0], born, Sex.MALE, number % 9999 + 1)
    segment = ("PBI-APBN", "PBI-APBD", "OTHER")[number % 3]
    return [nik, f"{number % 10**13:013d}", segment, "true" if number % 4 else "false"]


ROWS = {Source.ADMINDUK: adminduk_row, Source.DAPODIK: dapodik_row, Source.BPJS: bpjs_row}


def rows_of(source: Source, count: int, start: int = 1) -> Iterator[Row]:
    make = ROWS[source]
    return (make(number) for number in range(start, start + count))


def write_csv(path: Path, rows: Iterator[Sequence[str]] | Sequence[Sequence[str]], columns: Sequence[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], columns: Sequence[str]) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(list(columns))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def write_parquet(path: Path, rows: Sequence[Sequence[str]], columns: Sequence[str]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    pq.write_table(table, path, row_group_size=1000)
    return path


def write_extract(path: Path, source: Source, rows: Sequence[Sequence[str]]) -> Path:
    """``rows`` of ``source`` in the format of ``path``'s extension."""
    columns = header(source)
    writer = {".csv": write_csv, ".xlsx": write_xlsx, ".parquet": write_parquet}[path.suffix]
    return writer(path, rows, columns)  # type: ignore[operator]
