"""resent content and demo runs: a client id's content digest; the demo's runs, so a killed one resumes

1. ``visits.content_sha256`` and ``proposals.content_sha256``: for rows written under a field
   app's client id, the sha256 of what was sent (a visit's outcome, time, place, version seen,
   note and changes; a new household's data and note). A client id sent again with the same
   content is already imported; with other content it is a conflict naming the client id, not a
   silent skip. Rows written before this migration have none and are compared by their stored
   columns only.
2. ``demo_runs``: one row per ``siks demo`` run (its arguments, the day its ages refer to, the
   batches and rows written, when it finished), written in each batch's transaction, so a run
   killed midway is finished by running it again instead of refused or doubled.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLIENT_TABLES = ("visits", "proposals")


def upgrade() -> None:
    for table in CLIENT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "demo_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("survey_share", sa.Float(), nullable=False),
        sa.Column("append", sa.Boolean(), nullable=False),
        sa.Column("appended", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("batches_written", sa.Integer(), nullable=False),
        sa.Column("households_written", sa.Integer(), nullable=False),
        sa.Column("members_written", sa.Integer(), nullable=False),
        sa.Column("surveys_written", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("demo_runs")
    for table in CLIENT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("content_sha256")
