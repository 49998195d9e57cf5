"""Reference snapshots: other agencies' registries as loaded by ``siks reference load`` (core/reference/).

Each load is a ``ReferenceSnapshot``; its rows carry its id. At most one snapshot per source is
``active``: a load becomes active only once every row is in, superseding the previous one.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type


class ReferenceSnapshot(SQLModel, table=True):
    """One load of one source's extract: ``loading``, then ``active``, later ``superseded``; or ``failed``."""

    __tablename__ = "reference_snapshots"
    __table_args__ = (Index("ix_reference_snapshots_source_status", "source", "status"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    source: str = Field(max_length=16)
    status: str = Field(max_length=16)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    rows_loaded: int = 0
    rows_rejected: int = 0
    loaded_by: str = Field(max_length=120)
    started_at: datetime = Field(sa_type=TIMESTAMP)
    completed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class AdmindukPerson(SQLModel, table=True):
    """A person of the civil registry (Dukcapil) in one snapshot."""

    __tablename__ = "reference_adminduk"
    __table_args__ = (
        Index("ix_reference_adminduk_snapshot_nik", "snapshot_id", "nik"),
        Index("ix_reference_adminduk_snapshot_block", "snapshot_id", "regency_code", "birth_year"),
    )

    snapshot_id: int = Field(foreign_key="reference_snapshots.id", primary_key=True, sa_type=ID_TYPE)
    row_number: int = Field(primary_key=True, description="The row in the loaded file (header = row 1).")
    nik: str = Field(max_length=16)
    kk: str = Field(max_length=16)
    full_name: str = Field(max_length=150)
    birth_place: str | None = Field(default=None, max_length=100)
    birth_date: date
    birth_year: int
    sex: str = Field(max_length=8)
    village_code: str = Field(sa_type=code_type())
    regency_code: str = Field(sa_type=code_type())
    status: str = Field(max_length=16)
    death_date: date | None = None
    updated_at: date


class DapodikPupil(SQLModel, table=True):
    """A pupil of the school registry (Dapodik) in one snapshot."""

    __tablename__ = "reference_dapodik"
    __table_args__ = (
        Index("ix_reference_dapodik_snapshot_nik", "snapshot_id", "nik"),
        Index("ix_reference_dapodik_snapshot_nisn", "snapshot_id", "nisn"),
        Index("ix_reference_dapodik_snapshot_block", "snapshot_id", "birth_year"),
    )

    snapshot_id: int = Field(foreign_key="reference_snapshots.id", primary_key=True, sa_type=ID_TYPE)
    row_number: int = Field(primary_key=True, description="The row in the loaded file (header = row 1).")
    nisn: str = Field(max_length=10)
    nik: str | None = Field(default=None, max_length=16)
    name: str = Field(max_length=150)
    birth_date: date
    birth_year: int
    sex: str = Field(max_length=8)
    npsn: str = Field(max_length=8)
    level: str = Field(max_length=3)
    grade: int
    enrolled: bool
    attendance_pct: float | None = None
    semester: str = Field(max_length=6)


class BpjsMembership(SQLModel, table=True):
    """A BPJS Kesehatan (JKN-KIS) membership in one snapshot."""

    __tablename__ = "reference_bpjs"
    __table_args__ = (Index("ix_reference_bpjs_snapshot_nik", "snapshot_id", "nik"),)

    snapshot_id: int = Field(foreign_key="reference_snapshots.id", primary_key=True, sa_type=ID_TYPE)
    row_number: int = Field(primary_key=True, description="The row in the loaded file (header = row 1).")
    nik: str = Field(max_length=16)
    card_number: str = Field(max_length=13)
    segment: str = Field(max_length=8)
    active: bool
