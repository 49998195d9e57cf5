"""Reference extracts read row by row: CSV (UTF-8, comma), XLSX (first sheet) and Parquet.

Every reader yields the header, then each data row as a list of cell texts (typed XLSX and
Parquet values become the text the layout expects), never holding the whole file: the csv
module line by line, openpyxl in read-only mode, pyarrow batch by batch. A workbook is checked
against the XLSX limits (``core.bulk.archive``, settings ``SIKS_XLSX_MAX_*``) before openpyxl
parses any of it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from core.bulk.archive import WorkbookLimits, WorkbookRefused, check_workbook
from core.bulk.sources import FileRefused, cell_text

_CHUNK = 1 << 20
PARQUET_BATCH = 8192
SUFFIXES = (".csv", ".xlsx", ".parquet")


class ReferenceFile(ABC):
    def __init__(self, path: Path) -> None:
        self.path = path

    def digest(self) -> str:
        """The file's sha256 (one streaming pass); a CSV file is also checked to be UTF-8 text."""
        hasher = hashlib.sha256()
        with self.path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest()

    @abstractmethod
    def rows(self) -> Iterator[list[str]]:
        """The header row, then every data row (row numbers follow: header = row 1)."""


class CsvReferenceFile(ReferenceFile):
    def digest(self) -> str:
        hasher = hashlib.sha256()
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        lines = 1
        with self.path.open("rb") as handle:
            first = True
            while chunk := handle.read(_CHUNK):
                if first and chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise FileRefused(f"{self.path.name} is UTF-16 text, not UTF-8; save it as 'CSV UTF-8'")
                first = False
                hasher.update(chunk)
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = lines + chunk.count(b"\n", 0, exc.start)
                    raise FileRefused(f"{self.path.name} is not UTF-8 text (near line {line})") from None
                lines += chunk.count(b"\n")
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise FileRefused(f"{self.path.name} is not UTF-8 text (it ends inside a character)") from None
        return hasher.hexdigest()

    def rows(self) -> Iterator[list[str]]:
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            try:
                yield from csv.reader(handle)
            except csv.Error as exc:
                raise FileRefused(f"{self.path.name} is not valid CSV ({exc})") from None


class XlsxReferenceFile(ReferenceFile):
    def __init__(self, path: Path, limits: WorkbookLimits) -> None:
        super().__init__(path)
        self.limits = limits

    def rows(self) -> Iterator[list[str]]:
        import openpyxl

        try:
            check_workbook(self.path, self.limits)
        except WorkbookRefused as exc:
            raise FileRefused(str(exc)) from None
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise FileRefused(f"{self.path.name} is not a readable XLSX workbook ({exc.__class__.__name__})") from None
        try:
            sheet = book.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield [cell_text(value) for value in values]
        finally:
            book.close()


class ParquetReferenceFile(ReferenceFile):
    def rows(self) -> Iterator[list[str]]:
        import pyarrow.parquet as pq
        from pyarrow.lib import ArrowException

        try:
            parquet = pq.ParquetFile(self.path)
        except (ArrowException, OSError) as exc:
            raise FileRefused(f"{self.path.name} is not a readable Parquet file ({exc})") from None
        with parquet:
            yield list(parquet.schema_arrow.names)
            try:
                for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
                    columns = [[cell_text(value) for value in column.to_pylist()] for column in batch.columns]
                    yield from (list(row) for row in zip(*columns, strict=True))
            except ArrowException as exc:
                raise FileRefused(f"{self.path.name}: the Parquet data cannot be read ({exc})") from None


def open_reference_file(path: Path, limits: WorkbookLimits) -> ReferenceFile:
    """The reader for ``path``, chosen by its extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvReferenceFile(path)
    if suffix == ".xlsx":
        return XlsxReferenceFile(path, limits)
    if suffix == ".parquet":
        return ParquetReferenceFile(path)
    raise FileRefused(f"{path.name}: a reference extract must be .csv, .xlsx or .parquet")
