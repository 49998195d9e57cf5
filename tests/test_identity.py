"""NIK and KK structure rules."""

from __future__ import annotations

from datetime import date

import pytest

from core.enums import Sex
from core.identity import kk_problem, make_nik, nik_facts, nik_matches_person, nik_problem


def test_women_add_forty_to_the_birth_day() -> None:
    nik = make_nik("32.01.01", date(1985, 3, 7), Sex.FEMALE, 12)
    assert nik == "3201014703850012"
    facts = nik_facts(nik)
    assert (facts.district_code, facts.sex) == ("32.01.01", Sex.FEMALE)
    assert (facts.day, facts.month, facts.year_2digit) == (7, 3, 85)
    assert nik_matches_person(facts, Sex.FEMALE, date(1985, 3, 7)) is None


@pytest.mark.parametrize(
    ("nik", "reason"),
    [
        ("320101170580001", "16 digits"),
        ("32010117058000012", "16 digits"),
        ("32010117058O0001", "16 digits"),
        ("3201013202800001", "not a real birth date"),
        ("3201017205800001", "not a real birth date"),
        ("3201011705800000", "0000"),
        ("0000001705800001", "not a district code"),
    ],
)
def test_malformed_niks_say_why(nik: str, reason: str) -> None:
    problem = nik_problem(nik)
    assert problem is not None and reason in problem


def test_mismatch_with_person() -> None:
    facts = nik_facts(make_nik("32.01.01", date(1990, 12, 31), Sex.MALE, 1))
    assert "belongs to a male" in (nik_matches_person(facts, Sex.FEMALE, date(1990, 12, 31)) or "")
    assert "does not match birth date 1991-12-31" in (nik_matches_person(facts, Sex.MALE, date(1991, 12, 31)) or "")


def test_kk_numbers() -> None:
    assert kk_problem("3201011705800001") is None
    assert "16 digits" in (kk_problem("32010117") or "")
    assert "district code" in (kk_problem("3200001705800001") or "")
