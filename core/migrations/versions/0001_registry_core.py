"""registry core: regions, households, members

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "regions",
        sa.Column(
            "code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column(
            "parent_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_regions_level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_regions_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "households",
        sa.Column("id", sa.BigInteger(), nullable=False),
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
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["regions.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index(
            "ix_households_kk_active",
            ["kk_number"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.create_index("ix_households_kk_number", ["kk_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_households_village_code"), ["village_code"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
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
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_household_id"), ["household_id"], unique=False)
        batch_op.create_index("ix_members_nik", ["nik"], unique=False)
        batch_op.create_index(
            "ix_members_nik_active",
            ["nik"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "welfare_surveys",
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("consumption_per_capita", sa.Float(), nullable=False),
        sa.Column("survey_year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.PrimaryKeyConstraint("household_id"),
    )


def downgrade() -> None:

    op.drop_table("welfare_surveys")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_members_nik_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_members_nik")
        batch_op.drop_index(batch_op.f("ix_members_household_id"))

    op.drop_table("members")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_households_village_code"))
        batch_op.drop_index("ix_households_kk_number")
        batch_op.drop_index(
            "ix_households_kk_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.drop_table("households")
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regions_parent_code"))
        batch_op.drop_index(batch_op.f("ix_regions_level"))

    op.drop_table("regions")
