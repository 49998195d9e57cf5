"""DCI subscriptions' outbox: events written with each change, and their deliveries

``dci_events`` is the outbox (one row per registry change); ``dci_deliveries`` one notification of an
event to a subscription (``dci_subscriptions``, revision 0013) with its delivery state.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFANNED = sa.text("fanned_out = false")
WAITING = sa.text("status = 'pending'")


def _code() -> sa.types.TypeEngine[str]:
    return sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")


def upgrade() -> None:
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
        sa.Column("subscription_id", sa.BigInteger(), sa.ForeignKey("dci_subscriptions.id"), nullable=False),
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
