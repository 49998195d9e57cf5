"""DCI Social Registry interface: transactions (for txn status) and subscriptions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _code() -> sa.types.TypeEngine[str]:
    return sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dci_transactions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=99), nullable=False),
        sa.Column("message_id", sa.String(length=99), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("sender_id", sa.String(length=99), nullable=False),
        sa.Column("scope", _code(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reference_ids", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dci_transactions_correlation_id", "dci_transactions", ["correlation_id"], unique=True)
    op.create_index("ix_dci_transactions_sender_txn", "dci_transactions", ["sender", "transaction_id"])
    op.create_table(
        "dci_subscriptions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("scope", _code(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("reg_type", sa.String(length=64), nullable=False),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("notify_uri", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dci_subscriptions_code", "dci_subscriptions", ["code"], unique=True)
    op.create_index("ix_dci_subscriptions_subscriber", "dci_subscriptions", ["subscriber"])


def downgrade() -> None:
    op.drop_table("dci_subscriptions")
    op.drop_table("dci_transactions")
