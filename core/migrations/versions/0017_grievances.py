"""Grievances (sanggah) and their events; a Dataku ticket tracks a proposal or a grievance

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODE = sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "grievances",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("village_code", CODE, sa.ForeignKey("regions.code"), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=400), nullable=False),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column("reporter_key", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), sa.ForeignKey("proposals.id"), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grievances_village", "grievances", ["village_code"])
    op.create_index("ix_grievances_status_deadline", "grievances", ["status", "deadline"])
    op.create_index("ix_grievances_household", "grievances", ["household_id"])
    op.create_table(
        "grievance_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("grievance_id", sa.BigInteger(), sa.ForeignKey("grievances.id"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grievance_events_grievance_id", "grievance_events", ["grievance_id"])
    with op.batch_alter_table("dataku_tickets") as batch:
        batch.alter_column("proposal_id", existing_type=sa.BigInteger(), nullable=True)
        batch.add_column(sa.Column("grievance_id", sa.BigInteger(), nullable=True))
        batch.create_foreign_key("fk_dataku_tickets_grievance_id", "grievances", ["grievance_id"], ["id"])
        batch.create_index("ix_dataku_tickets_grievance_id", ["grievance_id"], unique=True)


def downgrade() -> None:
    op.execute("DELETE FROM dataku_tickets WHERE grievance_id IS NOT NULL")
    with op.batch_alter_table("dataku_tickets") as batch:
        batch.drop_index("ix_dataku_tickets_grievance_id")
        batch.drop_constraint("fk_dataku_tickets_grievance_id", type_="foreignkey")
        batch.drop_column("grievance_id")
        batch.alter_column("proposal_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_index("ix_grievance_events_grievance_id", table_name="grievance_events")
    op.drop_table("grievance_events")
    op.drop_index("ix_grievances_household", table_name="grievances")
    op.drop_index("ix_grievances_status_deadline", table_name="grievances")
    op.drop_index("ix_grievances_village", table_name="grievances")
    op.drop_table("grievances")
