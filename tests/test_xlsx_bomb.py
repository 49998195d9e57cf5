"""Finding 9: an XLSX zip bomb (1.5 MB on disk, one 1.5 GB string) took 31 s and 3.27 GB to import.

A workbook's zip is checked before openpyxl parses it (``core.bulk.archive``): total unzipped
size, compression ratio and cell length, each a setting. The workbooks here are made in the test.
"""

from __future__ import annotations

import asyncio
import codecs
import random
import re
import string
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from core.bulk.archive import WorkbookLimits
from core.bulk.importer import ImportOptions, ImportSummary, workbook_limits
from core.bulk.sources import FileRefused
from core.cli import app
from core.foundation.settings import get_settings
from tests import factories
from tests.bulk_files import counts, file_rows, numbered_households, read_report, write_xlsx
from tests.test_bulk_import import run as import_run

SHEET = "xl/worksheets/sheet1.xml"
BOMB_BYTES = 256 << 20  # 256 MiB of one cell's text, about 250 KB once deflated
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
)
SHEET_TAIL = b"</t></is></c></row></sheetData></worksheet>"


def rewritten(source: Path, target: Path, parts: dict[str, Iterable[bytes]], zip64: bool = True) -> Path:
    """``source`` with some parts replaced by streamed pieces (or added): the file stays small on disk."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in original.infolist():
            if info.filename not in parts:
                out.writestr(info, original.read(info.filename))
        for name, pieces in parts.items():
            with out.open(name, "w", force_zip64=zip64) as part:
                for piece in pieces:
                    part.write(piece)
    return target


def one_cell_sheet(size: int) -> Iterator[bytes]:
    yield SHEET_HEAD
    piece = b"A" * (1 << 20)
    for _ in range(size // len(piece)):
        yield piece
    yield SHEET_TAIL


def a_workbook(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "base.xlsx", file_rows([factories.household()]))


async def refused(db: AsyncEngine, path: Path, limits: WorkbookLimits | None = None) -> str:
    """The refusal; asserts that nothing was written, not even the error report."""
    with pytest.raises(FileRefused) as caught:
        await import_run(db, path, ImportOptions(workers=0, workbook_limits=limits))
    assert await counts(db) == (0, 0)
    assert not path.with_name(f"{path.stem}.errors.csv").exists()
    return str(caught.value)


async def test_finding_9_a_zip_bomb_workbook_is_refused_fast_without_large_memory(
    db: AsyncEngine, tmp_path: Path
) -> None:
    bomb = rewritten(a_workbook(tmp_path), tmp_path / "bomb.xlsx", {SHEET: one_cell_sheet(BOMB_BYTES)})
    assert bomb.stat().st_size < 2_000_000

    for limits, setting in (
        (None, "SIKS_XLSX_MAX_COMPRESSION_RATIO"),  # the settings' defaults: refused from the zip's directory
        (WorkbookLimits(1 << 30, 1_000_000, 32_768), "SIKS_XLSX_MAX_CELL_BYTES"),  # no ratio limit: while inflating
    ):
        tracemalloc.start()
        started = time.perf_counter()
        try:
            message = await refused(db, bomb, limits)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert time.perf_counter() - started < 1, setting
        assert peak < 10_000_000, f"{peak:,} bytes"
        assert f"part {SHEET} " in message and f"({setting})" in message
    assert re.search(r"is compressed [0-9,]+ times, more than 100 ", await refused(db, bomb))

    result = await asyncio.to_thread(CliRunner().invoke, app, ["import", "households", str(bomb)])
    assert result.exit_code == 2 and "SIKS_XLSX_MAX_COMPRESSION_RATIO" in result.stderr


async def test_finding_9_a_workbook_unzipping_past_the_setting_is_refused(
    db: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", file_rows(numbered_households(250)))
    monkeypatch.setenv("SIKS_XLSX_MAX_UNCOMPRESSED_BYTES", "1048576")
    get_settings.cache_clear()
    try:
        assert workbook_limits().max_uncompressed_bytes == 1_048_576
        message = await refused(db, path)
    finally:
        monkeypatch.delenv("SIKS_XLSX_MAX_UNCOMPRESSED_BYTES")
        get_settings.cache_clear()
    assert message == (
        "big.xlsx expands to more than 1,048,576 bytes when unzipped (SIKS_XLSX_MAX_UNCOMPRESSED_BYTES); "
        "split the workbook or import the rows as CSV"
    )
    summary: ImportSummary = await import_run(db, path)
    assert summary.loaded == 250  # under the default limit the same file loads


async def test_finding_9_a_cell_longer_than_the_setting_is_refused_before_parsing(
    db: AsyncEngine, tmp_path: Path
) -> None:
    letters = random.Random(9).choices(string.ascii_letters + " ", k=40_000)  # hardly compressible
    household = factories.household(address="".join(letters))
    path = write_xlsx(tmp_path / "long.xlsx", file_rows([household]))
    message = await refused(db, path)
    assert message == (
        f"long.xlsx: part {SHEET} holds a cell or tag longer than 32,768 bytes (SIKS_XLSX_MAX_CELL_BYTES); "
        "no column of the layout takes that much text"
    )

    shorter = write_xlsx(tmp_path / "shorter.xlsx", file_rows([factories.household(address="".join(letters[:30_000]))]))
    summary = await import_run(db, shorter)
    assert summary.rejected == 1  # read, and judged by the rules like any address
    assert read_report(summary.report) == [(2, "address", "address is longer than 200 characters")]


def patched_size(path: Path, part: str, declared: int) -> None:
    """Make the zip's central directory declare ``declared`` uncompressed bytes for ``part``."""
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x01\x02")  # the first central directory header
    while True:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + name_length] == part.encode():
            struct.pack_into("<I", data, start + 24, declared)
            path.write_bytes(bytes(data))
            return
        start = data.index(b"PK\x01\x02", start + 4)


async def test_finding_9_a_part_that_declares_less_than_it_holds_is_refused(db: AsyncEngine, tmp_path: Path) -> None:
    sheet = b"".join(one_cell_sheet(8 << 20))
    path = rewritten(a_workbook(tmp_path), tmp_path / "liar.xlsx", {SHEET: [sheet]}, zip64=False)
    patched_size(path, SHEET, 4096)  # a small part, by its directory
    message = await refused(db, path)
    assert message.startswith("liar.xlsx is not a readable XLSX workbook (") and message.endswith(
        "save it again from Excel"
    )


async def test_finding_9_xml_parts_must_be_utf8_and_binary_parts_are_not_scanned(
    db: AsyncEngine, tmp_path: Path
) -> None:
    base = a_workbook(tmp_path)
    with zipfile.ZipFile(base) as original:
        sheet = original.read(SHEET).decode("utf-8")
    utf16 = sheet.replace('encoding="UTF-8"', 'encoding="UTF-16"').replace("utf-8", "UTF-16")
    wide = rewritten(base, tmp_path / "wide.xlsx", {SHEET: [codecs.BOM_UTF16_LE + utf16.encode("utf-16-le")]})
    assert await refused(db, wide) == (f"wide.xlsx: part {SHEET} is not UTF-8 XML; save the workbook again from Excel")

    noise = bytes(b for b in random.Random(3).randbytes(200_000) if b != ord("<"))  # no '<' for 200 KB
    printer = rewritten(base, tmp_path / "printer.xlsx", {"xl/printerSettings/printerSettings1.bin": [noise]})
    summary = await import_run(db, printer)
    assert (summary.loaded, summary.rejected) == (1, 0)
