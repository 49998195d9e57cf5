"""The rules of a check: one member and what a reference source holds under their NIK → an outcome.

Plain data in and out, no database: ``core.identity.checks`` feeds them rows of its joins. An
outcome's ``details`` hold only what an operator needs to act (the new village of a move, the death
date, which fields disagree, the school level of a pupil), never the reference record itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz

from core.foundation.enums import IdentityStatus
from core.identity.names import normalise_name
from core.reference.formats import BpjsSegment, CivilStatus

#: Normalised names agreeing at least this much (rapidfuzz token-set ratio, 0..1) are the same name: a
#: dropped middle name, a one-word name or a spelling the normalisation does not settle still agree.
NAME_AGREEMENT = 0.85
PBI_SEGMENTS = frozenset({BpjsSegment.PBI_APBN.value, BpjsSegment.PBI_APBD.value})
SCHOOL_AGES = range(6, 19)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: IdentityStatus
    details: dict[str, Any] = field(default_factory=dict)
    probability: float | None = None
    suggested_nik: str | None = None


def name_similarity(registered: str, reference: str) -> float:
    """How alike two names are once normalised (1.0: the same)."""
    if registered == reference:
        return 1.0
    left, right = normalise_name(registered), normalise_name(reference)
    if left == right:
        return 1.0
    return round(fuzz.token_set_ratio(left, right) / 100, 3)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def adminduk_outcome(name: str, born: date, sex: str, village: str, person: Sequence[Any] | None) -> Outcome | None:
    """The outcome for a member whose NIK the civil registry holds (``person``: status, death date, village,
    full name, birth date, sex), or None when it does not (the caller then looks for the person by linkage)."""
    if person is None:
        return None
    status, death_date, new_village, full_name, reference_born, reference_sex = person
    if status == CivilStatus.DECEASED.value:
        return Outcome(IdentityStatus.DECEASED, {"deathDate": death_date.isoformat() if death_date else None})
    if status == CivilStatus.MOVED.value or new_village != village:
        return Outcome(IdentityStatus.MOVED, {"newVillageCode": new_village})
    disagree = []
    similarity = name_similarity(name, full_name)
    if similarity < NAME_AGREEMENT:
        disagree.append("name")
    if reference_born != born:
        disagree.append("birthDate")
    if reference_sex != sex:
        disagree.append("sex")
    if disagree:
        return Outcome(IdentityStatus.IDENTITY_MISMATCH, {"fields": disagree, "nameSimilarity": similarity})
    return Outcome(IdentityStatus.VERIFIED)


def pupil_outcome(pupil: Sequence[Any] | None, probability: float | None = None) -> Outcome:
    """A child's outcome from their Dapodik row (enrolled, level, grade, attendance %), or NOT_ENROLLED if none."""
    if pupil is None or not pupil[0]:
        return Outcome(IdentityStatus.NOT_ENROLLED, probability=probability)
    _enrolled, level, grade, attendance = pupil
    details = {"level": level, "grade": grade, "attendancePct": attendance}
    return Outcome(IdentityStatus.ENROLLED, details, probability=probability)


def bpjs_outcome(segment: str | None) -> Outcome:
    """PBI_ACTIVE with the segment of an active PBI membership; PBI_INACTIVE when there is none."""
    if segment in PBI_SEGMENTS:
        return Outcome(IdentityStatus.PBI_ACTIVE, {"segment": segment})
    return Outcome(IdentityStatus.PBI_INACTIVE)
