"""reference snapshots: versioned extracts of Adminduk, Dapodik and BPJS (``siks reference load``)

``reference_snapshots`` has one row per load; the rows of each extract carry their snapshot's id
and their row number in the file. Indexed for the identity checks to come: by NIK, and for
blocking by regency and birth year (Adminduk) or birth year (Dapodik).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _code() -> sa.types.TypeEngine[str]:
    return sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")


def _snapshot_key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("snapshot_id", sa.BigInteger(), sa.ForeignKey("reference_snapshots.id"), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "reference_snapshots",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("loaded_by", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reference_snapshots_source_status", "reference_snapshots", ["source", "status"])
    op.create_index("ix_reference_snapshots_sha256", "reference_snapshots", ["sha256"])
    op.create_table(
        "reference_adminduk",
        *_snapshot_key(),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("kk", sa.String(length=16), nullable=False),
        sa.Column("full_name", sa.String(length=150), nullable=False),
        sa.Column("birth_place", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("village_code", _code(), nullable=False),
        sa.Column("regency_code", _code(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "row_number"),
    )
    op.create_index("ix_reference_adminduk_snapshot_nik", "reference_adminduk", ["snapshot_id", "nik"])
    op.create_index(
        "ix_reference_adminduk_snapshot_block", "reference_adminduk", ["snapshot_id", "regency_code", "birth_year"]
    )
    op.create_table(
        "reference_dapodik",
        *_snapshot_key(),
        sa.Column("nisn", sa.String(length=10), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("npsn", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=3), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("attendance_pct", sa.Float(), nullable=True),
        sa.Column("semester", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "row_number"),
    )
    op.create_index("ix_reference_dapodik_snapshot_nik", "reference_dapodik", ["snapshot_id", "nik"])
    op.create_index("ix_reference_dapodik_snapshot_nisn", "reference_dapodik", ["snapshot_id", "nisn"])
    op.create_index("ix_reference_dapodik_snapshot_block", "reference_dapodik", ["snapshot_id", "birth_year"])
    op.create_table(
        "reference_bpjs",
        *_snapshot_key(),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("card_number", sa.String(length=13), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "row_number"),
    )
    op.create_index("ix_reference_bpjs_snapshot_nik", "reference_bpjs", ["snapshot_id", "nik"])


def downgrade() -> None:
    for table in ("reference_bpjs", "reference_dapodik", "reference_adminduk", "reference_snapshots"):
        op.drop_table(table)
