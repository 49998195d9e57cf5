"""Database tables. Import this package before using ``SQLModel.metadata``."""

from core.models.households import Household, Member, WelfareSurvey
from core.models.programs import (
    CycleRefusal,
    Disbursement,
    Enrollment,
    EnrollmentComponent,
    ProgramCycle,
    ProgramQuota,
    WelfareRank,
)
from core.models.regions import Region

__all__ = [
    "CycleRefusal",
    "Disbursement",
    "Enrollment",
    "EnrollmentComponent",
    "Household",
    "Member",
    "ProgramCycle",
    "ProgramQuota",
    "Region",
    "WelfareRank",
    "WelfareSurvey",
]
