"""SIKS-Dataku: the ticket code a citizen gets for a proposal (usul) made on the citizens' pages."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP


class DatakuTicket(SQLModel, table=True):
    """A random, unguessable code that tracks one proposal a citizen made at ``/dataku/usul``."""

    __tablename__ = "dataku_tickets"

    code: str = Field(primary_key=True, max_length=16, description="Ten base32 characters, shown to the citizen.")
    proposal_id: int = Field(foreign_key="proposals.id", index=True, unique=True, sa_type=ID_TYPE)
    created_at: datetime = Field(sa_type=TIMESTAMP)
