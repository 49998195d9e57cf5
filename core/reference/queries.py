"""Reading reference snapshots: which are in force, and their rows by NIK (for the identity checks to come).

Reference data is read only by the data centre's commands and the checks; it is never shown in
GraphQL answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus, RecordStatus
from core.models import ReferenceSnapshot
from core.reference.formats import Source
from core.reference.snapshots import ROW_TABLES, SNAPSHOTS, SnapshotStatus
from core.regions.codes import within
from core.storage.records import HOUSEHOLDS, MEMBERS


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


@dataclass(frozen=True, slots=True)
class BpjsMembershipRow:
    """One BPJS Kesehatan membership of a snapshot: what a PBI reconciliation needs, and no more.

    ``regency_code`` (dotted, ``32.01``) is where the person is counted: the village of the active
    registry household whose active member holds the NIK, or else the regency of the district that
    issued the NIK (its first six digits). Filled by ``bpjs_members_in`` only.
    """

    nik: str
    card_number: str
    segment: str
    active: bool
    regency_code: str | None = None


async def _bpjs_snapshot(conn: AsyncConnection, snapshot_id: int | None) -> int | None:
    """The BPJS snapshot to read: ``snapshot_id`` when it is a BPJS snapshot that completed, else the active one."""
    if snapshot_id is None:
        return (await active_snapshots(conn)).get(Source.BPJS)
    status = await conn.scalar(
        select(SNAPSHOTS.c.status).where(SNAPSHOTS.c.id == snapshot_id, SNAPSHOTS.c.source == Source.BPJS.value)
    )
    return snapshot_id if status in (SnapshotStatus.ACTIVE, SnapshotStatus.SUPERSEDED) else None


async def bpjs_memberships(
    conn: AsyncConnection, niks: Iterable[str], snapshot_id: int | None = None
) -> tuple[int | None, dict[str, list[BpjsMembershipRow]]]:
    """The BPJS snapshot read (the active one unless ``snapshot_id`` names a completed one) and its
    memberships of each of ``niks``, by NIK; ``(None, {})`` when there is no such snapshot."""
    snapshot = await _bpjs_snapshot(conn, snapshot_id)
    if snapshot is None:
        return None, {}
    rows = await rows_by_nik(conn, Source.BPJS, snapshot, niks)
    return snapshot, {
        nik: [BpjsMembershipRow(row["nik"], row["card_number"], row["segment"], row["active"]) for row in found]
        for nik, found in rows.items()
    }


def _nik_district(nik: Any) -> Any:
    """SQL: the dotted district code a NIK's first six digits name (``320101…`` is ``32.01.01``)."""
    dot = literal(".", String)
    return func.substr(nik, 1, 2) + dot + func.substr(nik, 3, 2) + dot + func.substr(nik, 5, 2)


async def bpjs_members_in(
    conn: AsyncConnection, region_code: str, segments: Sequence[str], snapshot_id: int | None = None
) -> tuple[int | None, list[BpjsMembershipRow]]:
    """The active memberships of ``segments`` in a BPJS snapshot counted in ``region_code`` (``''``: all).

    A membership is counted where the registry has its NIK (an active member of an active
    household), else in the district that issued the NIK; ``regency_code`` says which regency.
    One statement, filtered in SQL; ordered by regency and NIK.
    """
    snapshot = await _bpjs_snapshot(conn, snapshot_id)
    if snapshot is None:
        return None, []
    table = ROW_TABLES[Source.BPJS]
    place = func.coalesce(HOUSEHOLDS.c.village_code, _nik_district(table.c.nik))
    rows = await conn.execute(
        select(table.c.nik, table.c.card_number, table.c.segment, table.c.active, place)
        .select_from(
            table.outerjoin(
                MEMBERS, and_(MEMBERS.c.nik == table.c.nik, MEMBERS.c.status == MemberStatus.ACTIVE.value)
            ).outerjoin(
                HOUSEHOLDS,
                and_(HOUSEHOLDS.c.id == MEMBERS.c.household_id, HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value),
            )
        )
        .where(
            table.c.snapshot_id == snapshot,
            table.c.active.is_(True),
            table.c.segment.in_(list(segments)),
            within(place, region_code),
        )
        .order_by(place, table.c.nik)
    )
    found: dict[tuple[str, str], BpjsMembershipRow] = {}
    for nik, card, segment, active, code in rows:
        found.setdefault((nik, card), BpjsMembershipRow(nik, card, segment, bool(active), code[:5]))
    return snapshot, list(found.values())
