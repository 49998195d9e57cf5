"""cycle writes: components and disbursements keep their enrollment by a guard; components keyed by line

1. ``enrollment_components.enrollment_id`` and ``disbursements.enrollment_id`` lose their foreign
   keys to ``enrollments``. A key checks every written row on its own: on PostgreSQL an SPI query
   that also locks the enrollment row (``FOR KEY SHARE``) for each of a PKH cycle's 750,000
   component and 345,000 disbursement rows, 6.7 s of a 28 s run over a million households. Both
   tables are written only by cycles, in the transaction that writes their enrollments and from
   the same selection, so the insert side of the key cannot fail; its delete side is kept by a
   trigger that refuses to delete an enrollment, or change its id, while a component or a
   disbursement points at it (as migration 0007 did for counted members).
2. A component is identified by its enrollment and its line (1, 2, ... in the order the benefit
   lists them: highest amount first). The surrogate ``id`` nobody read goes, and with it one of
   the table's three indexes (the primary key now answers "the components of an enrollment"):
   1.2 s less for a PKH cycle's components on PostgreSQL. On SQLite the table is ``WITHOUT
   ROWID``, clustered on that key. Existing components are numbered in that order.
3. A disbursement is unique by its enrollment and stage; its reference, which names exactly
   those (``PKH-2026Q1-<enrollment id>-<stage>``), loses its own unique index and is looked up
   through that key. Three indexes become two (PK, and (enrollment, stage), which also answers
   "the payments of an enrollment").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "enrollment has components or disbursements: they must be removed first"
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s", "uq": "uq_%(table_name)s_%(column_0_name)s"}
PAYMENT_KEY = "uq_disbursements_payment"
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


LINE_ORDER = "PARTITION BY enrollment_id ORDER BY amount DESC, component, member_id"


def _rebuild_components(keyed_by_line: bool) -> None:
    """Copy ``enrollment_components`` into its other shape: keyed by (enrollment, line), or by a surrogate id."""
    op.rename_table("enrollment_components", "enrollment_components_old")
    columns = ["enrollment_id", "member_id", "component", "amount"]
    if keyed_by_line:
        key, numbered = sa.Column("line", sa.SmallInteger(), nullable=False), f"row_number() OVER ({LINE_ORDER})"
        primary = sa.PrimaryKeyConstraint("enrollment_id", "line", name="pk_enrollment_components")
    else:
        key, numbered = (
            sa.Column("id", sa.BigInteger(), nullable=False),
            "row_number() OVER (ORDER BY enrollment_id, line)",
        )
        primary = sa.PrimaryKeyConstraint("id", name="enrollment_components_pkey")
    op.create_table(
        "enrollment_components",
        sa.Column("enrollment_id", sa.BigInteger(), nullable=False),
        key,
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("component", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        primary,
        **({"sqlite_with_rowid": False} if keyed_by_line else {}),
    )
    op.execute(
        f"INSERT INTO enrollment_components ({key.name}, {', '.join(columns)}) "
        f"SELECT {numbered}, {', '.join(columns)} FROM enrollment_components_old"
    )
    op.drop_table("enrollment_components_old")
    op.create_index("ix_enrollment_components_member_id", "enrollment_components", ["member_id"])
    if not keyed_by_line:
        op.create_index("ix_enrollment_components_enrollment_id", "enrollment_components", ["enrollment_id"])


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    # SQLite: the legacy rename leaves migration 0007's member triggers, which name
    # enrollment_components, pointing at that name while the table is rebuilt.
    if not postgresql:
        op.execute("PRAGMA legacy_alter_table=ON")
    _rebuild_components(keyed_by_line=True)
    if postgresql:
        op.drop_constraint("disbursements_enrollment_id_fkey", "disbursements", type_="foreignkey")
        op.drop_constraint("disbursements_reference_key", "disbursements", type_="unique")
        op.drop_index("ix_disbursements_enrollment_id", table_name="disbursements")
        op.create_index(PAYMENT_KEY, "disbursements", ["enrollment_id", "stage"], unique=True)
        op.execute(POSTGRESQL_GUARD)
        op.execute(
            "CREATE TRIGGER enrollments_paid_kept BEFORE DELETE OR UPDATE OF id ON enrollments "
            "FOR EACH ROW EXECUTE FUNCTION siks_keep_paid_enrollment()"
        )
    else:
        with op.batch_alter_table("disbursements", naming_convention=SQLITE_NAMES) as batch:
            batch.drop_constraint("fk_disbursements_enrollment_id", type_="foreignkey")
            batch.drop_constraint("uq_disbursements_reference", type_="unique")
            batch.drop_index("ix_disbursements_enrollment_id")
            batch.create_index(PAYMENT_KEY, ["enrollment_id", "stage"], unique=True)
        op.execute("PRAGMA legacy_alter_table=OFF")
        for guard in SQLITE_GUARDS:
            op.execute(guard)


def downgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER enrollments_paid_kept ON enrollments")
        op.execute("DROP FUNCTION siks_keep_paid_enrollment()")
    else:
        op.execute("DROP TRIGGER enrollments_paid_kept")
        op.execute("DROP TRIGGER enrollments_paid_id_kept")
        op.execute("PRAGMA legacy_alter_table=ON")
    _rebuild_components(keyed_by_line=False)
    op.drop_index(PAYMENT_KEY, table_name="disbursements")
    op.create_index("ix_disbursements_enrollment_id", "disbursements", ["enrollment_id"])
    for table in CHILDREN:
        if postgresql:
            op.create_foreign_key(f"{table}_enrollment_id_fkey", table, "enrollments", ["enrollment_id"], ["id"])
        else:
            with op.batch_alter_table(table) as batch:
                batch.create_foreign_key(f"fk_{table}_enrollment_id", "enrollments", ["enrollment_id"], ["id"])
    if postgresql:
        op.create_unique_constraint("disbursements_reference_key", "disbursements", ["reference"])
    else:
        with op.batch_alter_table("disbursements") as batch:
            batch.create_unique_constraint("uq_disbursements_reference", ["reference"])
    if not postgresql:
        op.execute("PRAGMA legacy_alter_table=OFF")
