"""The outbox's deliveries: fanning events out to subscriptions, claiming due ones, recording outcomes.

An event becomes one delivery per matching subscription (``fan_out``): the subscription's
``reg_event_type`` names the event's kind (``core.dci.events.kinds_of``), the event happened while
it was subscribed, inside the integrator's region scope, and inside the region its filter names
(``core.dci.filters``). A delivery is ``pending`` until the subscriber acknowledges it
(``delivered``), or until it has been refused for the whole retry window (``failed``; an operator
may ``retry`` it); one whose subscription ended is ``cancelled`` when it next falls due.

Workers claim due deliveries with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer
at a time): the claim counts the attempt and pushes ``next_attempt_at`` a lease ahead, then commits,
so the HTTP call runs outside any transaction and a worker that dies mid-call only delays the
delivery by the lease. Every function takes a connection in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo, record
from core.bulk.writer import insert_rows
from core.dci.events import EVENTS, EventKind, kinds_of
from core.dci.filters import region_filter
from core.foundation.ids import ids
from core.models import DciDelivery, DciSubscription
from core.regions.codes import region_within

DELIVERIES = DciDelivery.__table__
SUBSCRIPTIONS = DciSubscription.__table__
SUBSCRIBED = "subscribed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for the whole retry window; `siks dci outbox retry` re-queues it
    CANCELLED = "cancelled"  # its subscription ended before it could be delivered


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """What fan-out needs of one subscription."""

    id: int
    kinds: frozenset[EventKind]
    scope: str
    regions: tuple[str, ...] | None  # the regions its filter names (any of them), or None
    created_at: datetime
    ended_at: datetime | None

    def wants(self, event: Any) -> bool:
        """Whether ``event`` (a ``dci_events`` row) is this subscription's to hear of."""
        if EventKind(event.kind) not in self.kinds:
            return False
        occurred = _aware(event.occurred_at)
        if occurred < self.created_at or (self.ended_at is not None and occurred >= self.ended_at):
            return False
        if event.kind == EventKind.EDITION_DETERMINED:
            return True  # the edition's label and date only: nothing of any region is told
        places = [code for code in (event.village_code, event.moved_from) if code]
        return any(
            region_within(code, self.scope)
            and (self.regions is None or any(region_within(code, region) for region in self.regions))
            for code in places
        )


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row.id,
        kinds=kinds_of(row.event_type),
        scope=row.scope or "",
        regions=region_filter(json.loads(row.filter) if row.filter else None),
        created_at=_aware(row.created_at),
        ended_at=_aware(row.ended_at) if row.ended_at is not None else None,
    )


async def _subscribers(conn: AsyncConnection, since: datetime) -> list[Subscriber]:
    """Subscriptions that may want events from ``since`` on: current ones, and ones ended after it."""
    rows = await conn.execute(
        select(SUBSCRIPTIONS).where(or_(SUBSCRIPTIONS.c.status == SUBSCRIBED, SUBSCRIPTIONS.c.ended_at > since))
    )
    return [subscriber for subscriber in map(_subscriber, rows) if subscriber.kinds]


def _locked(conn: AsyncConnection, query: Any) -> Any:
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


async def fan_out(conn: AsyncConnection, limit: int = 2000) -> int:
    """Turn up to ``limit`` events not yet fanned out into pending deliveries; returns the events taken.

    Events locked by another worker's fan-out are skipped, and each event is marked fanned out in the
    transaction that writes its deliveries, so no event is fanned out twice.
    """
    events = (
        await conn.execute(
            _locked(conn, select(EVENTS).where(EVENTS.c.fanned_out.is_(False)).order_by(EVENTS.c.id)).limit(limit)
        )
    ).all()
    if not events:
        return 0
    subscribers = await _subscribers(conn, min(_aware(event.occurred_at) for event in events))
    now = _now()
    rows = [
        (ids.next_id(), event.id, subscriber.id, DeliveryStatus.PENDING.value, 0, now, None, now, None)
        for event in events
        for subscriber in subscribers
        if subscriber.wants(event)
    ]
    await insert_rows(
        conn,
        DELIVERIES,
        (
            "id",
            "event_id",
            "subscription_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "delivered_at",
        ),
        rows,
    )
    taken = [event.id for event in events]
    await conn.execute(update(EVENTS).where(EVENTS.c.id.in_(taken)).values(fanned_out=True))
    return len(taken)


