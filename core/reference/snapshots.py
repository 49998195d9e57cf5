"""Which snapshot of each source is in force, and the life of a load: loading → active → superseded.

A load writes its rows under a ``loading`` snapshot in batches; only ``activate`` (one
transaction, with the audit row) makes it the active one and the previous one ``superseded``.
A load that fails is marked ``failed`` and its rows deleted; one that was killed stays
``loading`` until the next load of that source marks it ``failed`` and deletes its rows.
``prune`` deletes the rows of superseded snapshots but the newest few (they stay listed, ``pruned``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo
from core.audit.log import record as audit
from core.foundation.ids import ids
from core.models import AdmindukPerson, BpjsMembership, DapodikPupil, ReferenceSnapshot
from core.reference.formats import Source
from core.storage.db import write_transaction

SNAPSHOTS = ReferenceSnapshot.__table__
ROW_TABLES = {
    Source.ADMINDUK: AdmindukPerson.__table__,
    Source.DAPODIK: DapodikPupil.__table__,
    Source.BPJS: BpjsMembership.__table__,
}


class SnapshotStatus(StrEnum):
    LOADING = "loading"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    PRUNED = "pruned"  # superseded, and its rows deleted by ``siks reference prune``


async def active_snapshot(conn: AsyncConnection, source: Source) -> ReferenceSnapshot | None:
    """The source's snapshot in force, or None before its first completed load."""
    row = (
        await conn.execute(
            select(SNAPSHOTS).where(SNAPSHOTS.c.source == source.value, SNAPSHOTS.c.status == SnapshotStatus.ACTIVE)
        )
    ).first()
    return None if row is None else ReferenceSnapshot.model_validate(row._mapping)


async def begin_snapshot(engine: AsyncEngine, source: Source, file_name: str, sha256: str, loaded_by: str) -> int:
    """Clear what killed loads of ``source`` left, then open a ``loading`` snapshot; its id."""
    await discard_unfinished(engine, source)
    snapshot_id = ids.next_id()
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(SNAPSHOTS).values(
                id=snapshot_id,
                source=source.value,
                status=SnapshotStatus.LOADING,
                file_name=file_name[:255],
                sha256=sha256,
                rows_loaded=0,
                rows_rejected=0,
                loaded_by=loaded_by[:120],
                started_at=datetime.now(UTC),
            )
        )
    return snapshot_id


async def discard_unfinished(engine: AsyncEngine, source: Source) -> int:
    """Mark ``loading`` snapshots of ``source`` (left by killed loads) failed and delete their rows."""
    async with write_transaction(engine) as conn:
        stale = list(
            await conn.scalars(
                select(SNAPSHOTS.c.id).where(
                    SNAPSHOTS.c.source == source.value, SNAPSHOTS.c.status == SnapshotStatus.LOADING
                )
            )
        )
        for snapshot_id in stale:
            await _fail(conn, source, snapshot_id)
    return len(stale)


async def _fail(conn: AsyncConnection, source: Source, snapshot_id: int) -> None:
    table = ROW_TABLES[source]
    await conn.execute(delete(table).where(table.c.snapshot_id == snapshot_id))
    await conn.execute(
        update(SNAPSHOTS)
        .where(SNAPSHOTS.c.id == snapshot_id)
        .values(status=SnapshotStatus.FAILED, completed_at=datetime.now(UTC))
    )


async def fail_snapshot(engine: AsyncEngine, source: Source, snapshot_id: int) -> None:
    async with write_transaction(engine) as conn:
        await _fail(conn, source, snapshot_id)


async def activate(conn: AsyncConnection, source: Source, snapshot_id: int, loaded: int, rejected: int) -> int | None:
    """Make the snapshot the active one (in the caller's transaction); the id of the one it superseded."""
    previous = await conn.scalar(
        select(SNAPSHOTS.c.id).where(SNAPSHOTS.c.source == source.value, SNAPSHOTS.c.status == SnapshotStatus.ACTIVE)
    )
    if previous is not None:
        await conn.execute(update(SNAPSHOTS).where(SNAPSHOTS.c.id == previous).values(status=SnapshotStatus.SUPERSEDED))
    await conn.execute(
        update(SNAPSHOTS)
        .where(SNAPSHOTS.c.id == snapshot_id)
        .values(
            status=SnapshotStatus.ACTIVE, rows_loaded=loaded, rows_rejected=rejected, completed_at=datetime.now(UTC)
        )
    )
    return previous


async def prune(conn: AsyncConnection, request: RequestInfo, source: Source, keep: int) -> list[tuple[int, int]]:
    """Delete the rows of ``source``'s superseded snapshots but the newest ``keep``, in the caller's write
    transaction, audited; they stay listed as ``pruned``. (snapshot id, rows deleted) of each, oldest first."""
    superseded = list(
        await conn.scalars(
            select(SNAPSHOTS.c.id)
            .where(SNAPSHOTS.c.source == source.value, SNAPSHOTS.c.status == SnapshotStatus.SUPERSEDED)
            .order_by(SNAPSHOTS.c.completed_at.desc(), SNAPSHOTS.c.id.desc())
        )
    )
    table = ROW_TABLES[source]
    pruned: list[tuple[int, int]] = []
    for snapshot_id in reversed(superseded[keep:]):
        deleted = (await conn.execute(delete(table).where(table.c.snapshot_id == snapshot_id))).rowcount
        await conn.execute(update(SNAPSHOTS).where(SNAPSHOTS.c.id == snapshot_id).values(status=SnapshotStatus.PRUNED))
        pruned.append((snapshot_id, deleted))
    if pruned:
        await audit(
            conn,
            request,
            operation="pruneReferenceSnapshots",
            entity="reference_snapshot",
            entity_id=",".join(str(snapshot_id) for snapshot_id, _ in pruned),
            after={"source": source.value, "kept": keep, "pruned": {str(i): rows for i, rows in pruned}},
        )
    return pruned
