"""DCI message security: SIKS's signing keys, integrators' public keys, message ids already seen

``dci_signing_keys`` holds SIKS's Ed25519 keys (private part encrypted with SIKS_SECRET_KEY), the
superseded ones published until their grace period ends; ``dci_client_keys`` the public keys
registered per integrator; ``dci_seen_messages`` the ids of signed messages within the replay window.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dci_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_x", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_index("ix_dci_signing_keys_created_at", "dci_signing_keys", ["created_at"])
    op.create_table(
        "dci_client_keys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_x", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kid", name="uq_dci_client_keys_user_kid"),
    )
    op.create_index("ix_dci_client_keys_user_id", "dci_client_keys", ["user_id"])
    op.create_table(
        "dci_seen_messages",
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forget_after", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", "message_id"),
    )
    op.create_index("ix_dci_seen_messages_forget_after", "dci_seen_messages", ["forget_after"])


def downgrade() -> None:
    op.drop_index("ix_dci_seen_messages_forget_after", table_name="dci_seen_messages")
    op.drop_table("dci_seen_messages")
    op.drop_index("ix_dci_client_keys_user_id", table_name="dci_client_keys")
    op.drop_table("dci_client_keys")
    op.drop_index("ix_dci_signing_keys_created_at", table_name="dci_signing_keys")
    op.drop_table("dci_signing_keys")
