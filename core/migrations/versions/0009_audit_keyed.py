"""audit keyed: audit rows name their chain version and the audit key that keyed them

``audit_log`` gains ``chain_version`` (1: the unkeyed SHA-256 chain every existing row was
written with; 2: HMAC-SHA256 under the audit key, ``SIKS_AUDIT_KEY``) and ``key_id`` (the id of
that key, null for version 1). Existing rows keep version 1 and their hashes: they stay
verifiable with the old scheme, and the first keyed row links to the last of them. Write a
checkpoint (``siks audit checkpoint``) right after upgrading, so the unkeyed rows are anchored
outside the database too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_version", sa.SmallInteger(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Keyed rows cannot be verified by a version that knows only the unkeyed chain: refuse rather than lose them.
    keyed = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_log WHERE chain_version <> 1")).scalar_one()
    if keyed:
        raise RuntimeError(f"{keyed} audit rows are keyed with the audit key; the schema cannot go below 0009")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("key_id")
        batch_op.drop_column("chain_version")
