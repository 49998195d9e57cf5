"""KUBe's own tables (created by this plugin's migration branch)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, text

from core.plugin_api import code_type

metadata = MetaData()

GROUPS = Table(
    "kube_groups",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("village_code", code_type(), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("business", String(120), nullable=False),
    Column("status", String(12), nullable=False),
    Column("version", Integer, nullable=False),
    Column("dissolve_reason", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

MEMBERSHIPS = Table(
    "kube_memberships",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("group_id", BigInteger, nullable=False, index=True),
    Column("household_id", BigInteger, nullable=False),
    Column("active", Integer, nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
    Index(
        "ix_kube_memberships_household_active",
        "household_id",
        unique=True,
        sqlite_where=text("active = 1"),
        postgresql_where=text("active = 1"),
    ),
)
