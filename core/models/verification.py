"""Verification and validation (verivali): proposals and their steps up the hierarchy, DTKS
editions, verification rounds with their prelists, field visits, photos and offline packages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, String, Table, text
from sqlmodel import Field, SQLModel

from core.models.households import Household, Member
from core.models.types import ID_TYPE, TIMESTAMP, code_type

OPEN_ONLY = text("status IN ('pending', 'returned')")


class Proposal(SQLModel, table=True):
    """A proposed new household, change or removal (usulan), climbing village → national.

    ``stage`` names the level that acts next; ``current`` keeps the household as it was when the
    proposal was made (null for a new household) and ``based_on_version`` its version, so a
    household changed meanwhile is caught as a conflict at determination.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        Index(
            "ix_proposals_household_open",
            "household_id",
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        ),
        Index("ix_proposals_status_stage", "status", "stage"),
        Index("ix_proposals_village", "village_code"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    kind: str = Field(max_length=16)
    household_id: int = Field(sa_type=ID_TYPE, description="For a new household: the id it will get.")
    village_code: str = Field(foreign_key="regions.code", sa_type=code_type())
    stage: str = Field(max_length=10)
    status: str = Field(max_length=10)
    based_on_version: int | None = None
    current: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    removal_reason: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", max_length=500)
    conflict_reason: str | None = Field(default=None, max_length=300)
    round_id: int | None = Field(default=None, sa_type=ID_TYPE)
    visit_id: int | None = Field(default=None, sa_type=ID_TYPE)
    edition_id: int | None = Field(default=None, sa_type=ID_TYPE, index=True)
    client_id: str | None = Field(default=None, max_length=64, unique=True)
    content_sha256: str | None = Field(
        default=None, max_length=64, description="With a client id: sha256 of what the field app sent."
    )
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    version: int = 1


def _copied(table: Table, names: tuple[str, ...]) -> list[Column[Any]]:
    return [Column(c.name, c.type, nullable=c.nullable) for c in table.columns if c.name in names]


HOUSEHOLD_VALUE_COLUMNS: tuple[str, ...] = tuple(
    c.name
    for c in Household.__table__.columns
    if c.name not in {"id", "status", "version", "created_at", "updated_at", "determined_edition_id"}
)
MEMBER_VALUE_COLUMNS: tuple[str, ...] = tuple(
    c.name
    for c in Member.__table__.columns
    if c.name not in {"id", "household_id", "status", "version", "created_at", "updated_at"}
)

#: The household as proposed (new or changed), typed like ``households`` so determination is one UPDATE/INSERT.
PROPOSED_HOUSEHOLDS = Table(
    "proposal_households",
    SQLModel.metadata,
    Column("proposal_id", BigInteger, ForeignKey("proposals.id"), primary_key=True),
    Column("household_id", BigInteger, nullable=False),
    *_copied(Household.__table__, HOUSEHOLD_VALUE_COLUMNS),
    Index("ix_proposal_households_kk_number", "kk_number"),
)

#: The members as proposed: existing ones (``member_id`` of the registry) and new ones (``is_new``).
PROPOSED_MEMBERS = Table(
    "proposal_members",
    SQLModel.metadata,
    Column("id", BigInteger, primary_key=True),
    Column("proposal_id", BigInteger, ForeignKey("proposals.id"), nullable=False, index=True),
    Column("member_id", BigInteger, nullable=False),
    Column("is_new", Boolean, nullable=False),
    Column("status", String(12), nullable=False),
    *_copied(Member.__table__, MEMBER_VALUE_COLUMNS),
    Index("ix_proposal_members_nik", "nik"),
)


class ProposalStep(SQLModel, table=True):
    """One recorded step of a proposal: proposed, revised, approved, returned, rejected, determined, conflict."""

    __tablename__ = "proposal_steps"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    proposal_id: int = Field(foreign_key="proposals.id", index=True, sa_type=ID_TYPE)
    action: str = Field(max_length=12)
    level: str = Field(max_length=10, description="The level that acted.")
    to_stage: str = Field(max_length=10, description="Where the proposal went.")
    actor: str = Field(max_length=64)
    role: str = Field(max_length=32)
    note: str = Field(default="", max_length=500)
    at: datetime = Field(sa_type=TIMESTAMP)


class DtksEdition(SQLModel, table=True):
    """An immutable DTKS edition: the registry as determined (penetapan) by the ministry."""

    __tablename__ = "dtks_editions"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    label: str = Field(max_length=64, unique=True)
    period: str = Field(max_length=16)
    determined_at: datetime = Field(sa_type=TIMESTAMP)
    determined_by: str = Field(max_length=64)
    additions: int
    changes: int
    removals: int
    conflicts: int
    households: int = Field(description="Active households in the registry once determined.")
    members: int


class EditionCount(SQLModel, table=True):
    """Active households and members of one village as of an edition (for counts by region)."""

    __tablename__ = "edition_counts"

    edition_id: int = Field(primary_key=True, foreign_key="dtks_editions.id", sa_type=ID_TYPE)
    village_code: str = Field(primary_key=True, sa_type=code_type())
    households: int
    members: int


class VerificationRound(SQLModel, table=True):
    """A verification round (period, regions) whose prelist names the households due for a visit."""

    __tablename__ = "verification_rounds"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    period: str = Field(max_length=16)
    label: str = Field(max_length=120)
    status: str = Field(default="open", max_length=8)
    not_visited_since: date | None = None
    households: int = 0
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)


