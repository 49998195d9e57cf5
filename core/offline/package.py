"""Opening a package that came back from the field, read-only, and reading what the field app wrote.

Nothing here touches the registry: the file is checked as a file (an SQLite database, complete,
passing SQLite's integrity check, with the package's tables and one manifest of this format), and
the field tables are read into typed rows, each value checked. Any problem raises
``PackageRefused`` with one sentence; the importer then refuses the whole file.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.foundation.enums import PhotoKind, VisitOutcome
from core.foundation.text import text_problem
from core.households.data import HouseholdData
from core.offline.field_json import field_json
from core.offline.format import FIELD_TABLES, FORMAT, MANIFEST_FIELDS, REFERENCE_TABLES, Manifest, content_digest
from core.offline.values import ValueProblem, change_request, coded, household_data, number, whole_number
from core.verification.drafts import ChangeRequest
from core.verification.proposals import NOTE_LIMIT

HEADER = b"SQLite format 3\x00"
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
SHA256 = re.compile(r"[0-9a-f]{64}")


class PackageRefused(ValueError):
    """The file is not an importable package; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class FieldVisit:
    client_id: str
    household_id: int
    outcome: VisitOutcome
    visited_at: datetime
    latitude: float
    longitude: float
    household_version: int
    note: str
    changes: ChangeRequest | None


@dataclass(frozen=True, slots=True)
class FieldPhoto:
    """A photo's row without its content (read again, one at a time, when it is stored)."""

    client_id: str
    visit_client_id: str
    kind: PhotoKind
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class FieldProposal:
    client_id: str
    household: HouseholdData
    note: str


@dataclass(frozen=True, slots=True)
class FieldWork:
    """Everything the field app wrote, checked: visits in the order they were made, photos in their visits' order."""

    visits: list[FieldVisit]
    photos: list[FieldPhoto]
    proposals: list[FieldProposal]


def _check_header(path: Path) -> None:
    """An SQLite file whose size is the one its header announces (a truncated copy is caught here)."""
    if not path.is_file():
        raise PackageRefused(f"there is no file {path}")
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(HEADER):
        raise PackageRefused(f"{path.name} is not an offline package: it is not an SQLite database")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages, counter, valid_for = (int.from_bytes(header[i : i + 4], "big") for i in (28, 24, 92))
    if size % page_size or (counter == valid_for and size < pages * page_size):
        raise PackageRefused(
            f"{path.name} is truncated ({size:,} bytes, {pages * page_size:,} expected); copy the package again"
        )


def _row_problem(table: str, key: Any, problem: str) -> PackageRefused:
    return PackageRefused(f"{table} row {str(key)[:64]!r}: {problem}")


