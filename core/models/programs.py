"""Welfare ranks, program quotas, cycles, enrollments and disbursements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, SmallInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type


class WelfareRank(SQLModel, table=True):
    """A household's place in the welfare ranking (lower score = poorer; decile 1 = poorest tenth)."""

    __tablename__ = "welfare_ranks"

    household_id: int = Field(primary_key=True, foreign_key="households.id", sa_type=ID_TYPE)
    model_version: str = Field(max_length=64)
    score: float
    decile: int = Field(index=True, description="National decile, 1 = poorest.")
    regency_decile: int
    ranked_at: datetime = Field(sa_type=TIMESTAMP)


class ProgramQuota(SQLModel, table=True):
    """How many households a program may enroll in a region for a period."""

    __tablename__ = "program_quotas"

    program: str = Field(primary_key=True, max_length=32)
    period: str = Field(primary_key=True, max_length=16)
    region_code: str = Field(primary_key=True, sa_type=code_type())
    quota: int
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class ProgramCycle(SQLModel, table=True):
    """One run of a program for a period over a region; approved before payments are released."""

    __tablename__ = "program_cycles"
    __table_args__ = (UniqueConstraint("program", "period", "region_code", name="uq_program_cycles_scope"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    program: str = Field(max_length=32)
    period: str = Field(max_length=16)
    region_code: str = Field(sa_type=code_type())
    status: str = Field(max_length=12, description="running, completed, approved")
    enrolled: int = 0
    refused: int = 0
    total_amount: int = Field(default=0, sa_type=BigInteger())
    started_at: datetime = Field(sa_type=TIMESTAMP)
    finished_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    approved_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    approved_by: str | None = Field(default=None, max_length=64)
    run_by: str = Field(max_length=64, description="Who ran the cycle.")


class Enrollment(SQLModel, table=True):
    """A household enrolled in a program for a period (kepesertaan), with its benefit."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("program", "period", "household_id", name="uq_enrollments_once"),
        Index("ix_enrollments_program_period_village", "program", "period", "village_code"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    cycle_id: int = Field(foreign_key="program_cycles.id", index=True, sa_type=ID_TYPE)
    program: str = Field(max_length=32)
    period: str = Field(max_length=16)
    period_start: date
    period_end: date
    household_id: int = Field(foreign_key="households.id", index=True, sa_type=ID_TYPE)
    village_code: str = Field(sa_type=code_type())
    amount: int = Field(sa_type=BigInteger(), description="Rupiah for the whole period.")
    status: str = Field(default="enrolled", max_length=12)
    created_at: datetime = Field(sa_type=TIMESTAMP)


class EnrollmentComponent(SQLModel, table=True):
    """A line of what an itemised benefit is made of (a PKH component per member; a family-level line has no member)."""

    __tablename__ = "enrollment_components"
    __table_args__ = {"sqlite_with_rowid": False}

    # Ids of an enrollment and a member without foreign keys: only cycles write components, in the
    # transaction that writes their enrollment and from ``members`` in the same statement, and
    # triggers refuse to delete a counted member or enrollment (migrations 0007 and 0008 say why).
    enrollment_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    line: int = Field(primary_key=True, sa_type=SmallInteger(), description="1, 2, ...: highest amount first.")
    member_id: int | None = Field(default=None, index=True, sa_type=ID_TYPE)
    component: str = Field(max_length=32)
    amount: int = Field(sa_type=BigInteger())


class CycleRefusal(SQLModel, table=True):
    """A household a cycle found eligible but refused to enroll, and why (e.g. a double recipient)."""

    __tablename__ = "cycle_refusals"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    cycle_id: int = Field(foreign_key="program_cycles.id", index=True, sa_type=ID_TYPE)
    household_id: int = Field(foreign_key="households.id", sa_type=ID_TYPE)
    reason: str = Field(max_length=200)


class Disbursement(SQLModel, table=True):
    """One payment of an enrollment (a stage), tracked by its reference through the payment channel."""

    __tablename__ = "disbursements"
    __table_args__ = (Index("uq_disbursements_payment", "enrollment_id", "stage", unique=True),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    # No foreign key, as for components: written only by cycles with their enrollment; a trigger
    # refuses to delete an enrollment that has disbursements (migration 0008).
    enrollment_id: int = Field(sa_type=ID_TYPE)
    program: str = Field(max_length=32)
    period: str = Field(max_length=16)
    village_code: str = Field(sa_type=code_type())
    stage: int
    amount: int = Field(sa_type=BigInteger())
    channel: str = Field(max_length=24)
    # Names the payment, ``PKH-2026Q1-<enrollment id>-<stage>``: unique through (enrollment, stage).
    reference: str = Field(max_length=40)
    account_reference: str | None = Field(default=None, max_length=40, description="KKS card or account number.")
    status: str = Field(max_length=12, description="pending, released, disbursed, failed, returned")
    status_note: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    version: int = 1
