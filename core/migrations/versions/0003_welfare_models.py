"""welfare models: the model registry and the staging of ranking runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("active")


def upgrade() -> None:
    op.create_table(
        "welfare_models",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("feature_set", sa.String(length=64), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("training_source", sa.String(length=200), nullable=False),
        sa.Column("training_checksum", sa.String(length=64), nullable=False),
        sa.Column("training_rows", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("version"),
    )
    with op.batch_alter_table("welfare_models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_welfare_models_one_active", ["active"], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE
        )

    op.create_table(
        "welfare_rank_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column(
            "region_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("last_household_id", sa.BigInteger(), nullable=False),
        sa.Column("households_scored", sa.Integer(), nullable=False),
        sa.Column("unseen_answers", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "welfare_rank_scores",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "household_id"),
    )


def downgrade() -> None:
    op.drop_table("welfare_rank_scores")
    op.drop_table("welfare_rank_runs")
    with op.batch_alter_table("welfare_models", schema=None) as batch_op:
        batch_op.drop_index("ix_welfare_models_one_active", sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    op.drop_table("welfare_models")
