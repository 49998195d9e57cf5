"""NIK and KK numbers: structure checks (the NIK parser is ``lokal-id``'s)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from core.foundation.enums import Sex
from core.regions.codes import district_of_nik

_SIXTEEN = re.compile(r"[0-9]{16}")  # ASCII digits only: \d also takes other scripts' digits


@dataclass(frozen=True, slots=True)
class NikFacts:
    """What a NIK says about its holder."""

    district_code: str
    sex: Sex
    day: int
    month: int
    year_2digit: int


def nik_problem(nik: str) -> str | None:
    """Why ``nik`` cannot be a NIK, or None."""
    if not _SIXTEEN.fullmatch(nik):
        return "must be exactly 16 digits"
    from lokal.nik import parse_nik  # here: bulk checks pass most NIKs with nik_agrees, and load it only for the rest

    info = parse_nik(nik)
    for issue in info.errors:
        if issue.code == "birth_date":
            return "digits 7-12 are not a real birth date (DDMMYY, day + 40 for women)"
        if issue.code == "serial":
            return "the serial number (last 4 digits) cannot be 0000"
        if issue.code in ("province", "wilayah"):
            return f"digits 1-6 ({nik[:6]}) are not a district code"
    return None


def nik_settled(nik: str, districts: frozenset[str]) -> bool:
    """Whether ``nik`` certainly passes ``nik_problem``, decided without parsing it: 16 ASCII digits, a
    district among ``districts`` (the loaded ones), a real day and month of birth, a serial other than
    0000. False only means "ask ``nik_problem``" (29 February, for one, depends on the year); bulk
    checks take this shortcut for the many NIKs that settle here."""
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit() or nik[12:] == "0000":
        return False
    if district_of_nik(nik) not in districts:
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    day = day - 40 if day > 40 else day
    if not (1 <= month <= 12 and 1 <= day <= 31) or (month == 2 and day > 28):
        return False
    return day <= 28 or day <= (30 if month in (4, 6, 9, 11) else 31)


def nik_agrees(nik: str, sex: Sex, birth_date: date) -> bool:
    """Whether ``nik`` is plainly this person's: 16 ASCII digits, no 00 regency or district, the
    person's birth digits (day + 40 for women), a serial other than 0000.

    Such a NIK whose district exists passes ``nik_problem`` (its birth digits are a real date) and
    ``nik_matches_person``; bulk checks take this shortcut, ask whether the district exists, and
    run the full checks only for the NIKs it does not settle.
    """
    day = birth_date.day + 40 if sex is Sex.FEMALE else birth_date.day
    return (
        len(nik) == 16
        and nik.isascii()
        and nik.isdigit()
        and nik[2:4] != "00"
        and nik[4:6] != "00"
        and nik[12:] != "0000"
        and nik[6:12] == f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
    )


def nik_facts(nik: str) -> NikFacts:
    """Facts of a NIK that passed ``nik_problem``."""
    day = int(nik[6:8])
    sex = Sex.FEMALE if day > 40 else Sex.MALE
    return NikFacts(
        district_code=district_of_nik(nik),
        sex=sex,
        day=day - 40 if day > 40 else day,
        month=int(nik[8:10]),
        year_2digit=int(nik[10:12]),
    )


def nik_matches_person(facts: NikFacts, sex: Sex, birth_date: date) -> str | None:
    """Why the NIK disagrees with the person's sex or birth date, or None."""
    if facts.sex != sex:
        return f"the NIK belongs to a {facts.sex.value} (women's NIKs add 40 to the birth day) but sex is {sex.value}"
    if (facts.day, facts.month, facts.year_2digit) != (birth_date.day, birth_date.month, birth_date.year % 100):
        return (
            f"the NIK's birth date {facts.day:02d}-{facts.month:02d}-..{facts.year_2digit:02d} "
            f"does not match birth date {birth_date.isoformat()}"
        )
    return None


def kk_problem(kk: str) -> str | None:
    """Why ``kk`` cannot be a family card number, or None."""
    if not _SIXTEEN.fullmatch(kk):
        return "must be exactly 16 digits"
    if kk[2:4] == "00" or kk[4:6] == "00":
        return f"digits 1-6 ({kk[:6]}) are not a district code"
    return None


def kk_from_other_district(kk_number: str, village_code: str) -> bool:
    """The family card (KK) was issued in another district than the household's village's.

    Allowed: a family keeps its card while it lives away from the address on it (domisili), until
    it moves officially and gets a new card at the new address; the registry records where the
    family lives. Shown as ``Household.kkFromOtherDistrict`` because it is also what a mistyped
    or made-up KK number looks like: worth a check in the field.
    """
    return district_of_nik(kk_number) != village_code.rsplit(".", 1)[0]


def make_nik(district_code: str, birth_date: date, sex: Sex, serial: int) -> str:
    """The NIK a person with these facts would get (for demo data and tests)."""
    day = birth_date.day + (40 if sex is Sex.FEMALE else 0)
    return f"{district_code.replace('.', '')}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"
