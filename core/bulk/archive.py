"""Checking an XLSX workbook's zip before openpyxl opens it: no zip bombs.

An XLSX file is a zip archive of XML parts that openpyxl inflates and parses as it reads, keeping
every shared string in memory: a 1.5 MB workbook holding one 1.5 GB string once took 31 s and
3.27 GB to import. ``check_workbook`` refuses such a file (``WorkbookRefused`` naming the limit and
its setting) before any XML is parsed:

1. from the zip's directory alone, when its parts would inflate to more than
   ``max_uncompressed_bytes`` in all, or a part larger than ``RATIO_FROM_BYTES`` inflates more than
   ``max_compression_ratio`` times its compressed size;
2. then, inflating each XML part once in 1 MiB pieces (never holding more), when the parts inflate
   to more than they declared (zipfile's CRC check) or beyond the total, when a part is not UTF-8,
   or when more than ``max_cell_bytes`` bytes stand between two ``<`` of a part: a cell's text (or
   any single tag) that long. In UTF-8 the byte ``<`` is always the character ``<``, and XML text
   cannot hold a bare ``<``, so this bounds every cell without parsing the XML.

Parts that are not XML (``printerSettings1.bin``, a thumbnail) count towards the sizes but are not
scanned: openpyxl never parses them.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

_PIECE = 1 << 20
RATIO_FROM_BYTES = 1 << 20  # smaller parts (styles, themes) may compress as well as they like
_WHITESPACE = b" \t\r\n"


class WorkbookRefused(ValueError):
    """A workbook that would expand past a limit, or is not a zip of UTF-8 XML parts; the message says which."""


@dataclass(frozen=True, slots=True)
class WorkbookLimits:
    """How far an XLSX workbook may expand (settings ``SIKS_XLSX_MAX_*``)."""

    max_uncompressed_bytes: int
    max_compression_ratio: int
    max_cell_bytes: int


class _Refusal:
    """Messages naming the file, the part and the setting whose limit was passed."""

    def __init__(self, path: Path, limits: WorkbookLimits) -> None:
        self.name = path.name
        self.limits = limits

    def too_big(self) -> WorkbookRefused:
        return WorkbookRefused(
            f"{self.name} expands to more than {self.limits.max_uncompressed_bytes:,} bytes when unzipped "
            "(SIKS_XLSX_MAX_UNCOMPRESSED_BYTES); split the workbook or import the rows as CSV"
        )

    def ratio(self, part: str, ratio: float) -> WorkbookRefused:
        return WorkbookRefused(
            f"{self.name}: part {part[:80]} is compressed {ratio:,.0f} times, more than "
            f"{self.limits.max_compression_ratio:,} (SIKS_XLSX_MAX_COMPRESSION_RATIO); this is not a workbook "
            "Excel writes: save it again from Excel"
        )

    def cell(self, part: str) -> WorkbookRefused:
        return WorkbookRefused(
            f"{self.name}: part {part[:80]} holds a cell or tag longer than {self.limits.max_cell_bytes:,} bytes "
            "(SIKS_XLSX_MAX_CELL_BYTES); no column of the layout takes that much text"
        )

    def encoding(self, part: str) -> WorkbookRefused:
        return WorkbookRefused(f"{self.name}: part {part[:80]} is not UTF-8 XML; save the workbook again from Excel")

    def unreadable(self, reason: str) -> WorkbookRefused:
        return WorkbookRefused(f"{self.name} is not a readable XLSX workbook ({reason}); save it again from Excel")


def _check_directory(archive: zipfile.ZipFile, refuse: _Refusal) -> None:
    limits = refuse.limits
    if sum(info.file_size for info in archive.infolist()) > limits.max_uncompressed_bytes:
        raise refuse.too_big()
    for info in archive.infolist():
        if info.file_size > RATIO_FROM_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                raise refuse.ratio(info.filename, ratio)


def _is_xml(first: bytes, part: str, refuse: _Refusal) -> bool:
    """Whether a part that starts with ``first`` is XML to scan; refuses XML that is not UTF-8."""
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in first[:4]:
        raise refuse.encoding(part)
    text = first.removeprefix(codecs.BOM_UTF8).lstrip(_WHITESPACE)
    return not text or text.startswith(b"<")


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, refuse: _Refusal) -> int:
    """Inflate one part in pieces; the bytes it held. Refuses it past ``budget`` bytes or with a long cell."""
    longest = refuse.limits.max_cell_bytes
    inflated = 0
    carry = b""  # the bytes after the last '<' seen so far
    xml: bool | None = None
    with archive.open(info) as part:
        while piece := part.read(_PIECE):
            inflated += len(piece)
            if inflated > budget:
                raise refuse.too_big()
            if xml is None:
                xml = _is_xml(piece, info.filename, refuse)
            if not xml:
                continue
            runs = (carry + piece).split(b"<")
            carry = runs.pop()
            if len(carry) > longest or (runs and max(map(len, runs)) > longest):
                raise refuse.cell(info.filename)
    return inflated


def check_workbook(path: Path, limits: WorkbookLimits) -> None:
    """Refuse the workbook at ``path`` if it would expand past ``limits``; memory stays at one piece."""
    refuse = _Refusal(path, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            _check_directory(archive, refuse)
            budget = limits.max_uncompressed_bytes
            for info in archive.infolist():
                if not info.is_dir():
                    budget -= _scan_part(archive, info, budget, refuse)
    except WorkbookRefused:
        raise
    except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:  # a damaged zip
        reason = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__
        raise refuse.unreadable(reason) from None
