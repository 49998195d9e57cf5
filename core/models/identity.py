"""Identity resolution: runs of the checks against the reference snapshots, their outcomes per
member, and duplicate candidates found inside the registry (core/identity/).

A run records the snapshots it used, so an outcome can always be traced to the extract it came
from. Outcomes and candidates carry the household's village code, so scope is one indexed filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type


class IdentityRun(SQLModel, table=True):
    """One run: ``check`` (members against the active snapshots) or ``dedup`` (members against each other)."""

    __tablename__ = "identity_runs"
    __table_args__ = (Index("ix_identity_runs_kind_started", "kind", "started_at"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    kind: str = Field(max_length=8)  # IdentityRunKind
    status: str = Field(max_length=12)  # IdentityRunStatus: running → completed | failed
    region_code: str | None = Field(default=None, sa_type=code_type(), description="Null: the whole country.")
    adminduk_snapshot_id: int | None = Field(default=None, sa_type=ID_TYPE)
    dapodik_snapshot_id: int | None = Field(default=None, sa_type=ID_TYPE)
    bpjs_snapshot_id: int | None = Field(default=None, sa_type=ID_TYPE)
    members_checked: int = 0
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # outcome → count, model parameters
    started_by: str = Field(max_length=64)
    started_at: datetime = Field(sa_type=TIMESTAMP)
    completed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    error: str | None = Field(default=None, max_length=500)


class IdentityCheck(SQLModel, table=True):
    """One outcome of one member in one run, per source (Adminduk, Dapodik, BPJS)."""

    __tablename__ = "identity_checks"
    __table_args__ = (
        Index("ix_identity_checks_member", "member_id", "checked_at"),
        Index("ix_identity_checks_run_status_village", "run_id", "status", "village_code"),
    )

    run_id: int = Field(foreign_key="identity_runs.id", primary_key=True, sa_type=ID_TYPE)
    member_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    source: str = Field(primary_key=True, max_length=16)  # core.reference.formats.Source
    household_id: int = Field(sa_type=ID_TYPE)
    village_code: str = Field(sa_type=code_type())
    status: str = Field(max_length=20)  # IdentityStatus
    probability: float | None = None
    suggested_nik: str | None = Field(default=None, max_length=16)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # only what the outcome needs
    checked_at: datetime = Field(sa_type=TIMESTAMP)
    proposal_id: int | None = Field(default=None, sa_type=ID_TYPE, description="The proposal it became, if any.")


class DuplicateCandidate(SQLModel, table=True):
    """A pair of members (or of households) that may be the same person (or family), for operators to decide."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        Index("ix_duplicate_candidates_pair", "kind", "first_id", "second_id", unique=True),
        Index("ix_duplicate_candidates_status_village", "status", "first_village_code"),
        Index("ix_duplicate_candidates_second_village", "status", "second_village_code"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    run_id: int = Field(foreign_key="identity_runs.id", index=True, sa_type=ID_TYPE)
    kind: str = Field(max_length=16)  # DuplicateKind: same_person | same_family
    first_id: int = Field(sa_type=ID_TYPE, description="Member id (same_person) or household id (same_family).")
    second_id: int = Field(sa_type=ID_TYPE)
    first_household_id: int = Field(sa_type=ID_TYPE)
    second_household_id: int = Field(sa_type=ID_TYPE)
    first_village_code: str = Field(sa_type=code_type())
    second_village_code: str = Field(sa_type=code_type())
    probability: float
    agreeing: list[str] = Field(default_factory=list, sa_type=JSON)  # field names that agree
    status: str = Field(max_length=12)  # DuplicateStatus: open | same | different
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    proposal_id: int | None = Field(default=None, sa_type=ID_TYPE)
    found_at: datetime = Field(sa_type=TIMESTAMP)
    version: int = 1
