"""elderly plugin: caregivers table (its own Alembic branch)

Revision ID: e001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e001"
down_revision = None
branch_labels = ("elderly",)
depends_on = "0002"


def upgrade() -> None:
    op.create_table(
        "elderly_caregivers",
        sa.Column("household_id", sa.BigInteger(), sa.ForeignKey("households.id"), primary_key=True),
        sa.Column("caregiver_name", sa.String(length=120), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("elderly_caregivers")
