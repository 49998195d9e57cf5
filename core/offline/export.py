"""Exporting an offline village package: one round's prelist of one village, as one SQLite file.

The registry is read in a handful of statements (the prelist's households, their active members,
the village's regions), the file is written with ``executemany`` in one SQLite transaction, and the
package is recorded in ``offline_packages`` (with its digest) in the same write transaction as its
audit row. The file appears under its final name only once that transaction has committed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo, record
from core.foundation.enums import MemberStatus, RecordStatus
from core.models import OfflinePackage
from core.offline.format import CODE_LISTS, FORMAT, SCHEMA, Manifest, content_digest, stored
from core.regions.codes import is_region_code, level_number
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS, MEMBERS, REGIONS
from core.verification.rounds import OPEN, PRELIST, ROUNDS

PACKAGES = OfflinePackage.__table__


class ExportRefused(ValueError):
    """The package cannot be made as asked; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class Exported:
    package_id: str
    village_code: str
    round_id: int
    households: int
    members: int
    path: Path


@dataclass(slots=True)
class _Content:
    regions: list[tuple[Any, ...]]
    households: list[tuple[Any, ...]]
    members: list[tuple[Any, ...]]


async def _check_village(conn: AsyncConnection, village_code: str) -> None:
    if not is_region_code(village_code) or level_number(village_code) != 4:
        raise ExportRefused(f"'{village_code[:20]}' is not a village code such as 32.01.01.2001")
    found = await conn.execute(select(REGIONS.c.code).where(REGIONS.c.code == village_code))
    if found.first() is None:
        raise ExportRefused(f"village {village_code} does not exist")


def _has_village(village_code: str) -> Any:
    return exists().where(PRELIST.c.round_id == ROUNDS.c.id, PRELIST.c.village_code == village_code)


async def choose_round(conn: AsyncConnection, village_code: str, round_id: int | None) -> int:
    """The round asked for (open, with the village on its prelist), or else the newest such round."""
    if round_id is None:
        newest = await conn.execute(
            select(ROUNDS.c.id)
            .where(ROUNDS.c.status == OPEN, _has_village(village_code))
            .order_by(ROUNDS.c.created_at.desc(), ROUNDS.c.id.desc())
            .limit(1)
        )
        found = newest.scalar()
        if found is None:
            raise ExportRefused(f"no open verification round has village {village_code} on its prelist")
        return int(found)
    row = (
        await conn.execute(
            select(ROUNDS.c.status, _has_village(village_code).label("has_village")).where(ROUNDS.c.id == round_id)
        )
    ).first()
    if row is None:
        raise ExportRefused(f"there is no verification round {round_id}")
    if row.status != OPEN:
        raise ExportRefused(f"verification round {round_id} is closed; visits are no longer recorded in it")
    if not row.has_village:
        raise ExportRefused(f"verification round {round_id} has no household of village {village_code} on its prelist")
    return round_id


async def _read_content(conn: AsyncConnection, village_code: str, round_id: int) -> _Content:
    prelisted = select(PRELIST.c.household_id).where(
        PRELIST.c.round_id == round_id, PRELIST.c.village_code == village_code
    )
    households = await conn.execute(
        select(HOUSEHOLDS)
        .where(HOUSEHOLDS.c.id.in_(prelisted), HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value)
        .order_by(HOUSEHOLDS.c.id)
    )
    members = await conn.execute(
        select(MEMBERS)
        .join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
        .where(
            MEMBERS.c.household_id.in_(prelisted),
            MEMBERS.c.status == MemberStatus.ACTIVE.value,
            HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value,
        )
        .order_by(MEMBERS.c.id)
    )
    parts = village_code.split(".")
    lineage = [".".join(parts[: i + 1]) for i in range(len(parts))]
    regions = await conn.execute(select(REGIONS).where(REGIONS.c.code.in_(lineage)).order_by(REGIONS.c.code))
    return _Content(
        regions=[tuple(row) for row in regions],
        households=[tuple(map(stored, row)) for row in households],
        members=[tuple(map(stored, row)) for row in members],
    )


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def write_file(path: Path, manifest: Manifest, content: _Content, secret_key: str) -> str:
    """Write the package to ``path`` (a new file) in one SQLite transaction; returns its digest."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        db.execute(f"INSERT INTO manifest VALUES ({_marks(8)})", astuple(manifest))
        db.executemany(f"INSERT INTO regions VALUES ({_marks(4)})", content.regions)
        db.executemany(
            "INSERT INTO code_lists VALUES (?, ?, ?)",
            [(name, member.value, i) for name, kind in CODE_LISTS.items() for i, member in enumerate(kind)],
        )
        if content.households:
            db.executemany(f"INSERT INTO households VALUES ({_marks(len(content.households[0]))})", content.households)
        if content.members:
            db.executemany(f"INSERT INTO members VALUES ({_marks(len(content.members[0]))})", content.members)
        digest = content_digest(db, manifest, secret_key)
        db.execute("UPDATE manifest SET digest = ?", (digest,))
        db.execute("COMMIT")
    finally:
        db.close()
    return digest


async def export_package(
    engine: AsyncEngine,
    request: RequestInfo,
    village_code: str,
    output: Path,
    secret_key: str,
    round_id: int | None = None,
) -> Exported:
    """Write the package of ``village_code`` for ``round_id`` (default: the newest open round) to ``output``."""
    if output.exists():
        raise ExportRefused(f"{output} already exists; choose a new file name for the package")
    if not output.parent.is_dir():
        raise ExportRefused(f"folder {output.parent} does not exist")
    partial = output.with_name(f".{output.name}.{secrets.token_hex(4)}.part")
    try:
        async with write_transaction(engine) as conn:
            await _check_village(conn, village_code)
            chosen = await choose_round(conn, village_code, round_id)
            content = await _read_content(conn, village_code, chosen)
            at = datetime.now(UTC)
            manifest = Manifest(
                format=FORMAT,
                package_id=secrets.token_hex(16),
                village_code=village_code,
                round_id=chosen,
                exported_at=stored(at),
                exported_by=request.principal.username[:64],
                households=len(content.households),
                digest="",
            )
            digest = await asyncio.to_thread(write_file, partial, manifest, content, secret_key)
            await conn.execute(
                insert(PACKAGES).values(
                    id=manifest.package_id,
                    village_code=village_code,
                    round_id=chosen,
                    households=manifest.households,
                    digest=digest,
                    exported_at=at,
                    exported_by=manifest.exported_by,
                )
            )
            await record(
                conn,
                request,
                operation="exportOfflinePackage",
                entity="offline_package",
                entity_id=manifest.package_id,
                after={"village": village_code, "round": chosen, "households": manifest.households},
            )
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return Exported(manifest.package_id, village_code, chosen, manifest.households, len(content.members), output)
