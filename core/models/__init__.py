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
from core.models.security import ApiKey, AuditEntry, AuditHead, CasbinRule, PolicyVersion, RefreshToken, User
from core.models.welfare import WelfareModelEntry, WelfareRankRun, WelfareRankScore

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "CasbinRule",
    "PolicyVersion",
    "RefreshToken",
    "User",
    "CycleRefusal",
    "Disbursement",
    "Enrollment",
    "EnrollmentComponent",
    "Household",
    "Member",
    "ProgramCycle",
    "ProgramQuota",
    "Region",
    "WelfareModelEntry",
    "WelfareRank",
    "WelfareRankRun",
    "WelfareRankScore",
    "WelfareSurvey",
]