async def work_waiting(conn: AsyncConnection) -> tuple[bool, bool]:
    """Whether events wait to be fanned out, and whether a delivery is due: a cheap read, so an idle
    worker takes no write lock."""
    now = _now()
    unfanned = select(EVENTS.c.id).where(EVENTS.c.fanned_out.is_(False)).limit(1)
    due = (
        select(DELIVERIES.c.id)
        .where(DELIVERIES.c.status == DeliveryStatus.PENDING.value, DELIVERIES.c.next_attempt_at <= now)
        .limit(1)
    )
    events = (await conn.execute(unfanned)).first() is not None
    deliveries = (await conn.execute(due)).first() is not None
    return events, deliveries


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed for one attempt, with what its notification says."""

    id: int
    attempts: int  # including this one
    created_at: datetime
    subscription_code: str
    subscriber: str
    scope: str
    notify_uri: str
    event_id: int
    kind: EventKind
    household_id: int | None
    member_id: int | None
    edition_id: int | None
    identifier: str | None
    village_code: str | None
    moved_from: str | None
    occurred_at: datetime


async def _cancel_ended(conn: AsyncConnection, now: datetime) -> None:
    ended = select(SUBSCRIPTIONS.c.id).where(SUBSCRIPTIONS.c.status != SUBSCRIBED)
    await conn.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.status == DeliveryStatus.PENDING.value,
            DELIVERIES.c.next_attempt_at <= now,
            DELIVERIES.c.subscription_id.in_(ended),
        )
        .values(status=DeliveryStatus.CANCELLED.value, last_error="the subscription ended")
    )


async def claim_due(conn: AsyncConnection, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``limit`` deliveries due now, oldest first, for one attempt each (module docstring)."""
    now = _now()
    await _cancel_ended(conn, now)
    due = _locked(
        conn,
        select(DELIVERIES.c.id)
        .where(DELIVERIES.c.status == DeliveryStatus.PENDING.value, DELIVERIES.c.next_attempt_at <= now)
        .order_by(DELIVERIES.c.next_attempt_at)
        .limit(limit),
    )
    claimed = list((await conn.execute(due)).scalars())
    if not claimed:
        return []
    await conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(claimed))
        .values(attempts=DELIVERIES.c.attempts + 1, next_attempt_at=now + lease)
    )
    return await as_claimed(conn, claimed)


async def as_claimed(conn: AsyncConnection, delivery_ids: Sequence[int]) -> list[Claimed]:
    """The deliveries ``delivery_ids`` with what their notifications say, in id order (no claim made)."""
    d, s, e = DELIVERIES, SUBSCRIPTIONS, EVENTS
    rows = await conn.execute(
        select(
            d.c.id,
            d.c.attempts,
            d.c.created_at,
            s.c.code,
            s.c.subscriber,
            s.c.scope,
            s.c.notify_uri,
            e.c.id,
            e.c.kind,
            e.c.household_id,
            e.c.member_id,
            e.c.edition_id,
            e.c.identifier,
            e.c.village_code,
            e.c.moved_from,
            e.c.occurred_at,
        )
        .select_from(d.join(s, s.c.id == d.c.subscription_id).join(e, e.c.id == d.c.event_id))
        .where(d.c.id.in_(list(delivery_ids)))
        .order_by(d.c.id)
    )
    return [
        Claimed(
            row[0],
            row[1],
            _aware(row[2]),
            row[3],
            row[4],
            row[5] or "",
            row[6],
            row[7],
            EventKind(row[8]),
            *row[9:15],
            _aware(row[15]),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Refusal:
    """One attempt that did not deliver: why, and when to try again (None: give up, ``failed``)."""

    delivery_id: int
    error: str
    retry_at: datetime | None


async def record_outcomes(conn: AsyncConnection, delivered: Sequence[int], refused: Sequence[Refusal]) -> None:
    """Mark ``delivered`` deliveries done and reschedule (or fail) the ``refused`` ones."""
    now = _now()
    if delivered:
        await conn.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id.in_(list(delivered)))
            .values(status=DeliveryStatus.DELIVERED.value, delivered_at=now, last_error=None)
        )
    if refused:
        await conn.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id == bindparam("delivery_id"))
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("retry_at"),
                last_error=bindparam("error"),
            ),
            [
                {
                    "delivery_id": refusal.delivery_id,
                    "new_status": (DeliveryStatus.PENDING if refusal.retry_at else DeliveryStatus.FAILED).value,
                    "retry_at": refusal.retry_at or now,
                    "error": refusal.error[:500],
                }
                for refusal in refused
            ],
        )


# -- inspecting and re-queueing (``siks dci outbox``) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery as ``siks dci outbox`` lists it."""

    id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    subscription_code: str
    notify_uri: str
    event_id: int
    kind: str
    household_id: int | None
    village_code: str | None


def _listing() -> Any:
    d, s, e = DELIVERIES, SUBSCRIPTIONS, EVENTS
    return select(
        d.c.id,
        d.c.status,
        d.c.attempts,
        d.c.next_attempt_at,
        d.c.last_error,
        d.c.created_at,
        d.c.delivered_at,
        s.c.code,
        s.c.notify_uri,
        e.c.id,
        e.c.kind,
        e.c.household_id,
        e.c.village_code,
    ).select_from(d.join(s, s.c.id == d.c.subscription_id).join(e, e.c.id == d.c.event_id))


