"""Validation rules for households and members that need no database beyond region codes.

These are the rules of every way a household arrives: the GraphQL API, proposals, the CSV/XLSX
import and the offline import all call them. Beside the domain rules, every value is checked
against what its table column holds (``value_errors``): text is one line of printable characters
within the column's width, whole numbers lie in their declared range. Rules that need other
households (a NIK already active elsewhere, a KK already registered) are checked set-based by the
service and the importer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date

from core.foundation.enums import Relationship, Sex
from core.foundation.refusals import FieldError
from core.foundation.text import line_problem
from core.households.data import (
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
    TEXT_LENGTHS,
    WHOLE_NUMBER_RANGES,
    HouseholdData,
    MemberData,
)
from core.households.identity import kk_problem, nik_agrees, nik_facts, nik_matches_person, nik_problem
from core.regions.codes import district_of_nik, is_region_code, level_number

RegionExists = Callable[[str], bool]
_RT_RW = re.compile(r"[0-9]{1,3}")  # ASCII digits only: \d also takes other scripts' digits
# Indonesia's bounding box, with a margin for outlying islands.
LATITUDE_RANGE = (-11.5, 6.5)
LONGITUDE_RANGE = (94.5, 141.5)


def camel(name: str) -> str:
    """A field's name as the API spells it: ``livestock_count`` → ``livestockCount``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# (name, API name, words, text width or None, lowest, highest) of each field with a declared width or range
Limit = tuple[str, str, str, int | None, int, int]


def _limits(names: Iterable[str]) -> tuple[Limit, ...]:
    return tuple(
        (name, camel(name), name.replace("_", " "), TEXT_LENGTHS.get(name), *WHOLE_NUMBER_RANGES.get(name, (0, 0)))
        for name in names
        if name in TEXT_LENGTHS or name in WHOLE_NUMBER_RANGES
    )


_HOUSEHOLD_LIMITS = _limits(HOUSEHOLD_COLUMNS)
_MEMBER_LIMITS = _limits(MEMBER_COLUMNS)


def value_errors(data: HouseholdData | MemberData, prefix: str = "") -> list[FieldError]:
    """Values their table columns cannot hold: text that is not one printable line or is longer than
    the column, whole numbers outside their range (``core.households.data`` declares both)."""
    errors: list[FieldError] = []
    for name, path, label, width, low, high in _MEMBER_LIMITS if isinstance(data, MemberData) else _HOUSEHOLD_LIMITS:
        value = getattr(data, name)
        if width is None:
            if low <= value <= high:
                continue
            problem = f"must be a whole number from {low:,} to {high:,}"
        else:
            problem = line_problem(value)
            if problem is None:
                if len(value) <= width:
                    continue
                problem = f"is longer than {width} characters"
        errors.append(FieldError(f"{prefix}{path}", f"{label} {problem}"))
    return errors


def _with_value_errors(errors: list[FieldError], data: HouseholdData | MemberData, prefix: str) -> list[FieldError]:
    """``errors`` (the domain rules') and the value errors of fields they do not already name."""
    found = value_errors(data, prefix)
    if found:
        named = {error.field for error in errors}
        errors.extend(error for error in found if error.field not in named)
    return errors


def member_errors(member: MemberData, region_exists: RegionExists, today: date, prefix: str = "") -> list[FieldError]:
    """Errors in one member's own data."""
    errors: list[FieldError] = []
    agrees = nik_agrees(member.nik, member.sex, member.birth_date)
    problem = None if agrees else nik_problem(member.nik)
    if problem is None and not region_exists(district_of_nik(member.nik)):
        problem = f"district code {district_of_nik(member.nik)} (digits 1-6) does not exist"
    if problem:
        errors.append(FieldError(f"{prefix}nik", f"NIK {problem}"))
    if not member.name.strip():
        errors.append(FieldError(f"{prefix}name", "name is required"))
    if member.birth_date > today:
        errors.append(FieldError(f"{prefix}birthDate", f"birth date {member.birth_date.isoformat()} is in the future"))
    elif member.birth_date.year < today.year - 130:
        errors.append(FieldError(f"{prefix}birthDate", f"birth date {member.birth_date.isoformat()} is too long ago"))
    elif problem is None and not agrees:
        mismatch = nik_matches_person(nik_facts(member.nik), member.sex, member.birth_date)
        if mismatch:
            errors.append(FieldError(f"{prefix}nik", mismatch))
    if member.pregnant and member.sex is not Sex.FEMALE:
        errors.append(FieldError(f"{prefix}pregnant", "only a female member can be pregnant"))
    return _with_value_errors(errors, member, prefix)


