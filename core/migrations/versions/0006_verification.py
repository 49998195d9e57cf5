"""verification: proposals, steps, DTKS editions, rounds, visits, photos, offline packages

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

IMMUTABLE_TABLES = ("dtks_editions", "edition_counts")

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dtks_editions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("determined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("determined_by", sa.String(length=64), nullable=False),
        sa.Column("additions", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("removals", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("label"),
    )
    op.create_table(
        "verification_rounds",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("not_visited_since", sa.Date(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "edition_counts",
        sa.Column("edition_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["dtks_editions.id"],
        ),
        sa.PrimaryKeyConstraint("edition_id", "village_code"),
    )
    op.create_table(
        "offline_packages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("round_id", sa.BigInteger(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_by", sa.String(length=64), nullable=True),
        sa.Column("import_summary", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["regions.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("based_on_version", sa.Integer(), nullable=True),
        sa.Column("current", sa.JSON(), nullable=True),
        sa.Column("removal_reason", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("conflict_reason", sa.String(length=300), nullable=True),
        sa.Column("round_id", sa.BigInteger(), nullable=True),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("edition_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["regions.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposals_edition_id"), ["edition_id"], unique=False)
        batch_op.create_index(
            "ix_proposals_household_open",
            ["household_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'returned')"),
            postgresql_where=sa.text("status IN ('pending', 'returned')"),
        )
        batch_op.create_index("ix_proposals_status_stage", ["status", "stage"], unique=False)
        batch_op.create_index("ix_proposals_village", ["village_code"], unique=False)

    op.create_table(
        "round_households",
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("household_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["verification_rounds.id"],
        ),
        sa.PrimaryKeyConstraint("round_id", "household_id"),
    )
    with op.batch_alter_table("round_households", schema=None) as batch_op:
        batch_op.create_index("ix_round_households_village", ["round_id", "village_code"], unique=False)

    op.create_table(
        "round_regions",
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "region_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["verification_rounds.id"],
        ),
        sa.PrimaryKeyConstraint("round_id", "region_code"),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("household_version", sa.Integer(), nullable=False),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["verification_rounds.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_household", ["household_id"], unique=False)
        batch_op.create_index("ix_visits_round_household", ["round_id", "household_id"], unique=True)
        batch_op.create_index("ix_visits_village", ["village_code"], unique=False)

    op.create_table(
        "proposal_households",
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("kk_number", sa.String(length=16), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("rt", sa.String(length=3), nullable=False),
        sa.Column("rw", sa.String(length=3), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("floor_material", sa.String(length=24), nullable=False),
        sa.Column("wall_material", sa.String(length=24), nullable=False),
        sa.Column("roof_material", sa.String(length=24), nullable=False),
        sa.Column("toilet", sa.String(length=24), nullable=False),
        sa.Column("drinking_water", sa.String(length=24), nullable=False),
        sa.Column("lighting", sa.String(length=24), nullable=False),
        sa.Column("cooking_fuel", sa.String(length=24), nullable=False),
        sa.Column("ownership", sa.String(length=24), nullable=False),
        sa.Column("floor_area", sa.Float(), nullable=False),
        sa.Column("has_refrigerator", sa.Boolean(), nullable=False),
        sa.Column("has_air_conditioner", sa.Boolean(), nullable=False),
        sa.Column("has_television", sa.Boolean(), nullable=False),
        sa.Column("has_computer", sa.Boolean(), nullable=False),
        sa.Column("has_motorcycle", sa.Boolean(), nullable=False),
        sa.Column("has_car", sa.Boolean(), nullable=False),
        sa.Column("has_boat", sa.Boolean(), nullable=False),
        sa.Column("has_gold", sa.Boolean(), nullable=False),
        sa.Column("has_land", sa.Boolean(), nullable=False),
        sa.Column("livestock_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
        ),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_index("ix_proposal_households_kk_number", "proposal_households", ["kk_number"])
    op.create_table(
        "proposal_members",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("relationship", sa.String(length=24), nullable=False),
        sa.Column("education", sa.String(length=24), nullable=False),
        sa.Column("in_school", sa.Boolean(), nullable=False),
        sa.Column("occupation", sa.String(length=24), nullable=False),
        sa.Column("disability", sa.String(length=12), nullable=False),
        sa.Column("pregnant", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("proposal_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_members_proposal_id"), ["proposal_id"], unique=False)
        batch_op.create_index("ix_proposal_members_nik", ["nik"], unique=False)

    op.create_table(
        "proposal_steps",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("to_stage", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("proposal_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_steps_proposal_id"), ["proposal_id"], unique=False)

    op.create_table(
        "visit_photos",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "village_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_key", sa.String(length=120), nullable=False),
        sa.Column("public_key", sa.String(length=120), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("visit_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_photos_household_id"), ["household_id"], unique=False)
        batch_op.create_index("ix_visit_photos_visit_kind", ["visit_id", "kind"], unique=True)

    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(sa.Column("determined_edition_id", sa.BigInteger(), nullable=True))
    _refuse_updates()


def _refuse_updates() -> None:
    """A determined DTKS edition never changes: the database refuses UPDATE on its rows."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION siks_refuse_update() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'DTKS editions are immutable: % rows cannot be updated', TG_TABLE_NAME; END $$ "
            "LANGUAGE plpgsql"
        )
        for table in IMMUTABLE_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION siks_refuse_update()"
            )
        return
    for table in IMMUTABLE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'DTKS editions are immutable: {table} rows cannot be updated'); END"
        )


def downgrade() -> None:
    for table in IMMUTABLE_TABLES:
        op.execute(
            f"DROP TRIGGER {table}_immutable"
            + (f" ON {table}" if op.get_context().dialect.name == "postgresql" else "")
        )
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION siks_refuse_update()")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("determined_edition_id")

    with op.batch_alter_table("visit_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_photos_visit_kind")
        batch_op.drop_index(batch_op.f("ix_visit_photos_household_id"))

    op.drop_table("visit_photos")
    with op.batch_alter_table("proposal_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_steps_proposal_id"))

    op.drop_table("proposal_steps")
    with op.batch_alter_table("proposal_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_members_proposal_id"))
        batch_op.drop_index("ix_proposal_members_nik")

    op.drop_table("proposal_members")
    op.drop_index("ix_proposal_households_kk_number", table_name="proposal_households")
    op.drop_table("proposal_households")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_village")
        batch_op.drop_index("ix_visits_round_household")
        batch_op.drop_index("ix_visits_household")

    op.drop_table("visits")
    op.drop_table("round_regions")
    with op.batch_alter_table("round_households", schema=None) as batch_op:
        batch_op.drop_index("ix_round_households_village")

    op.drop_table("round_households")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_village")
        batch_op.drop_index("ix_proposals_status_stage")
        batch_op.drop_index(
            "ix_proposals_household_open",
            sqlite_where=sa.text("status IN ('pending', 'returned')"),
            postgresql_where=sa.text("status IN ('pending', 'returned')"),
        )
        batch_op.drop_index(batch_op.f("ix_proposals_edition_id"))

    op.drop_table("proposals")
    op.drop_table("offline_packages")
    op.drop_table("edition_counts")
    op.drop_table("verification_rounds")
    op.drop_table("dtks_editions")
