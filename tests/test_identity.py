"""NIK and KK structure rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.foundation.enums import Sex
from core.households.identity import (
    kk_problem,
    make_nik,
    nik_agrees,
    nik_facts,
    nik_matches_person,
    nik_problem,
    nik_settled,
)
from core.regions.codes import district_of_nik, level_number
from core.regions.loader import lokal_regions


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


_DISTRICTS = frozenset(code for code, _ in lokal_regions() if level_number(code) == 3)
_BORN = st.dates(date(1900, 1, 1), date(2026, 12, 31))


@st.composite
def _people_with_near_niks(draw: st.DrawFn) -> tuple[str, Sex, date]:
    """A person and a NIK made for them, then perhaps spoilt: a digit changed, a 00 code, serial 0000, any text."""
    sex, born = draw(st.sampled_from(Sex)), draw(_BORN)
    district = draw(st.sampled_from(["32.01.01", "11.01.01", "32.00.01", "32.01.00", "00.01.01", "99.01.01"]))
    nik = make_nik(district, born, sex, draw(st.integers(0, 9999)))
    spoil = draw(st.sampled_from(["none", "digit", "text"]))
    if spoil == "digit":
        place = draw(st.integers(0, 15))
        nik = nik[:place] + draw(st.sampled_from("0123456789")) + nik[place + 1 :]
    elif spoil == "text":
        nik = draw(st.one_of(st.text(alphabet="0123456789", min_size=16, max_size=16), st.text(max_size=18)))
    return nik, sex, born


@given(_people_with_near_niks())
def test_the_bulk_shortcut_only_passes_niks_the_full_checks_pass(case: tuple[str, Sex, date]) -> None:
    nik, sex, born = case
    if nik_agrees(nik, sex, born) and district_of_nik(nik) in _DISTRICTS:
        assert nik_problem(nik) is None
        assert nik_matches_person(nik_facts(nik), sex, born) is None
    elif len(nik) >= 6 and district_of_nik(nik) in _DISTRICTS:  # and it settles all the others
        assert nik_problem(nik) is not None or nik_matches_person(nik_facts(nik), sex, born) is not None


@given(st.dates(date(1900, 1, 1), date(2026, 12, 31)), st.sampled_from(Sex), st.integers(1, 9999))
def test_the_bulk_shortcut_settles_every_well_formed_nik(born: date, sex: Sex, serial: int) -> None:
    assert nik_agrees(make_nik("32.01.01", born, sex, serial), sex, born)


def test_digits_of_other_scripts_are_no_nik() -> None:
    assert nik_problem("٣٢٠١٠١١٧٠٥٨٠٠٠٠١") == "must be exactly 16 digits"
    assert kk_problem("٣٢٠١٠١١٧٠٥٨٠٠٠٠١") == "must be exactly 16 digits"


_DISTRICTS = frozenset(code for code, _name in lokal_regions() if level_number(code) == 3)


@given(
    district=st.sampled_from(sorted(_DISTRICTS)[:400]) | st.just("32.99.99"),
    day=st.integers(0, 72),
    month=st.integers(0, 13),
    year=st.integers(0, 99),
    serial=st.integers(0, 9999),
)
def test_a_settled_nik_always_passes_the_full_check(
    district: str, day: int, month: int, year: int, serial: int
) -> None:
    """The bulk shortcut never lets through a NIK the full check (lokal-id's parser) refuses."""
    nik = f"{district.replace('.', '')}{day:02d}{month:02d}{year:02d}{serial:04d}"
    if nik_settled(nik, _DISTRICTS):
        assert nik_problem(nik) is None, nik


def test_the_shortcut_settles_plain_niks_and_leaves_the_rest_to_the_full_check() -> None:
    assert nik_settled("3201014507850001", _DISTRICTS)  # a woman born 5 July 1985
    assert not nik_settled("3201012902840001", _DISTRICTS)  # 29 February: the year decides
    assert not nik_settled("3201013102850001", _DISTRICTS)  # 31 February
    assert not nik_settled("3201011507850000", _DISTRICTS)  # serial 0000
    assert not nik_settled("3299991507850001", _DISTRICTS)  # no such district
