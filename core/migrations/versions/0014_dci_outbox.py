"""DCI subscriptions' outbox: events written with each change, and their deliveries

``dci_events`` is the outbox (one row per registry change); ``dci_deliveries`` one notification of an
event to a subscription with its delivery state. ``dci_subscriptions`` is the table helper A's
revision 0013 creates; it is created here in its own step (``_create_subscriptions``) so this
branch runs alone, and that step is dropped at merge.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFANNED = sa.text("fanned_out = false")
WAITING = sa.text("status = 'pending'")


def _code() -> sa.types.TypeEngine[str]:
    return sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")


def _create_subscriptions() -> None:
    """The same table as revision 0013's (helper A): drop this step when the branches merge."""
    op.create_table(
        "dci_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("scope", _code(), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("reg_type", sa.String(length=120), nullable=False),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("notify_uri", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )


def upgrade() -> None:
    _create_subscriptions()
    op.create_table(
        "dci_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("edition_id", sa.BigInteger(), nullable=True),
        sa.Column("identifier", sa.String(length=64), nullable=True),
        sa.Column("village_code", _code(), nullable=True),
        sa.Column("moved_from", _code(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dci_events_unfanned", "dci_events", ["id"], sqlite_where=UNFANNED, postgresql_where=UNFANNED)
    op.create_table(
        "dci_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), sa.ForeignKey("dci_events.id"), nullable=False),
        sa.Column("subscription_id", sa.Integer(), sa.ForeignKey("dci_subscriptions.id"), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_dci_deliveries_event_subscription", "dci_deliveries", ["event_id", "subscription_id"], unique=True
    )
    op.create_index(
        "ix_dci_deliveries_due", "dci_deliveries", ["next_attempt_at"], sqlite_where=WAITING, postgresql_where=WAITING
    )
    op.create_index("ix_dci_deliveries_status", "dci_deliveries", ["status", "id"])


def downgrade() -> None:
    op.drop_table("dci_deliveries")
    op.drop_table("dci_events")
    op.drop_table("dci_subscriptions")
