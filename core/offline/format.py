"""The package file: its tables, how values are written into it, and its digest.

A package is one SQLite database. The server writes the reference tables (``manifest``,
``regions``, ``code_lists``, ``households``, ``members``) and leaves the field tables
(``visits``, ``photos``, ``proposals``) empty for the field app to fill. The digest is an
HMAC-SHA256 over the reference tables as they are stored in the file, keyed per package from the
server's secret key, so a package whose reference data was changed is recognised on import.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import typing
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Table

from core.foundation.enums import PhotoKind, RemovalReason, VisitOutcome
from core.households.data import HouseholdData, MemberData
from core.storage.records import HOUSEHOLDS, MEMBERS

FORMAT = "siks-offline/1"


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the package is: for which village and round, made when and by whom, and its digest."""

    format: str
    package_id: str
    village_code: str
    round_id: int
    exported_at: str
    exported_by: str
    households: int
    digest: str


MANIFEST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Manifest))
#: The reference tables covered by the digest, each with the column its rows are ordered by.
REFERENCE_TABLES: tuple[tuple[str, str], ...] = (
    ("regions", "code"),
    ("code_lists", "list, value"),
    ("households", "id"),
    ("members", "id"),
)
FIELD_TABLES: tuple[str, ...] = ("visits", "photos", "proposals")


def _coded_fields(*kinds: type[Any]) -> dict[str, type[StrEnum]]:
    found: dict[str, type[StrEnum]] = {}
    for kind in kinds:
        for name, hint in typing.get_type_hints(kind).items():
            if isinstance(hint, type) and issubclass(hint, StrEnum):
                found[name] = hint
    return found


#: Every code list a field app needs: the coded household and member fields, and the visit's own.
CODE_LISTS: dict[str, type[StrEnum]] = {
    **_coded_fields(HouseholdData, MemberData),
    "visit_outcome": VisitOutcome,
    "photo_kind": PhotoKind,
    "member_removal_reason": RemovalReason,
}


def _sqlite_type(column: Column[Any]) -> str:
    python_type = column.type.python_type
    if python_type is bool or python_type is int:
        return "INTEGER"
    if python_type is float:
        return "REAL"
    return "TEXT"


def _columns_ddl(table: Table, primary_key: str) -> str:
    parts = []
    for column in table.columns:
        kind = _sqlite_type(column)
        if column.name == primary_key:
            parts.append(f"{column.name} {kind} PRIMARY KEY")
        else:
            parts.append(f"{column.name} {kind}{'' if column.nullable else ' NOT NULL'}")
    return ", ".join(parts)


SCHEMA = f"""
CREATE TABLE manifest (
    format TEXT NOT NULL, package_id TEXT NOT NULL, village_code TEXT NOT NULL, round_id INTEGER NOT NULL,
    exported_at TEXT NOT NULL, exported_by TEXT NOT NULL, households INTEGER NOT NULL, digest TEXT NOT NULL
);
CREATE TABLE regions (code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, parent_code TEXT);
CREATE TABLE code_lists (
    list TEXT NOT NULL, value TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (list, value)
);
CREATE TABLE households ({_columns_ddl(HOUSEHOLDS, "id")});
CREATE TABLE members ({_columns_ddl(MEMBERS, "id")});
CREATE INDEX members_household ON members (household_id);
CREATE TABLE visits (
    client_id TEXT PRIMARY KEY NOT NULL,
    household_id INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    visited_at TEXT NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    household_version INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    changes TEXT
);
CREATE TABLE photos (
    client_id TEXT PRIMARY KEY NOT NULL,
    visit_client_id TEXT NOT NULL REFERENCES visits (client_id),
    kind TEXT NOT NULL,
    content BLOB NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE proposals (
    client_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL DEFAULT 'new_household',
    household TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
"""


def stored(value: Any) -> Any:
    """A database value as the package keeps it: booleans 0/1, dates and times as ISO 8601 text (UTC)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def package_key(secret_key: str, package_id: str) -> bytes:
    """The package's own HMAC key: derived from the server's secret key and the package id."""
    return hmac.new(secret_key.encode(), f"{FORMAT}:{package_id}".encode(), hashlib.sha256).digest()


def _line(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=lambda b: bytes(b).hex())
    return text.encode() + b"\n"


def content_digest(db: sqlite3.Connection, manifest: Manifest, secret_key: str) -> str:
    """HMAC-SHA256 (hex) of the manifest's fields but the digest, then every reference table in key order.

    Each table is one line of its column names followed by one line per row, as JSON arrays of the
    values as stored in the file; so any changed, added or removed row or column changes the digest.
    """
    mac = hmac.new(package_key(secret_key, manifest.package_id), digestmod=hashlib.sha256)
    mac.update(_line([[name, getattr(manifest, name)] for name in MANIFEST_FIELDS if name != "digest"]))
    for table, order in REFERENCE_TABLES:
        cursor = db.execute(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608 (fixed table names)
        mac.update(_line([table, [d[0] for d in cursor.description]]))
        for row in cursor:
            mac.update(_line(row))
    return mac.hexdigest()
