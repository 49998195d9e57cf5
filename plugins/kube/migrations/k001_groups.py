"""kube: joint-business groups and their member families (KUBe's own branch)

Revision ID: k001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.plugin_api import code_type

revision = "k001"
down_revision = None
branch_labels = ("kube",)
depends_on = "0002"


def upgrade() -> None:
    op.create_table(
        "kube_groups",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("village_code", code_type(), sa.ForeignKey("regions.code"), nullable=False, index=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("business", sa.String(120), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("dissolve_reason", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "kube_memberships",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("group_id", sa.BigInteger(), sa.ForeignKey("kube_groups.id"), nullable=False, index=True),
        sa.Column("household_id", sa.BigInteger(), sa.ForeignKey("households.id"), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_kube_memberships_household_active",
        "kube_memberships",
        ["household_id"],
        unique=True,
        sqlite_where=sa.text("active = 1"),
        postgresql_where=sa.text("active = 1"),
    )


def downgrade() -> None:
    op.drop_table("kube_memberships")
    op.drop_table("kube_groups")
