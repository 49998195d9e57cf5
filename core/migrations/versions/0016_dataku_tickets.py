"""SIKS-Dataku tickets: the code a citizen tracks a proposal (usul) with

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataku_tickets",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), sa.ForeignKey("proposals.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_dataku_tickets_proposal_id", "dataku_tickets", ["proposal_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_dataku_tickets_proposal_id", table_name="dataku_tickets")
    op.drop_table("dataku_tickets")
