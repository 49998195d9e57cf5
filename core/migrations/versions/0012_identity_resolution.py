"""identity resolution: check runs, outcomes per member and source, duplicate candidates

``identity_runs`` records each ``siks identity check`` / ``siks dedup run`` with the snapshots it
used; ``identity_checks`` one outcome per member and source; ``duplicate_candidates`` the pairs
for operators to decide. Outcomes and candidates carry village codes for scope.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _code() -> sa.types.TypeEngine[str]:
    return sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "identity_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("region_code", _code(), nullable=True),
        sa.Column("adminduk_snapshot_id", sa.BigInteger(), nullable=True),
        sa.Column("dapodik_snapshot_id", sa.BigInteger(), nullable=True),
        sa.Column("bpjs_snapshot_id", sa.BigInteger(), nullable=True),
        sa.Column("members_checked", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_runs_kind_started", "identity_runs", ["kind", "started_at"])
    op.create_table(
        "identity_checks",
        sa.Column("run_id", sa.BigInteger(), sa.ForeignKey("identity_runs.id"), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("village_code", _code(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("suggested_nik", sa.String(length=16), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "member_id", "source"),
    )
    op.create_index("ix_identity_checks_member", "identity_checks", ["member_id", "checked_at"])
    op.create_index("ix_identity_checks_run_status_village", "identity_checks", ["run_id", "status", "village_code"])
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), sa.ForeignKey("identity_runs.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("second_id", sa.BigInteger(), nullable=False),
        sa.Column("first_household_id", sa.BigInteger(), nullable=False),
        sa.Column("second_household_id", sa.BigInteger(), nullable=False),
        sa.Column("first_village_code", _code(), nullable=False),
        sa.Column("second_village_code", _code(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("agreeing", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proposal_id", sa.BigInteger(), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_duplicate_candidates_run_id", "duplicate_candidates", ["run_id"])
    op.create_index(
        "ix_duplicate_candidates_pair", "duplicate_candidates", ["kind", "first_id", "second_id"], unique=True
    )
    op.create_index("ix_duplicate_candidates_status_village", "duplicate_candidates", ["status", "first_village_code"])
    op.create_index("ix_duplicate_candidates_second_village", "duplicate_candidates", ["status", "second_village_code"])


def downgrade() -> None:
    op.drop_table("duplicate_candidates")
    op.drop_table("identity_checks")
    op.drop_index("ix_identity_runs_kind_started", table_name="identity_runs")
    op.drop_table("identity_runs")
