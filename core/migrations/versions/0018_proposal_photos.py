"""Photos sent with a proposal: a citizen's usul may carry a photo of the house (no visit)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("visit_photos", schema=None) as batch_op:
        batch_op.alter_column("visit_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column("proposal_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key("fk_visit_photos_proposal_id", "proposals", ["proposal_id"], ["id"])
        batch_op.create_index("ix_visit_photos_proposal_id", ["proposal_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM visit_photos WHERE visit_id IS NULL")
    with op.batch_alter_table("visit_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_photos_proposal_id")
        batch_op.drop_constraint("fk_visit_photos_proposal_id", type_="foreignkey")
        batch_op.drop_column("proposal_id")
        batch_op.alter_column("visit_id", existing_type=sa.BigInteger(), nullable=False)
