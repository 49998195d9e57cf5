"""Registry rows as DCI records: a household is a ``Group``, a member a ``Member`` with an ``SRPerson``.

Identifiers: the household's family card number (``KK``) and the member's ``NIK``. A Group's
``poverty_score`` is its national welfare decile (1 = poorest; absent while unranked), its ``place``
the village code and address, and ``programme_enrolments`` the programme periods it was enrolled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

#: The spec's identifier types SIKS answers to (``idtype-value`` queries and record identifiers).
KK = "KK"
NIK = "NIK"
POVERTY_SCORE_TYPE = "national_decile"


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def identifier(kind: str, value: str) -> dict[str, str]:
    return {"@type": "Identifier", "identifier_type": kind, "identifier_value": value}


def enrolment_status(period_start: date, period_end: date, today: date) -> str:
    """``active`` while today lies in the enrolled period, ``ended`` after it, ``planned`` before it."""
    if today < period_start:
        return "planned"
    return "active" if today <= period_end else "ended"


def enrolment_record(row: Mapping[str, Any], today: date) -> dict[str, Any]:
    return {
        "programme": {"programme_identifier": row["program"], "programme_name": str(row["program"]).upper()},
        "period": row["period"],
        "enrolment_date": _timestamp(row["created_at"]),
        "enrolment_status": enrolment_status(row["period_start"], row["period_end"], today),
        "period_start": row["period_start"].isoformat(),
        "period_end": row["period_end"].isoformat(),
    }


def person_record(member: Mapping[str, Any], kk_number: str) -> dict[str, Any]:
    """A member as the spec's ``Member`` (identifier type NIK) with its ``SRPerson`` demographic info."""
    return {
        "@type": "Member",
        "member_identifier": [identifier(NIK, member["nik"])],
        "demographic_info": {
            "@type": "SRPerson",
            "identifier": [identifier(NIK, member["nik"])],
            "name": {"@type": "Name", "given_name": member["name"]},
            "sex": member["sex"],
            "birth_date": member["birth_date"].isoformat(),
        },
        "group_identifier": [identifier(KK, kk_number)],
        "relationship_head": member["relationship"],
        "is_disabled": member["disability"] != "none",
        "education_level": member["education"],
        "occupation": member["occupation"],
        "registration_date": _timestamp(member["created_at"]),
        "last_updated": _timestamp(member["updated_at"]),
    }


def group_record(
    household: Mapping[str, Any],
    decile: int | None,
    members: Sequence[Mapping[str, Any]],
    enrolments: Sequence[Mapping[str, Any]],
    today: date,
) -> dict[str, Any]:
    """A household as the spec's ``Group``: KK identifier, decile as poverty score, place, members, enrolments."""
    kk_number = household["kk_number"]
    people = [person_record(member, kk_number) for member in members]
    head = next((p for p, m in zip(people, members, strict=True) if m["relationship"] == "head"), None)
    place: dict[str, Any] = {
        "@type": "Place",
        "region_code": household["village_code"],
        "address": f"{household['address']}, RT {household['rt']} / RW {household['rw']}",
    }
    if household["latitude"] is not None and household["longitude"] is not None:
        place["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": str(household["latitude"]),
            "longitude": str(household["longitude"]),
        }
    record: dict[str, Any] = {
        "@type": "Group",
        "group_identifier": [identifier(KK, kk_number)],
        "group_type": "household",
        "place": place,
        "group_size": len(people),
        "member_list": people,
        "programme_enrolments": [enrolment_record(row, today) for row in enrolments],
        "registration_date": _timestamp(household["created_at"]),
        "last_updated": _timestamp(household["updated_at"]),
    }
    if decile is not None:
        record["poverty_score"] = decile
        record["poverty_score_type"] = POVERTY_SCORE_TYPE
    if head is not None:
        record["group_head_info"] = head
    return record
