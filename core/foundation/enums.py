"""Coded answers of the unified-database (DTKS) household form.

Values are stored as these short lowercase strings; GraphQL shows the member names.
"""

from __future__ import annotations

from enum import StrEnum


class RegionLevel(StrEnum):
    PROVINCE = "province"  # provinsi
    REGENCY = "regency"  # kabupaten/kota
    DISTRICT = "district"  # kecamatan
    VILLAGE = "village"  # desa/kelurahan


class RecordStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class FloorMaterial(StrEnum):
    MARBLE_GRANITE = "marble_granite"
    CERAMIC = "ceramic"
    PARQUET_VINYL = "parquet_vinyl"
    TILE_TERRAZZO = "tile_terrazzo"
    HIGH_QUALITY_WOOD = "high_quality_wood"
    CEMENT_BRICK = "cement_brick"
    BAMBOO = "bamboo"
    LOW_QUALITY_WOOD = "low_quality_wood"
    EARTH = "earth"


class WallMaterial(StrEnum):
    MASONRY = "masonry"  # tembok
    PLASTERED_BAMBOO = "plastered_bamboo"
    WOOD = "wood"
    WOVEN_BAMBOO = "woven_bamboo"  # anyaman bambu
    LOG = "log"
    BAMBOO = "bamboo"
    OTHER = "other"


class RoofMaterial(StrEnum):
    CONCRETE = "concrete"
    CLAY_TILE = "clay_tile"  # genteng
    ASBESTOS = "asbestos"
    ZINC = "zinc"  # seng
    WOOD_SHINGLE = "wood_shingle"  # sirap
    BAMBOO = "bamboo"
    THATCH = "thatch"  # jerami/ijuk/rumbia
    OTHER = "other"


class ToiletFacility(StrEnum):
    PRIVATE = "private"
    SHARED = "shared"
    PUBLIC = "public"
    NONE = "none"


class DrinkingWater(StrEnum):
    BOTTLED = "bottled"
    PIPED = "piped"
    PROTECTED_WELL = "protected_well"
    UNPROTECTED_WELL = "unprotected_well"
    PROTECTED_SPRING = "protected_spring"
    UNPROTECTED_SPRING = "unprotected_spring"
    SURFACE_WATER = "surface_water"
    RAIN_WATER = "rain_water"
    OTHER = "other"


class LightingSource(StrEnum):
    PLN_METERED = "pln_metered"
    PLN_UNMETERED = "pln_unmetered"
    NON_PLN = "non_pln"
    NONE = "none"


class CookingFuel(StrEnum):
    ELECTRICITY = "electricity"
    LPG = "lpg"
    CITY_GAS = "city_gas"
    KEROSENE = "kerosene"
    CHARCOAL = "charcoal"
    FIREWOOD = "firewood"
    NONE = "none"


class HomeOwnership(StrEnum):
    OWNED = "owned"
    RENTED = "rented"
    RENT_FREE = "rent_free"
    OFFICIAL = "official"  # rumah dinas
    OTHER = "other"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Relationship(StrEnum):
    """Hubungan dengan kepala keluarga."""

    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    CHILD_IN_LAW = "child_in_law"
    GRANDCHILD = "grandchild"
    PARENT = "parent"
    PARENT_IN_LAW = "parent_in_law"
    OTHER_RELATIVE = "other_relative"
    OTHER = "other"


class Education(StrEnum):
    """Highest level attended (jenjang pendidikan)."""

    NONE = "none"
    PRIMARY = "primary"  # SD/MI
    JUNIOR_HIGH = "junior_high"  # SMP/MTs
    SENIOR_HIGH = "senior_high"  # SMA/SMK/MA
    DIPLOMA = "diploma"
    BACHELOR = "bachelor"
    POSTGRADUATE = "postgraduate"


class Occupation(StrEnum):
    NOT_WORKING = "not_working"
    STUDENT = "student"
    HOUSEKEEPING = "housekeeping"
    FARMER = "farmer"
    FISHER = "fisher"
    LABORER = "laborer"
    TRADER = "trader"
    SELF_EMPLOYED = "self_employed"
    PRIVATE_EMPLOYEE = "private_employee"
    CIVIL_SERVANT = "civil_servant"
    OTHER = "other"


class Disability(StrEnum):
    NONE = "none"
    MODERATE = "moderate"
    SEVERE = "severe"  # disabilitas berat


class MemberStatus(StrEnum):
    ACTIVE = "active"
    DECEASED = "deceased"
    MOVED = "moved"
    DUPLICATE = "duplicate"
    DATA_ERROR = "data_error"
    DELISTED = "delisted"  # left the DTKS with their household (no longer poor, not found)


class RemovalReason(StrEnum):
    """Why a member leaves a household; each maps to the member's final status."""

    DECEASED = "deceased"
    MOVED = "moved"
    DUPLICATE = "duplicate"
    DATA_ERROR = "data_error"


class VerificationLevel(StrEnum):
    """The levels a proposal climbs (verifikasi dan validasi), village first, the ministry last."""

    VILLAGE = "village"  # desa/kelurahan
    DISTRICT = "district"  # kecamatan
    REGENCY = "regency"  # Dinas Sosial kabupaten/kota
    PROVINCE = "province"  # Dinas Sosial provinsi
    NATIONAL = "national"  # Pusdatin: determination (penetapan)