def household_errors(data: HouseholdData, region_exists: RegionExists) -> list[FieldError]:
    """Errors in a household's own variables (not its members)."""
    errors: list[FieldError] = []
    problem = kk_problem(data.kk_number)
    if problem is None and not region_exists(district_of_nik(data.kk_number)):
        problem = f"district code {district_of_nik(data.kk_number)} (digits 1-6) does not exist"
    if problem:
        errors.append(FieldError("kkNumber", f"KK number {problem}"))
    if not is_region_code(data.village_code) or level_number(data.village_code) != 4:
        shown = data.village_code[:20]  # quoted with repr: a control character shows as its escape
        errors.append(FieldError("villageCode", f"{shown!r} is not a village code such as 32.01.01.2001"))
    elif not region_exists(data.village_code):
        errors.append(FieldError("villageCode", f"village {data.village_code} does not exist"))
    if not data.address.strip():
        errors.append(FieldError("address", "address is required"))
    for name in ("rt", "rw"):
        if not _RT_RW.fullmatch(getattr(data, name)):
            errors.append(FieldError(name, f"{name.upper()} must be 1 to 3 digits"))
    if not (math.isfinite(data.floor_area) and 1 <= data.floor_area <= 10_000):
        errors.append(FieldError("floorArea", "floor area must be between 1 and 10,000 square metres"))
    if (data.latitude is None) != (data.longitude is None):
        errors.append(FieldError("latitude", "give both latitude and longitude, or neither"))
    elif data.latitude is not None and data.longitude is not None:
        if not LATITUDE_RANGE[0] <= data.latitude <= LATITUDE_RANGE[1]:
            errors.append(FieldError("latitude", f"latitude {data.latitude} is outside Indonesia"))
        if not LONGITUDE_RANGE[0] <= data.longitude <= LONGITUDE_RANGE[1]:
            errors.append(FieldError("longitude", f"longitude {data.longitude} is outside Indonesia"))
    return _with_value_errors(errors, data, "")


def composition_errors(members: Sequence[MemberData | object]) -> list[FieldError]:
    """A household needs exactly one head and no NIK twice among its members."""
    errors: list[FieldError] = []
    heads = sum(1 for m in members if getattr(m, "relationship", None) == Relationship.HEAD)
    if heads == 0:
        errors.append(FieldError("members", "the household has no head (one member must have relationship HEAD)"))
    elif heads > 1:
        errors.append(FieldError("members", f"the household has {heads} heads; exactly one is allowed"))
    seen: set[str] = set()
    for index, member in enumerate(members):
        nik = getattr(member, "nik", "")
        if nik in seen:
            shown = nik if nik.isascii() and nik.isprintable() else repr(nik)
            errors.append(FieldError(f"members.{index}.nik", f"NIK {shown} appears twice in the household"))
        seen.add(nik)
    return errors


def full_household_errors(data: HouseholdData, region_exists: RegionExists, today: date) -> list[FieldError]:
    """Every rule for a new household with its members."""
    errors = household_errors(data, region_exists)
    for index, member in enumerate(data.members):
        errors.extend(member_errors(member, region_exists, today, prefix=f"members.{index}."))
    errors.extend(composition_errors(data.members))
    return errors


def codes_to_check(data: HouseholdData) -> set[str]:
    """The region codes the rules will ask about, to fetch in one query."""
    codes = {data.village_code}
    codes.update(district_of_nik(v) for v in [data.kk_number, *(m.nik for m in data.members)] if len(v) >= 6)
    return codes