class RoundRegion(SQLModel, table=True):
    __tablename__ = "round_regions"

    round_id: int = Field(primary_key=True, foreign_key="verification_rounds.id", sa_type=ID_TYPE)
    region_code: str = Field(primary_key=True, sa_type=code_type())


class RoundHousehold(SQLModel, table=True):
    """One household of a round's prelist, with the version it had when the prelist was made."""

    __tablename__ = "round_households"
    __table_args__ = (Index("ix_round_households_village", "round_id", "village_code"),)

    round_id: int = Field(primary_key=True, foreign_key="verification_rounds.id", sa_type=ID_TYPE)
    household_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    village_code: str = Field(sa_type=code_type())
    household_version: int


class Visit(SQLModel, table=True):
    """A field visit: what the officer found, where (GPS), when; its changes travel as a proposal."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_round_household", "round_id", "household_id", unique=True),
        Index("ix_visits_village", "village_code"),
        Index("ix_visits_household", "household_id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    round_id: int = Field(foreign_key="verification_rounds.id", sa_type=ID_TYPE)
    household_id: int = Field(sa_type=ID_TYPE)
    village_code: str = Field(sa_type=code_type())
    outcome: str = Field(max_length=12)
    visited_at: datetime = Field(sa_type=TIMESTAMP)
    recorded_at: datetime = Field(sa_type=TIMESTAMP)
    latitude: float
    longitude: float
    household_version: int = Field(description="The household's version the officer saw.")
    officer: str = Field(max_length=64)
    role: str = Field(max_length=32)
    note: str = Field(default="", max_length=500)
    proposal_id: int | None = Field(default=None, sa_type=ID_TYPE)
    source: str = Field(default="online", max_length=8)
    client_id: str | None = Field(default=None, max_length=64, unique=True)
    content_sha256: str | None = Field(
        default=None, max_length=64, description="With a client id: sha256 of what the officer reported."
    )


class VisitPhoto(SQLModel, table=True):
    """A photo taken on a visit, or sent by a citizen with a usul (``proposal_id``), kept in photo storage;
    ``public_key`` names the copy without metadata."""

    __tablename__ = "visit_photos"
    __table_args__ = (Index("ix_visit_photos_visit_kind", "visit_id", "kind", unique=True),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    visit_id: int | None = Field(default=None, foreign_key="visits.id", sa_type=ID_TYPE)
    proposal_id: int | None = Field(
        default=None, foreign_key="proposals.id", index=True, sa_type=ID_TYPE, description="For a usul's photo."
    )
    household_id: int = Field(sa_type=ID_TYPE, index=True)
    village_code: str = Field(sa_type=code_type())
    kind: str = Field(max_length=12)
    content_type: str = Field(max_length=16)
    size: int
    sha256: str = Field(max_length=64)
    original_key: str = Field(max_length=120)
    public_key: str = Field(max_length=120)
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = Field(sa_type=TIMESTAMP)


class OfflinePackage(SQLModel, table=True):
    """An offline village package handed to a field app, and what came back from it."""

    __tablename__ = "offline_packages"

    id: str = Field(primary_key=True, max_length=32)
    village_code: str = Field(foreign_key="regions.code", sa_type=code_type())
    round_id: int | None = Field(default=None, sa_type=ID_TYPE)
    households: int
    digest: str = Field(max_length=64, description="sha256 of the exported reference content.")
    exported_at: datetime = Field(sa_type=TIMESTAMP)
    exported_by: str = Field(max_length=64)
    imported_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    imported_by: str | None = Field(default=None, max_length=64)
    import_summary: dict[str, Any] | None = Field(default=None, sa_type=JSON)


__all__ = [
    "DtksEdition",
    "EditionCount",
    "HOUSEHOLD_VALUE_COLUMNS",
    "MEMBER_VALUE_COLUMNS",
    "OfflinePackage",
    "PROPOSED_HOUSEHOLDS",
    "PROPOSED_MEMBERS",
    "Proposal",
    "ProposalStep",
    "RoundHousehold",
    "RoundRegion",
    "VerificationRound",
    "Visit",
    "VisitPhoto",
]
