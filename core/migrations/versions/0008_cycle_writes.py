"""cycle writes: components and disbursements keep their enrollment by a delete guard, not a foreign key

``enrollment_components.enrollment_id`` and ``disbursements.enrollment_id`` lose their foreign
keys to ``enrollments``. A key checks every written row on its own: on PostgreSQL an SPI query
that also locks the enrollment row (``FOR KEY SHARE``) for each of a PKH cycle's 750,000
component and 345,000 disbursement rows, 6.7 s of a 28 s run over a million households. Both
tables are written only by cycles, in the transaction that writes their enrollments and from the
same selection, so the insert side of the key can never fail; its delete side is kept by a
trigger that refuses to delete an enrollment, or change its id, while a component or a
disbursement points at it (as migration 0007 did for counted members).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "enrollment has components or disbursements: they must be removed first"
SQLITE_FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s"}
CHILDREN = ("enrollment_components", "disbursements")
REFERENCED = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE enrollment_id = OLD.id)" for table in CHILDREN)

POSTGRESQL_GUARD = f"""
CREATE FUNCTION siks_keep_paid_enrollment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
    RETURN NEW;
  END IF;
  IF {REFERENCED} THEN
    RAISE EXCEPTION '{REFUSAL} (enrollment %)', OLD.id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$
"""
SQLITE_GUARDS = (
    f"""
CREATE TRIGGER enrollments_paid_kept BEFORE DELETE ON enrollments
WHEN {REFERENCED}
BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END
""",
    f"""
CREATE TRIGGER enrollments_paid_id_kept BEFORE UPDATE OF id ON enrollments
WHEN NEW.id != OLD.id AND ({REFERENCED})
BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END
""",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in CHILDREN:
            op.drop_constraint(f"{table}_enrollment_id_fkey", table, type_="foreignkey")
        op.execute(POSTGRESQL_GUARD)
        op.execute(
            "CREATE TRIGGER enrollments_paid_kept BEFORE DELETE OR UPDATE OF id ON enrollments "
            "FOR EACH ROW EXECUTE FUNCTION siks_keep_paid_enrollment()"
        )
    else:
        # SQLite drops a key by copying the table and renaming the copy; the legacy rename leaves
        # migration 0007's member triggers, which name enrollment_components, as they are.
        op.execute("PRAGMA legacy_alter_table=ON")
        for table in CHILDREN:
            with op.batch_alter_table(table, naming_convention=SQLITE_FK_NAMES) as batch:
                batch.drop_constraint(f"fk_{table}_enrollment_id", type_="foreignkey")
        op.execute("PRAGMA legacy_alter_table=OFF")
        for guard in SQLITE_GUARDS:
            op.execute(guard)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER enrollments_paid_kept ON enrollments")
        op.execute("DROP FUNCTION siks_keep_paid_enrollment()")
        for table in CHILDREN:
            op.create_foreign_key(f"{table}_enrollment_id_fkey", table, "enrollments", ["enrollment_id"], ["id"])
    else:
        op.execute("DROP TRIGGER enrollments_paid_kept")
        op.execute("DROP TRIGGER enrollments_paid_id_kept")
        op.execute("PRAGMA legacy_alter_table=ON")
        for table in CHILDREN:
            with op.batch_alter_table(table) as batch:
                batch.create_foreign_key(f"fk_{table}_enrollment_id", "enrollments", ["enrollment_id"], ["id"])
        op.execute("PRAGMA legacy_alter_table=OFF")
