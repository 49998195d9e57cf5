"""Registry events for DCI subscribers, written to the outbox in the transaction of the change.

A service that changes the registry calls one function here on the connection it writes with, so
the event row commits or rolls back with the change: a failed change leaves no event, and a
committed one always has its event, whatever happens to the process afterwards. Writing costs one
INSERT per change (``record_event``), one multi-row insert per bulk-import batch
(``record_events``) and one INSERT … SELECT per kind for a determination (``record_selected``).
Nothing here looks at subscriptions: events are fanned out to them by the delivery worker
(``core.dci.outbox.fan_out``), so a change costs the same however many integrators subscribe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, String, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.bulk.writer import insert_rows
from core.foundation.ids import ids
from core.models import DciEvent
from core.models.types import TIMESTAMP

EVENTS = DciEvent.__table__


class EventKind(StrEnum):
    """What happened in the registry."""

    HOUSEHOLD_REGISTERED = "household_registered"
    HOUSEHOLD_CHANGED = "household_changed"  # its data, a member's data, or its members
    HOUSEHOLD_REMOVED = "household_removed"
    MEMBER_DECEASED = "member_deceased"
    EDITION_DETERMINED = "edition_determined"  # a new DTKS edition (penetapan)


#: The ``reg_event_type`` values (the last part of a namespaced value, any case) each kind answers to.
DCI_EVENT_TYPES: dict[EventKind, frozenset[str]] = {
    EventKind.HOUSEHOLD_REGISTERED: frozenset({"REGISTER"}),
    EventKind.HOUSEHOLD_CHANGED: frozenset({"UPDATE"}),
    EventKind.HOUSEHOLD_REMOVED: frozenset({"DELETE", "DEREGISTER"}),
    EventKind.MEMBER_DECEASED: frozenset({"DEATH"}),
    EventKind.EDITION_DETERMINED: frozenset({"DTKS_EDITION"}),
}


def dci_name(event_type: str) -> str:
    """``spdci:common:RegistryEventType:Death`` → ``DEATH``: the part after the last colon, upper case."""
    return re.sub(r"[^A-Z0-9_]", "", event_type.rsplit(":", 1)[-1].upper())


def kinds_of(event_type: str) -> frozenset[EventKind]:
    """The kinds of event a subscription to ``event_type`` receives (empty: a type SIKS does not send)."""
    name = dci_name(event_type)
    return frozenset(kind for kind, names in DCI_EVENT_TYPES.items() if name in names)


@dataclass(frozen=True, slots=True)
class Event:
    """One event to write: what happened, to which household, member or edition, and where."""

    kind: EventKind
    household_id: int | None = None
    member_id: int | None = None
    edition_id: int | None = None
    identifier: str | None = None  # KK for a household, NIK for a member, the label of an edition
    village_code: str | None = None
    moved_from: str | None = None  # a household that moved: the village it left


COLUMNS = (
    "id",
    "kind",
    "household_id",
    "member_id",
    "edition_id",
    "identifier",
    "village_code",
    "moved_from",
    "occurred_at",
    "fanned_out",
)


def _row(event: Event, at: datetime) -> tuple[Any, ...]:
    return (
        ids.next_id(),
        event.kind.value,
        event.household_id,
        event.member_id,
        event.edition_id,
        event.identifier,
        event.village_code,
        event.moved_from,
        at,
        False,
    )


async def record_event(conn: AsyncConnection, *events: Event) -> None:
    """Write ``events`` (of one change) to the outbox in ``conn``'s transaction: one INSERT."""
    at = datetime.now(UTC)
    rows = [dict(zip(COLUMNS, _row(event, at), strict=True)) for event in events]
    if rows:
        await conn.execute(insert(EVENTS), rows)


async def record_events(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Write many events at once (a bulk-import batch): COPY on PostgreSQL, ``executemany`` on SQLite."""
    at = datetime.now(UTC)
    await insert_rows(conn, EVENTS, COLUMNS, [_row(event, at) for event in events])


async def record_selected(conn: AsyncConnection, kind: EventKind, rows: Any, *, at: datetime) -> None:
    """Write one ``kind`` event per row of ``rows`` (a SELECT labelling ``household_id``, ``member_id``,
    ``edition_id``, ``identifier``, ``village_code`` and optionally ``moved_from``): the rows are counted
    for their ids, then one INSERT … SELECT."""
    selected = rows.subquery("selected")
    count = int((await conn.execute(select(func.count()).select_from(selected))).scalar_one())
    if count == 0:
        return
    block = ids.reserve(count)
    ordinal = func.row_number().over() - 1
    await conn.execute(
        insert(EVENTS).from_select(
            list(COLUMNS),
            select(
                block.sql(ordinal),
                literal(kind.value, String),
                selected.c.household_id.cast(BigInteger),
                selected.c.member_id.cast(BigInteger),
                selected.c.edition_id.cast(BigInteger),
                selected.c.identifier,
                selected.c.village_code,
                selected.c.moved_from if "moved_from" in selected.c else literal(None, String),
                literal(at, TIMESTAMP),
                literal(False, Boolean),
            ),
        )
    )
