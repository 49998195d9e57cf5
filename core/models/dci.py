"""The DCI Social Registry interface's own records (``core.dci``).

``dci_transactions``: the DCI requests SIKS accepted and their answers (txn status).
``dci_subscriptions``: what integrators subscribed to (``core.dci.subscriptions``).
``dci_events`` is the outbox: one row per registry change, written in the transaction of the change
(``core.dci.events``). ``dci_deliveries`` is one notification of one event to one subscription, with
its delivery state (``core.dci.outbox``, ``core.dci.delivery``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, text
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type

UNFANNED = text("fanned_out = false")
WAITING = text("status = 'pending'")


class DciTransaction(SQLModel, table=True):
    """One DCI request SIKS accepted: its ids, who sent it, where it stands, and the answer kept for txn status."""

    __tablename__ = "dci_transactions"
    __table_args__ = (
        Index("ix_dci_transactions_correlation_id", "correlation_id", unique=True),
        Index("ix_dci_transactions_sender_txn", "sender", "transaction_id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    correlation_id: str = Field(max_length=64, description="SIKS's id of the request (the spec's correlation_id).")
    transaction_id: str = Field(max_length=99, description="The sender's transaction_id.")
    message_id: str = Field(max_length=99)
    sender: str = Field(max_length=64, description="Username of the integrator.")
    sender_id: str = Field(max_length=99, description="The header's sender_id.")
    scope: str = Field(sa_type=code_type(), description="The integrator's region scope when it asked ('' national).")
    action: str = Field(max_length=24, description="search, txn-status, subscribe, unsubscribe")
    status: str = Field(max_length=8, description="rcvd, pdng, succ or rjct")
    reference_ids: str = Field(sa_type=Text, description="JSON list of the request's reference_ids.")
    answer: str | None = Field(default=None, sa_type=Text, description="JSON of the answer's message, once made.")
    created_at: datetime = Field(sa_type=TIMESTAMP)
    completed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class DciSubscription(SQLModel, table=True):
    """A subscriber's standing request to be notified of registry events (the spec's subscription)."""

    __tablename__ = "dci_subscriptions"
    __table_args__ = (Index("ix_dci_subscriptions_code", "code", unique=True),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    code: str = Field(max_length=64, description="The spec's subscription_code.")
    subscriber: str = Field(max_length=64, index=True, description="Username of the integrator.")
    scope: str = Field(sa_type=code_type(), description="The integrator's region code at subscribe time ('' national).")
    event_type: str = Field(max_length=64)
    reg_type: str = Field(max_length=64)
    filter: str | None = Field(default=None, sa_type=Text, description="JSON of the filter as sent.")
    notify_uri: str = Field(max_length=500)
    status: str = Field(max_length=16, description="subscribed or unsubscribed")
    created_at: datetime = Field(sa_type=TIMESTAMP)
    ended_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class DciEvent(SQLModel, table=True):
    """One registry change subscribers may be told of (the outbox): written with the change, fanned out later."""

    __tablename__ = "dci_events"
    __table_args__ = (Index("ix_dci_events_unfanned", "id", sqlite_where=UNFANNED, postgresql_where=UNFANNED),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    kind: str = Field(max_length=24, description="core.dci.events.EventKind")
    household_id: int | None = Field(default=None, sa_type=ID_TYPE)
    member_id: int | None = Field(default=None, sa_type=ID_TYPE)
    edition_id: int | None = Field(default=None, sa_type=ID_TYPE)
    identifier: str | None = Field(default=None, max_length=64, description="KK, NIK or edition label.")
    village_code: str | None = Field(default=None, sa_type=code_type(), description="Where it happened; scope.")
    moved_from: str | None = Field(default=None, sa_type=code_type(), description="The village a move left.")
    occurred_at: datetime = Field(sa_type=TIMESTAMP)
    fanned_out: bool = Field(default=False)


class DciDelivery(SQLModel, table=True):
    """One notification of one event to one subscription; its id is the notify message's idempotence key."""

    __tablename__ = "dci_deliveries"
    __table_args__ = (
        Index("ix_dci_deliveries_event_subscription", "event_id", "subscription_id", unique=True),
        Index("ix_dci_deliveries_due", "next_attempt_at", sqlite_where=WAITING, postgresql_where=WAITING),
        Index("ix_dci_deliveries_status", "status", "id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    event_id: int = Field(foreign_key="dci_events.id", sa_type=ID_TYPE)
    subscription_id: int = Field(foreign_key="dci_subscriptions.id", sa_type=ID_TYPE)
    status: str = Field(max_length=12, description="pending | delivered | failed | cancelled")
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=TIMESTAMP)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    delivered_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
