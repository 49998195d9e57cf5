"""Reading reference snapshots: which are in force, and their rows by NIK (for the identity checks to come).

Reference data is read only by the data centre's commands and the checks; it is never shown in
GraphQL answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.models import ReferenceSnapshot
from core.reference.formats import Source
from core.reference.snapshots import ROW_TABLES, SNAPSHOTS, SnapshotStatus


async def snapshot_history(conn: AsyncConnection, source: Source | None = None) -> list[ReferenceSnapshot]:
    """Every snapshot (of ``source``, or of all), newest first."""
    statement = select(SNAPSHOTS).order_by(SNAPSHOTS.c.started_at.desc(), SNAPSHOTS.c.id.desc())
    if source is not None:
        statement = statement.where(SNAPSHOTS.c.source == source.value)
    return [ReferenceSnapshot.model_validate(row._mapping) for row in await conn.execute(statement)]


async def active_snapshots(conn: AsyncConnection) -> dict[Source, int]:
    """The id of each source's active snapshot; a source never loaded is absent."""
    rows = await conn.execute(
        select(SNAPSHOTS.c.source, SNAPSHOTS.c.id).where(SNAPSHOTS.c.status == SnapshotStatus.ACTIVE)
    )
    return {Source(source): snapshot_id for source, snapshot_id in rows}


async def rows_by_nik(
    conn: AsyncConnection, source: Source, snapshot_id: int, niks: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """The rows of one snapshot holding each of ``niks`` (a NIK may appear more than once), by NIK."""
    table = ROW_TABLES[source]
    wanted = sorted(set(niks))
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(wanted), 1000):
        rows = await conn.execute(
            select(table)
            .where(table.c.snapshot_id == snapshot_id, table.c.nik.in_(wanted[start : start + 1000]))
            .order_by(table.c.row_number)
        )
        for row in rows:
            found.setdefault(row.nik, []).append(dict(row._mapping))
    return found