class ProposalKind(StrEnum):
    NEW_HOUSEHOLD = "new_household"  # usulan baru
    CHANGE = "change"  # perubahan data rumah tangga atau anggota
    REMOVAL = "removal"  # usulan penghapusan


class ProposalStatus(StrEnum):
    PENDING = "pending"  # waiting for the level named by the proposal's stage
    RETURNED = "returned"  # sent back down with a reason; the stage's level revises or forwards it
    REJECTED = "rejected"
    DETERMINED = "determined"  # applied to the registry in a DTKS edition
    CONFLICT = "conflict"  # the household changed since the proposal was made; not applied


class HouseholdRemovalReason(StrEnum):
    """Why a household leaves the DTKS; each sets its active members' status."""

    DECEASED = "deceased"
    MOVED = "moved"
    NO_LONGER_POOR = "no_longer_poor"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"


class VisitOutcome(StrEnum):
    """What the field officer found at the address."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    MOVED = "moved"
    DECEASED = "deceased"


class PhotoKind(StrEnum):
    ROOF = "roof"
    FLOOR = "floor"
    WALL = "wall"
    ID_CARD = "id_card"  # KTP
    HOUSE_FRONT = "house_front"


class ProposalTarget(StrEnum):
    """What one proposed value belongs to: the household or one of its members."""

    HOUSEHOLD = "household"
    MEMBER = "member"


# Statuses and kinds that the API long answered as their stored lowercase strings; each now also has an
# enum twin in the API (docs/api-contract.md, "Relay conventions"). The stored values are these.


class ProgramCycleStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    APPROVED = "approved"


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"


class VerificationRoundStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ProposalStepAction(StrEnum):
    PROPOSE = "propose"
    REVISE = "revise"
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    DETERMINE = "determine"
    CONFLICT = "conflict"


class AuditOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    READ = "read"
    ERROR = "error"


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class PaymentStatus(StrEnum):
    """What a disbursement channel reports for one payment."""

    DISBURSED = "disbursed"
    FAILED = "failed"
    RETURNED = "returned"


class IdentityRunKind(StrEnum):
    CHECK = "check"  # members against the active reference snapshots
    DEDUP = "dedup"  # members against each other, inside the registry


class IdentityRunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class IdentityStatus(StrEnum):
    """The outcome of checking one member against one reference source."""

    VERIFIED = "verified"  # Adminduk: NIK found, name, birth date and sex agree
    NIK_UNKNOWN = "nik_unknown"  # Adminduk: NIK not found and no candidate good enough
    IDENTITY_MISMATCH = "identity_mismatch"  # Adminduk: NIK found but the person differs
    DECEASED = "deceased"  # Adminduk: the civil registry records a death
    MOVED = "moved"  # Adminduk: the civil registry records a move (details: the new village)
    NIK_SUGGESTED = "nik_suggested"  # Adminduk: NIK not found, a probable person with another NIK
    ENROLLED = "enrolled"  # Dapodik: a child 6–18 enrolled in a school
    NOT_ENROLLED = "not_enrolled"  # Dapodik: a child 6–18 not found enrolled
    PBI_ACTIVE = "pbi_active"  # BPJS: an active PBI membership
    PBI_INACTIVE = "pbi_inactive"  # BPJS: no active PBI membership


#: Outcomes that are discrepancies: work for operators.
IDENTITY_DISCREPANCIES = frozenset(
    {
        IdentityStatus.NIK_UNKNOWN,
        IdentityStatus.IDENTITY_MISMATCH,
        IdentityStatus.DECEASED,
        IdentityStatus.MOVED,
        IdentityStatus.NIK_SUGGESTED,
        IdentityStatus.NOT_ENROLLED,
    }
)


class DuplicateKind(StrEnum):
    SAME_PERSON = "same_person"  # one person in two active households or under two NIKs
    SAME_FAMILY = "same_family"  # one family registered twice


class DuplicateStatus(StrEnum):
    OPEN = "open"
    SAME = "same"  # decided: the same; a proposal marks one member duplicate
    DIFFERENT = "different"  # decided: different people; not found again


class GrievanceReason(StrEnum):
    """Why a citizen objects (sanggah) that a recipient qualifies."""

    NO_LONGER_POOR = "no_longer_poor"  # sudah mampu
    DECEASED = "deceased"  # meninggal dunia
    MOVED = "moved"  # pindah domisili
    DUPLICATE = "duplicate"  # terdaftar ganda
    CIVIL_SERVANT = "civil_servant"  # ASN, TNI or Polri: not eligible
    OTHER = "other"  # lainnya


class GrievanceStatus(StrEnum):
    """Where a grievance case stands; the last two are final."""

    OPEN = "open"  # filed, nobody assigned
    ASSIGNED = "assigned"  # an officer handles it
    ESCALATED = "escalated"  # past its deadline undecided: moved to the level above
    UPHELD = "upheld"  # resolved: the objection holds; a removal proposal is in the chain
    REJECTED = "rejected"  # resolved: the recipient qualifies


class GrievanceEventKind(StrEnum):
    FILED = "filed"
    ASSIGNED = "assigned"
    REPLIED = "replied"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