async def list_deliveries(
    conn: AsyncConnection, status: DeliveryStatus | None = None, subscription: str | None = None, limit: int = 50
) -> list[DeliveryRow]:
    """The latest ``limit`` deliveries, newest first, optionally of one status or one subscription code."""
    query = _listing().order_by(DELIVERIES.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(DELIVERIES.c.status == status.value)
    if subscription is not None:
        query = query.where(SUBSCRIPTIONS.c.code == subscription)
    return [DeliveryRow(*row) for row in await conn.execute(query)]


async def delivery(conn: AsyncConnection, delivery_id: int) -> DeliveryRow | None:
    row = (await conn.execute(_listing().where(DELIVERIES.c.id == delivery_id))).first()
    return DeliveryRow(*row) if row is not None else None


class NotRetryable(ValueError):
    """The delivery does not exist, is delivered, or its subscription has ended."""


async def retry(conn: AsyncConnection, request: RequestInfo, delivery_id: int) -> DeliveryRow:
    """Re-queue a failed (or pending) delivery to be tried now, its retry window starting afresh; audited."""
    found = await delivery(conn, delivery_id)
    if found is None:
        raise NotRetryable(f"no delivery {delivery_id}; list them with `siks dci outbox`")
    if found.status not in {DeliveryStatus.FAILED.value, DeliveryStatus.PENDING.value}:
        raise NotRetryable(f"delivery {delivery_id} is {found.status}; only failed or pending ones are retried")
    ended = select(SUBSCRIPTIONS.c.id).where(
        SUBSCRIPTIONS.c.code == found.subscription_code, SUBSCRIPTIONS.c.status != SUBSCRIBED
    )
    if (await conn.execute(ended)).first() is not None:
        raise NotRetryable(f"delivery {delivery_id}: subscription {found.subscription_code} has ended")
    now = _now()
    await conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, created_at=now)
    )
    again = await delivery(conn, delivery_id)
    assert again is not None
    await record(
        conn,
        request,
        operation="dci:retryDelivery",
        entity="dci_delivery",
        entity_id=delivery_id,
        before={"status": found.status, "attempts": found.attempts, "last_error": found.last_error},
        after={"status": again.status},
    )
    return again


@dataclass(frozen=True, slots=True)
class Pruned:
    deliveries: int
    events: int


async def prune(conn: AsyncConnection, request: RequestInfo, older_than: timedelta) -> Pruned:
    """Delete delivered and cancelled deliveries made more than ``older_than`` ago, then the events
    fanned out that long ago with no delivery left; pending and failed ones stay. Audited."""
    before = _now() - older_than
    finished = [DeliveryStatus.DELIVERED.value, DeliveryStatus.CANCELLED.value]
    gone = await conn.execute(
        delete(DELIVERIES).where(DELIVERIES.c.status.in_(finished), DELIVERIES.c.created_at < before)
    )
    left = select(DELIVERIES.c.event_id).where(DELIVERIES.c.event_id == EVENTS.c.id)
    events = await conn.execute(
        delete(EVENTS).where(EVENTS.c.fanned_out.is_(True), EVENTS.c.occurred_at < before, ~left.exists())
    )
    pruned = Pruned(int(gone.rowcount), int(events.rowcount))
    await record(
        conn,
        request,
        operation="dci:pruneOutbox",
        entity="dci_outbox",
        entity_id=before.isoformat(),
        after={"deliveries": pruned.deliveries, "events": pruned.events},
    )
    return pruned


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """The outbox's counters: deliveries by status, attempts made, events not yet fanned out."""

    pending: int
    delivered: int
    failed: int
    cancelled: int
    attempts: int
    events_waiting: int


async def outbox_counts(conn: AsyncConnection) -> OutboxCounts:
    """The counters, read from the tables (one grouped scan of the deliveries)."""
    grouped = select(DELIVERIES.c.status, func.count(), func.coalesce(func.sum(DELIVERIES.c.attempts), 0)).group_by(
        DELIVERIES.c.status
    )
    by_status = {status: (int(count), int(attempts)) for status, count, attempts in await conn.execute(grouped)}
    waiting = (await conn.execute(select(func.count()).where(EVENTS.c.fanned_out.is_(False)))).scalar_one()

    def count(status: DeliveryStatus) -> int:
        return by_status.get(status.value, (0, 0))[0]

    return OutboxCounts(
        pending=count(DeliveryStatus.PENDING),
        delivered=count(DeliveryStatus.DELIVERED),
        failed=count(DeliveryStatus.FAILED),
        cancelled=count(DeliveryStatus.CANCELLED),
        attempts=sum(attempts for _, attempts in by_status.values()),
        events_waiting=int(waiting),
    )
