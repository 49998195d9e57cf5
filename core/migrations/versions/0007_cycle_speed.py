"""cycle speed: deceased NIKs indexed; components keep their members by a delete guard, not a foreign key

1. A partial index of the NIKs recorded as deceased. Every cycle asks, for each member counted
   in a component, whether that NIK is recorded as deceased anywhere: with this index the
   deceased NIKs are read once, as a small set, instead of probing the NIK index per member.
2. ``enrollment_components.member_id`` loses its foreign key to ``members``. On PostgreSQL that
   key made every component row lock its member row (a write to the members table per row): a
   third of a PKH cycle's time. Components are written only by cycles, with member ids read from
   ``members`` in the same statement; members are never deleted (a removal is a status), and a
   trigger now refuses to delete a member, or change its id, while a component counts it, which
   is what the key's delete side did.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECEASED_ONLY = sa.text("status = 'deceased'")
REFUSAL = "member is counted in enrollment components: members are never deleted, record a removal instead"
SQLITE_FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s"}

POSTGRESQL_GUARD = f"""
CREATE FUNCTION siks_keep_counted_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM enrollment_components WHERE member_id = OLD.id) THEN
    RAISE EXCEPTION '{REFUSAL} (member %)', OLD.id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$
"""
SQLITE_GUARDS = (
    f"""
CREATE TRIGGER members_counted_kept BEFORE DELETE ON members
WHEN EXISTS (SELECT 1 FROM enrollment_components WHERE member_id = OLD.id)
BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END
""",
    f"""
CREATE TRIGGER members_counted_id_kept BEFORE UPDATE OF id ON members
WHEN NEW.id != OLD.id AND EXISTS (SELECT 1 FROM enrollment_components WHERE member_id = OLD.id)
BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END
""",
)


def upgrade() -> None:
    op.create_index(
        "ix_members_nik_deceased", "members", ["nik"], sqlite_where=DECEASED_ONLY, postgresql_where=DECEASED_ONLY
    )
    if op.get_context().dialect.name == "postgresql":
        op.drop_constraint("enrollment_components_member_id_fkey", "enrollment_components", type_="foreignkey")
        op.execute(POSTGRESQL_GUARD)
        op.execute(
            "CREATE TRIGGER members_counted_kept BEFORE DELETE OR UPDATE OF id ON members "
            "FOR EACH ROW EXECUTE FUNCTION siks_keep_counted_member()"
        )
    else:
        with op.batch_alter_table("enrollment_components", naming_convention=SQLITE_FK_NAMES) as batch:
            batch.drop_constraint("fk_enrollment_components_member_id", type_="foreignkey")
        for guard in SQLITE_GUARDS:
            op.execute(guard)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER members_counted_kept ON members")
        op.execute("DROP FUNCTION siks_keep_counted_member()")
        op.create_foreign_key(
            "enrollment_components_member_id_fkey", "enrollment_components", "members", ["member_id"], ["id"]
        )
    else:
        op.execute("DROP TRIGGER members_counted_kept")
        op.execute("DROP TRIGGER members_counted_id_kept")
        with op.batch_alter_table("enrollment_components") as batch:
            batch.create_foreign_key("fk_enrollment_components_member_id", "members", ["member_id"], ["id"])
    op.drop_index("ix_members_nik_deceased", table_name="members")
