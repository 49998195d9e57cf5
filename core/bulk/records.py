"""Records of a household file as they travel from the reader to the checking workers.

A CSV record is its raw text (a line, or several when a quoted cell holds a line break), split
into cells by the worker; an XLSX record is its list of cells already. Kept apart from the
readers so that workers start without loading openpyxl.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence

Record = str | list[str]
FileHousehold = tuple[int, list[Record]]  # the row number of the first record, then the records
_BLANK = " \t\r\n,"


def is_blank(record: Record) -> bool:
    """A row with nothing but spaces (and, in CSV, commas): skipped, but still counted in row numbers."""
    if isinstance(record, str):
        return not record.strip(_BLANK)
    return not any(cell.strip() for cell in record)


def record_cells(records: Sequence[Record], text: bool) -> Iterator[list[str]]:
    """The cells of each record, in file column order."""
    if text:
        return csv.reader(records)  # type: ignore[arg-type]
    return iter(records)  # type: ignore[arg-type]
