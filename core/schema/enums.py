"""The coded answers as GraphQL enums (names shown, stored values kept)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import strawberry

from core.foundation import enums
from core.reference.formats import Source

RegionLevel = strawberry.enum(enums.RegionLevel, description="Level in the Kemendagri hierarchy.")
RecordStatus = strawberry.enum(enums.RecordStatus)
FloorMaterial = strawberry.enum(enums.FloorMaterial, description="Main floor material (jenis lantai).")
WallMaterial = strawberry.enum(enums.WallMaterial, description="Main wall material (jenis dinding).")
RoofMaterial = strawberry.enum(enums.RoofMaterial, description="Main roof material (jenis atap).")
ToiletFacility = strawberry.enum(enums.ToiletFacility, description="Toilet facility (fasilitas BAB).")
DrinkingWater = strawberry.enum(enums.DrinkingWater, description="Main drinking water source.")
LightingSource = strawberry.enum(enums.LightingSource, description="Main lighting source.")
CookingFuel = strawberry.enum(enums.CookingFuel, description="Main cooking fuel.")
HomeOwnership = strawberry.enum(enums.HomeOwnership, description="Ownership of the dwelling.")
Sex = strawberry.enum(enums.Sex)
Relationship = strawberry.enum(enums.Relationship, description="Relationship to the head (hubungan dengan KK).")
Education = strawberry.enum(enums.Education, description="Highest school level attended.")
Occupation = strawberry.enum(enums.Occupation)
Disability = strawberry.enum(enums.Disability)
MemberStatus = strawberry.enum(enums.MemberStatus)
RemovalReason = strawberry.enum(enums.RemovalReason, description="Why a member leaves a household.")
VerificationLevel = strawberry.enum(
    enums.VerificationLevel, description="A level of verification and validation, village first."
)
ProposalKind = strawberry.enum(enums.ProposalKind, description="What a proposal (usulan) asks for.")
ProposalStatus = strawberry.enum(enums.ProposalStatus, description="Where a proposal stands.")
HouseholdRemovalReason = strawberry.enum(enums.HouseholdRemovalReason, description="Why a household leaves the DTKS.")
VisitOutcome = strawberry.enum(enums.VisitOutcome, description="What the field officer found.")
PhotoKind = strawberry.enum(enums.PhotoKind, description="What a visit photo shows.")
ProposalTarget = strawberry.enum(enums.ProposalTarget, description="What a proposed value belongs to.")
ProgramCycleStatus = strawberry.enum(enums.ProgramCycleStatus, description="Where a program cycle stands.")
EnrollmentStatus = strawberry.enum(enums.EnrollmentStatus, description="Where an enrollment stands.")
VerificationRoundStatus = strawberry.enum(enums.VerificationRoundStatus, description="Open for visits, or closed.")
ProposalStepAction = strawberry.enum(enums.ProposalStepAction, description="What one step of a proposal did.")
AuditOutcome = strawberry.enum(
    enums.AuditOutcome, description="A change made, an attempt denied, personal data read, or a failure."
)
PeriodKind = strawberry.enum(
    enums.PeriodKind, description="A program's period: a month (YYYY-MM), quarter (YYYY-Qn) or year (YYYY)."
)
PaymentStatus = strawberry.enum(enums.PaymentStatus, description="What a disbursement channel reports for a payment.")
ReferenceSource = strawberry.enum(Source, name="ReferenceSource", description="A reference registry checked against.")
IdentityStatus = strawberry.enum(enums.IdentityStatus, description="The outcome of checking a member against a source.")
IdentityRunStatus = strawberry.enum(enums.IdentityRunStatus, description="Where an identity check run stands.")
DuplicateKind = strawberry.enum(enums.DuplicateKind, description="One person twice, or one family twice.")
DuplicateStatus = strawberry.enum(enums.DuplicateStatus, description="Open, or decided the same or different.")
GrievanceReason = strawberry.enum(enums.GrievanceReason, description="Why a citizen objects to a recipient (sanggah).")
GrievanceStatus = strawberry.enum(
    enums.GrievanceStatus, description="Where a grievance case stands; UPHELD and REJECTED are final."
)
GrievanceEventKind = strawberry.enum(enums.GrievanceEventKind, description="What happened to a grievance case.")


def enum_twin(enum: type[StrEnum], stored: str, description: str) -> Any:
    """A field answering the stored lowercase string attribute ``stored`` as ``enum`` (the GraphQL enum of
    that StrEnum): the camelCase, UPPER_CASE twin of a field that answered the stored spelling."""

    def resolve(root: strawberry.Parent[Any]) -> StrEnum:
        return enum(getattr(root, stored))

    resolve.__annotations__ = {"root": strawberry.Parent[Any], "return": enum}
    return strawberry.field(resolver=resolve, description=description)
