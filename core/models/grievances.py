"""Grievances (sanggah): a citizen's objection that a recipient does not qualify, and what officers did about it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type


class Grievance(SQLModel, table=True):
    """A grievance case about one household of a village, handled at ``level`` until resolved.

    ``deadline`` is when the level handling it must have decided; past it, an undecided case is
    escalated to the level above. ``reporter_key`` is a keyed hash of the reporter's address (never
    the address), used only to fold a repeated objection.
    """

    __tablename__ = "grievances"
    __table_args__ = (
        Index("ix_grievances_village", "village_code"),
        Index("ix_grievances_status_deadline", "status", "deadline"),
        Index("ix_grievances_household", "household_id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    village_code: str = Field(foreign_key="regions.code", sa_type=code_type())
    household_id: int = Field(sa_type=ID_TYPE, description="The household objected to.")
    member_id: int | None = Field(default=None, sa_type=ID_TYPE, description="The member named by the citizen.")
    reason: str = Field(max_length=16)
    text: str = Field(max_length=400, description="The citizen's words.")
    reporter_phone: str | None = Field(default=None, max_length=20)
    reporter_key: str = Field(max_length=32)
    status: str = Field(max_length=10)
    level: str = Field(max_length=10, description="The level handling the case: village, district, regency, province.")
    assignee: str | None = Field(default=None, max_length=64)
    deadline: datetime = Field(sa_type=TIMESTAMP)
    proposal_id: int | None = Field(default=None, foreign_key="proposals.id", sa_type=ID_TYPE)
    resolution: str | None = Field(default=None, max_length=500, description="Why it was resolved so; public.")
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    version: int = 1


class GrievanceEvent(SQLModel, table=True):
    """One thing that happened to a case: filed, assigned, replied (public or internal), escalated, resolved."""

    __tablename__ = "grievance_events"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    grievance_id: int = Field(foreign_key="grievances.id", index=True, sa_type=ID_TYPE)
    kind: str = Field(max_length=10)
    public: bool = Field(description="Shown to the citizen on Lacak (its text too, for a reply or resolution).")
    text: str = Field(default="", max_length=500)
    level: str = Field(max_length=10, description="The case's level after the event.")
    actor: str = Field(max_length=64)
    role: str = Field(max_length=32)
    at: datetime = Field(sa_type=TIMESTAMP)