class PackageFile:
    """An offline package opened read-only. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        _check_header(path)
        self.path = path
        self.db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, check_same_thread=False)
        try:
            self.manifest = self._open()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise PackageRefused(f"{path.name} is not a readable SQLite database ({exc})") from None
        except BaseException:
            self.db.close()
            raise

    def __enter__(self) -> PackageFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.db.close()

    def _open(self) -> Manifest:
        problems = [row[0] for row in self.db.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise PackageRefused(f"{self.path.name} is damaged (SQLite integrity check: {problems[0][:120]})")
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "manifest" not in tables:
            raise PackageRefused(f"{self.path.name} is not an offline package: it has no manifest")
        try:
            rows = self.db.execute(f"SELECT {', '.join(MANIFEST_FIELDS)} FROM manifest").fetchall()  # noqa: S608
        except sqlite3.OperationalError:
            raise PackageRefused(f"{self.path.name} has a malformed manifest; export a new package") from None
        if len(rows) != 1:
            raise PackageRefused(f"{self.path.name} is not an offline package: its manifest has {len(rows)} rows")
        if rows[0][0] != FORMAT:
            raise PackageRefused(
                f"{self.path.name} is a package of format {str(rows[0][0])[:40]!r}; this server reads {FORMAT}"
            )
        missing = [t for t, _ in REFERENCE_TABLES if t not in tables] + [t for t in FIELD_TABLES if t not in tables]
        if missing:
            raise PackageRefused(f"{self.path.name} is not a complete offline package: it has no {missing[0]} table")
        manifest = Manifest(*rows[0])
        kinds = (str, str, str, int, str, str, int, str)
        if any(not isinstance(v, k) or isinstance(v, bool) for v, k in zip(rows[0], kinds, strict=True)):
            raise PackageRefused(f"{self.path.name} has a malformed manifest; export a new package")
        return manifest

    def digest(self, secret_key: str) -> str:
        """The digest of the reference content as it is in the file now."""
        return content_digest(self.db, self.manifest, secret_key)

    def household_versions(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT id, version FROM households"))

    def field_work(self, max_photo_bytes: int) -> FieldWork:
        """The field tables, every row checked; PackageRefused at the first bad row."""
        versions = self.household_versions()
        visits = sorted(self._visits(versions), key=lambda v: (v.visited_at, v.client_id))
        photos = list(self._photos({v.client_id for v in visits}, max_photo_bytes))
        order = {v.client_id: i for i, v in enumerate(visits)}
        photos.sort(key=lambda p: (order[p.visit_client_id], p.kind.value))
        return FieldWork(visits, photos, list(self._proposals()))

    def photo_content(self, client_id: str) -> bytes:
        row = self.db.execute("SELECT content FROM photos WHERE client_id = ?", (client_id,)).fetchone()
        return bytes(row[0])

    def _visits(self, versions: dict[int, int]) -> Iterator[FieldVisit]:
        query = (
            "SELECT client_id, household_id, outcome, visited_at, latitude, longitude, household_version, note, "
            "changes FROM visits ORDER BY client_id"
        )
        seen: set[str] = set()
        for row in self.db.execute(query):
            client_id = _client_id(row[0], "visits", seen)
            try:
                yield _visit(client_id, row, versions)
            except ValueProblem as exc:
                raise _row_problem("visits", client_id, str(exc)) from None

    def _photos(self, visits: set[str], max_bytes: int) -> Iterator[FieldPhoto]:
        query = "SELECT client_id, visit_client_id, kind, content, sha256 FROM photos ORDER BY client_id"
        seen: set[str] = set()
        kinds: set[tuple[str, str]] = set()
        for client_id, visit_client_id, kind, content, sha256 in self.db.execute(query):
            client_id = _client_id(client_id, "photos", seen)
            try:
                photo_kind = coded(PhotoKind)(kind, "kind")
            except ValueProblem as exc:
                raise _row_problem("photos", client_id, str(exc)) from None
            if visit_client_id not in visits:
                raise _row_problem("photos", client_id, f"visit {str(visit_client_id)[:64]!r} is not in the package")
            if (visit_client_id, photo_kind.value) in kinds:
                raise _row_problem("photos", client_id, f"visit {visit_client_id!r} has a second {kind} photo")
            kinds.add((visit_client_id, photo_kind.value))
            if not isinstance(content, bytes) or not content:
                raise _row_problem("photos", client_id, "content is not a non-empty BLOB")
            if len(content) > max_bytes:
                raise _row_problem("photos", client_id, f"the photo is larger than the limit of {max_bytes:,} bytes")
            if not isinstance(sha256, str) or not SHA256.fullmatch(sha256.lower()):
                raise _row_problem("photos", client_id, "sha256 is not 64 hexadecimal digits")
            if hashlib.sha256(content).hexdigest() != sha256.lower():
                raise _row_problem("photos", client_id, "the photo's content does not match its sha256")
            yield FieldPhoto(client_id, visit_client_id, photo_kind, sha256.lower(), len(content))

    def _proposals(self) -> Iterator[FieldProposal]:
        seen: set[str] = set()
        for client_id, kind, household, note in self.db.execute(
            "SELECT client_id, kind, household, note FROM proposals ORDER BY client_id"
        ):
            client_id = _client_id(client_id, "proposals", seen)
            try:
                if kind != "new_household":
                    raise ValueProblem(f"kind: {str(kind)[:20]!r} is not new_household")
                data = household_data(field_json(household, "household"), "household")
                yield FieldProposal(client_id, data, _note(note))
            except ValueProblem as exc:
                raise _row_problem("proposals", client_id, str(exc)) from None


def _client_id(value: Any, table: str, seen: set[str]) -> str:
    if not isinstance(value, str) or not CLIENT_ID.fullmatch(value):
        raise _row_problem(table, value, "client_id must be 1 to 64 letters, digits or . _ : -")
    if value in seen:
        raise _row_problem(table, value, "client_id appears twice")
    seen.add(value)
    return value


def _note(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueProblem("note: is not text")
    if len(value) > NOTE_LIMIT:
        raise ValueProblem(f"note: is longer than {NOTE_LIMIT} characters")
    problem = text_problem(value)
    if problem:
        raise ValueProblem(f"note: {problem}")
    return value


def _moment(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueProblem(
            f"visited_at: {str(value)[:40]!r} is not an ISO 8601 time with its offset, e.g. 2026-05-04T09:30:00+07:00"
        )
    return moment


def _visit(client_id: str, row: tuple[Any, ...], versions: dict[int, int]) -> FieldVisit:
    household_id = whole_number(row[1], "household_id")
    if household_id not in versions:
        raise ValueProblem(f"household {household_id} is not in the package")
    household_version = whole_number(row[6], "household_version")
    if household_version != versions[household_id]:
        raise ValueProblem(
            f"household_version {household_version} is not the package's version {versions[household_id]} "
            f"of household {household_id}"
        )
    return FieldVisit(
        client_id=client_id,
        household_id=household_id,
        outcome=coded(VisitOutcome)(row[2], "outcome"),
        visited_at=_moment(row[3]),
        latitude=number(row[4], "latitude"),
        longitude=number(row[5], "longitude"),
        household_version=household_version,
        note=_note(row[7]),
        changes=None if row[8] is None else change_request(field_json(row[8], "changes"), "changes"),
    )
