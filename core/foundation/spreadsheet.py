"""CSV cells a spreadsheet will not run as formulas (CSV injection, OWASP).

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, after a tab or carriage return, the same) as a formula: ``=HYPERLINK(...)`` or
``+cmd|' /C calc'!A0`` in a name would run when an officer opens an export. Every CSV file the
project writes goes through ``writer`` (or ``neutralised`` cell by cell), which prefixes such a
cell with an apostrophe, as OWASP advises: the spreadsheet then shows it as text.

A cell that is a plain number (``-6.9175``, ``+62``, ``-1e-05``) is left alone: a spreadsheet reads
it as that number, never as a formula, and latitudes south of the equator stay numbers. Numbers
(``int``/``float``) and ``None`` are written as the csv module writes them.

The household import reads ``restored`` cells, so an export imports back unchanged: an apostrophe
is taken off exactly when ``neutralised`` would have added it (a text that itself starts with
apostrophes before a formula character, ``'=x``, gets one more on the way out).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _needs_apostrophe(cell: str) -> bool:
    """A formula start after any apostrophes: ``'=x`` needs one more too, so that ``restored`` is exact."""
    text = cell.lstrip("'")
    return text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text)


def neutralised(cell: str) -> str:
    """``cell`` with an apostrophe in front when a spreadsheet would read it as a formula."""
    return "'" + cell if _needs_apostrophe(cell) else cell


def restored(cell: str) -> str:
    """The text ``neutralised`` was given for ``cell``: ``restored(neutralised(x)) == x`` for every x."""
    return cell[1:] if cell.startswith("'") and _needs_apostrophe(cell[1:]) else cell


def safe_cell(value: Any) -> Any:
    """A value to write as a CSV cell: text ``neutralised``, numbers and None unchanged."""
    return neutralised(value) if isinstance(value, str) else value


class SafeWriter:
    """``csv.writer`` whose text cells are ``neutralised``."""

    def __init__(self, stream: TextIO, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream: TextIO, **options: Any) -> SafeWriter:
    """A CSV writer (``csv.writer`` options) that never writes a cell a spreadsheet runs as a formula."""
    return SafeWriter(stream, **options)
