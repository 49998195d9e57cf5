"""The row-error report of an import: a CSV file with row, field and reason."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from core.bulk.sources import FileRefused
from core.bulk.validation import RowError
from core.foundation import spreadsheet

REPORT_HEADER = ("row", "field", "reason")


def default_report_path(source: Path) -> Path:
    """``households.csv`` gets ``households.errors.csv`` beside it."""
    return source.with_name(f"{source.stem}.errors.csv")


class ReportUnwritable(FileRefused):
    """The error report cannot be written where asked; the import does not start."""


class ErrorReport:
    """Written as the import goes; holds only the header when nothing was rejected.

    Row numbers are those of the imported file (header = row 1); every household with a row
    listed here was left out whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors = 0
        self._handle: TextIO | None = None

    def __enter__(self) -> ErrorReport:
        try:
            self._handle = self.path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise ReportUnwritable(f"cannot write the error report {self.path} ({exc.strerror or exc})") from None
        self._writer = spreadsheet.writer(self._handle)  # reasons quote the file's cells: never as formulas
        self._writer.writerow(REPORT_HEADER)
        return self

    def add(self, errors: Iterable[RowError]) -> None:
        for error in sorted(errors):
            self._writer.writerow(error)
            self.errors += 1

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
