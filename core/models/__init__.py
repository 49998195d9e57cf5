"""Database tables. Import this package before using ``SQLModel.metadata``."""

from core.models.dataku import DatakuTicket
from core.models.dci import DciDelivery, DciEvent, DciSubscription, DciTransaction
from core.models.dci_security import DciClientKey, DciSeenMessage, DciSigningKey
from core.models.demo import DemoRun
from core.models.grievances import Grievance, GrievanceEvent
from core.models.households import Household, Member, RegionHouseholdCount, WelfareSurvey
from core.models.identity import DuplicateCandidate, IdentityCheck, IdentityRun
from core.models.programs import (
    CycleRefusal,
    Disbursement,
    Enrollment,
    EnrollmentComponent,
    ProgramCycle,
    ProgramQuota,
    WelfareRank,
)
from core.models.reference import AdmindukPerson, BpjsMembership, DapodikPupil, ReferenceSnapshot
from core.models.regions import Region
from core.models.security import ApiKey, AuditEntry, AuditHead, CasbinRule, PolicyVersion, RefreshToken, User
from core.models.verification import (
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_VALUE_COLUMNS,
    PROPOSED_HOUSEHOLDS,
    PROPOSED_MEMBERS,
    DtksEdition,
    EditionCount,
    OfflinePackage,
    Proposal,
    ProposalStep,
    RoundHousehold,
    RoundRegion,
    VerificationRound,
    Visit,
    VisitPhoto,
)
from core.models.welfare import WelfareModelEntry, WelfareRankRun, WelfareRankScore

__all__ = [
    "DatakuTicket",
    "DciClientKey",
    "DciSeenMessage",
    "DciSigningKey",
    "HOUSEHOLD_VALUE_COLUMNS",
    "MEMBER_VALUE_COLUMNS",
    "PROPOSED_HOUSEHOLDS",
    "PROPOSED_MEMBERS",
    "RegionHouseholdCount",
    "DtksEdition",
    "EditionCount",
    "OfflinePackage",
    "Proposal",
    "ProposalStep",
    "RoundHousehold",
    "RoundRegion",
    "VerificationRound",
    "Visit",
    "VisitPhoto",
    "AdmindukPerson",
    "BpjsMembership",
    "DapodikPupil",
    "ReferenceSnapshot",
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "DciDelivery",
    "DciEvent",
    "DciSubscription",
    "DciTransaction",
    "DemoRun",
    "Grievance",
    "GrievanceEvent",
    "DuplicateCandidate",
    "IdentityCheck",
    "IdentityRun",
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
