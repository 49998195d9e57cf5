"""SIKS-Dataku: the ticket code a citizen gets for a proposal (usul) or a grievance (sanggah) made on the pages."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP


class DatakuTicket(SQLModel, table=True):
    """A random, unguessable code that tracks one proposal (``/dataku/usul``) or one grievance
    (``/dataku/sanggah``); exactly one of the two ids is set. One namespace: ``/dataku/lacak`` tracks both."""

    __tablename__ = "dataku_tickets"

    code: str = Field(primary_key=True, max_length=16, description="Ten base32 characters, shown to the citizen.")
    proposal_id: int | None = Field(
        default=None, foreign_key="proposals.id", index=True, unique=True, nullable=True, sa_type=ID_TYPE
    )
    grievance_id: int | None = Field(
        default=None, foreign_key="grievances.id", index=True, unique=True, nullable=True, sa_type=ID_TYPE
    )
    created_at: datetime = Field(sa_type=TIMESTAMP)
