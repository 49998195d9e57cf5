"""Members of demo households: who lives there, their ages, schooling, work, names and NIK prefixes.

Everything is drawn for a whole batch at once. A household has one head, usually a spouse,
children whose ages fit their mother's, and sometimes a parent of the head, grandchildren, a
child's spouse or another relative. Poorer households have more children.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from core.demo.draws import (
    Bools,
    Floats,
    Ints,
    calendar,
    day_number,
    group_max,
    has_item,
    ordered_draw,
    weighted_choice,
)
from core.demo.names import FEMALE_GIVEN, FEMALE_SECOND, MALE_GIVEN, MALE_SECOND, MARGA
from core.demo.serials import prefixes
from core.foundation.enums import Disability, Education, Occupation, Relationship, Sex

# Members are listed in this order of relationship, oldest first within one.
ROLES: tuple[Relationship, ...] = (
    Relationship.HEAD,
    Relationship.SPOUSE,
    Relationship.CHILD,
    Relationship.CHILD_IN_LAW,
    Relationship.GRANDCHILD,
    Relationship.PARENT,
    Relationship.PARENT_IN_LAW,
    Relationship.OTHER_RELATIVE,
    Relationship.OTHER,
)
HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, PARENT, PARENT_IN_LAW, OTHER_RELATIVE, OTHER = range(len(ROLES))
BLOOD_ROLES = (HEAD, CHILD, GRANDCHILD, PARENT)  # share the head's clan name where families carry one
MARRIED_IN_ROLES = (SPOUSE, CHILD_IN_LAW, PARENT_IN_LAW, OTHER_RELATIVE, OTHER)

EDUCATION: tuple[Education, ...] = tuple(Education)  # none ... postgraduate
NONE, PRIMARY, JUNIOR_HIGH, SENIOR_HIGH, DIPLOMA, BACHELOR = range(6)
ADULT_EDUCATION_SHARES = (0.08, 0.33, 0.19, 0.28, 0.03, 0.085, 0.005)

OCCUPATIONS: tuple[Occupation, ...] = tuple(Occupation)
# Weights in OCCUPATIONS order: not working, student, housekeeping, farmer, fisher, laborer,
# trader, self-employed, private employee, civil servant, other.
OCCUPATION_MEN = np.array([0.04, 0, 0.01, 0.27, 0.03, 0.22, 0.10, 0.12, 0.15, 0.04, 0.02])
OCCUPATION_WOMEN = np.array([0.03, 0, 0.45, 0.11, 0.005, 0.08, 0.14, 0.07, 0.08, 0.03, 0.005])
OCCUPATION_ELDERLY = np.array([0.50, 0, 0.12, 0.20, 0.02, 0.04, 0.08, 0.03, 0.0, 0.0, 0.01])
OCCUPATION_WELFARE_EFFECT = np.array([-0.2, 0, 0.1, -0.5, -0.4, -0.4, 0.1, 0.2, 0.6, 0.9, 0])
OCCUPATION_URBAN_FACTOR = np.array([1, 1, 1, 0.15, 0.3, 1.1, 1.3, 1.2, 2.0, 1.3, 1])
WORKING_AGE, CIVIL_SERVICE_AGE, ELDERLY_AGE = 15, 18, 65
DAYS_PER_YEAR = 365.2425
WOMEN_DAY_OFFSET = 40  # a woman's NIK adds 40 to her birth day
CHILDREN_MEAN = 2.1  # children living at home, at average welfare


@dataclass(frozen=True, slots=True)
class HouseholdTraits:
    """Per household of a batch: what shapes its members."""

    welfare: Floats  # standardised log consumption per capita
    urban: Bools
    district: Ints  # the village's district code as a number
    regency_first: Ints  # where the regency's districts start in ``district_table``
    regency_size: Ints
    district_table: Ints
    clan_names: Bools  # the family passes on a marga
    single_name_share: Floats


@dataclass(frozen=True, slots=True)
class Members:
    """Members of a batch in household order; ``household`` indexes the batch's households."""

    household: Ints
    role: Ints
    female: Bools
    birth_date: list[date]
    birth_day: Ints  # days since 1970-01-01
    age: Ints
    name: list[str]
    nik_prefix: Ints  # district digits and DDMMYY (day + 40 for women) as one 12-digit number
    education: list[str]
    in_school: list[bool]
    occupation: list[str]
    disability: list[str]
    pregnant: list[bool]

    @property
    def relationship(self) -> list[str]:
        return [ROLES[r].value for r in self.role.tolist()]

    @property
    def sex(self) -> list[str]:
        return np.where(self.female, Sex.FEMALE.value, Sex.MALE.value).tolist()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class _Composition:
    household: Ints
    role: Ints
    female: Bools
    age: Ints


def _rounded(values: Floats) -> Ints:
    return np.rint(values).astype(np.int64)


def _compose(rng: np.random.Generator, welfare: Floats) -> _Composition:
    n = len(welfare)
    index = np.arange(n, dtype=np.int64)
    head_female = has_item(rng, -welfare, 0.15, 0.3)
    head_age = np.clip(_rounded(np.where(head_female, rng.normal(52, 13, n), rng.normal(45, 12, n))), 20, 90)

    has_spouse = rng.random(n) < np.where(head_female, 0.04, 0.88)
    gap = _rounded(rng.normal(4, 3, n))
    spouse_age = np.clip(np.where(head_female, head_age + gap, head_age - gap), 18, 95)

    mother_age = np.where(head_female, head_age, np.where(has_spouse, spouse_age, head_age - 4))
    oldest = np.minimum(mother_age - 19, 28)
    youngest = np.maximum(mother_age - 45, 0)
    room = np.maximum(oldest - youngest + 1, 0)
    children = np.minimum(rng.poisson(CHILDREN_MEAN * np.exp(-0.3 * welfare)), np.minimum((room + 1) // 2, 7))
    child_household = np.repeat(index, children)
    child_age = youngest[child_household] + np.floor(rng.random(len(child_household)) * room[child_household])
    child_age = child_age.astype(np.int64)
    eldest_child = group_max(child_household, child_age, n, -1)

    has_parent = (head_age <= 65) & (rng.random(n) < 0.08)
    in_law = has_spouse & (rng.random(n) < 0.35)
    parent_age = np.clip(head_age + _rounded(rng.normal(27, 4, n)), head_age + 17, 98)

    grandchildren = np.where((head_age >= 48) & (rng.random(n) < 0.12), 1 + (rng.random(n) < 0.4), 0)
    grandchild_household = np.repeat(index, grandchildren)
    grandchild_room = np.minimum(12, head_age - 42)[grandchild_household] + 1
    grandchild_age = np.floor(rng.random(len(grandchild_household)) * grandchild_room).astype(np.int64)

    has_child_in_law = (eldest_child >= 21) & (rng.random(n) < 0.2)
    child_in_law_age = np.maximum(eldest_child.astype(np.int64) + _rounded(rng.normal(0, 2, n)), 19)

    has_relative = rng.random(n) < 0.03
    relative_role = np.where(rng.random(n) < 0.8, OTHER_RELATIVE, OTHER)
    relative_age = rng.integers(5, 76, n)

    parts = (
        (index, np.full(n, HEAD), head_female, head_age),
        (index[has_spouse], np.full(int(has_spouse.sum()), SPOUSE), ~head_female[has_spouse], spouse_age[has_spouse]),
        (child_household, np.full(len(child_household), CHILD), rng.random(len(child_household)) < 0.49, child_age),
        (
            index[has_child_in_law],
            np.full(int(has_child_in_law.sum()), CHILD_IN_LAW),
            rng.random(int(has_child_in_law.sum())) < 0.5,
            child_in_law_age[has_child_in_law],
        ),
        (
            grandchild_household,
            np.full(len(grandchild_household), GRANDCHILD),
            rng.random(len(grandchild_household)) < 0.49,
            grandchild_age,
        ),
        (
            index[has_parent],
            np.where(in_law, PARENT_IN_LAW, PARENT)[has_parent],
            rng.random(int(has_parent.sum())) < 0.7,
            parent_age[has_parent],
        ),
        (
            index[has_relative],
            relative_role[has_relative],
            rng.random(int(has_relative.sum())) < 0.5,
            relative_age[has_relative],
        ),
    )
    household, role, female, age = (np.concatenate([part[i] for part in parts]) for i in range(4))
    order = np.lexsort((-age, role, household))
    return _Composition(
        household=household[order].astype(np.int64),
        role=role[order].astype(np.int64),
        female=female[order].astype(bool),
        age=age[order].astype(np.int64),
    )


def _birth_days(rng: np.random.Generator, age: Ints, as_of: date) -> tuple[Ints, Ints]:
    """Birth days (days since 1970) for people of ``age`` whole years on ``as_of``, and their exact ages."""
    days = np.floor((age + rng.random(len(age))) * DAYS_PER_YEAR).astype(np.int64)
    birth = day_number(as_of) - days
    year, month, day = calendar(birth)
    before_birthday = (month > as_of.month) | ((month == as_of.month) & (day > as_of.day))
    return birth, (as_of.year - year - before_birthday).astype(np.int64)


def _schooling(rng: np.random.Generator, age: Ints, welfare: Floats) -> tuple[Ints, Bools]:
    """Highest level attended and whether the person attends school now, fitting the age."""
    m = len(age)
    chance = rng.random(m)
    adult_signal = (0.8 * welfare - 0.5 * (age - 45) / 15) / np.hypot(0.8, 0.5)
    adult = ordered_draw(rng, adult_signal, ADULT_EDUCATION_SHARES, 0.75)
    cap = np.where(age < 22, SENIOR_HIGH, np.where(age < 24, DIPLOMA, len(EDUCATION) - 1))
    adult = np.minimum(adult, cap)

    primary = (age >= 7) & (age <= 12)
    junior = (age >= 13) & (age <= 15)
    senior = (age >= 16) & (age <= 18)
    college = (age >= 19) & (age <= 23)
    in_school = (
        (primary & (chance < 0.98))
        | (junior & (chance < np.clip(0.88 + 0.05 * welfare, 0.6, 0.98)))
        | (senior & (chance < np.clip(0.72 + 0.12 * welfare, 0.3, 0.95)))
        | (college & (chance < np.clip(0.2 + 0.15 * welfare, 0.02, 0.7)))
    )
    dropped_after_primary = np.where(rng.random(m) < 0.5, PRIMARY, JUNIOR_HIGH)
    college_level = np.where(rng.random(m) < 0.7, BACHELOR, DIPLOMA)
    education = np.select(
        [age < 7, primary, junior & in_school, junior, senior & in_school, senior, college & in_school],
        [NONE, PRIMARY, JUNIOR_HIGH, PRIMARY, SENIOR_HIGH, dropped_after_primary, college_level],
        default=adult,
    )
    return education.astype(np.int64), in_school


def _occupations(
    rng: np.random.Generator, age: Ints, female: Bools, in_school: Bools, welfare: Floats, urban: Bools
) -> Ints:
    base = np.where(
        (age >= ELDERLY_AGE)[:, None], OCCUPATION_ELDERLY, np.where(female[:, None], OCCUPATION_WOMEN, OCCUPATION_MEN)
    )
    weights = base * np.exp(np.outer(welfare, OCCUPATION_WELFARE_EFFECT))
    weights = weights * np.where(urban[:, None], OCCUPATION_URBAN_FACTOR, 1.0)
    weights[:, OCCUPATIONS.index(Occupation.CIVIL_SERVANT)] *= age >= CIVIL_SERVICE_AGE
    working = weighted_choice(rng, weights)
    not_working = OCCUPATIONS.index(Occupation.NOT_WORKING)
    student = OCCUPATIONS.index(Occupation.STUDENT)
    return np.select([in_school, age < WORKING_AGE], [student, not_working], default=working).astype(np.int64)


def _disabilities(rng: np.random.Generator, age: Ints) -> list[str]:
    chance = np.select([age < 18, age < 60], [0.01, 0.02], default=0.10)
    disabled = rng.random(len(age)) < chance
    severe = rng.random(len(age)) < 0.35
    codes = np.where(
        disabled, np.where(severe, Disability.SEVERE.value, Disability.MODERATE.value), Disability.NONE.value
    )
    return codes.tolist()  # type: ignore[no-any-return]


def _pregnancies(rng: np.random.Generator, age: Ints, female: Bools, role: Ints) -> Bools:
    """Married women of 15 to 49 only; most often between 20 and 34."""
    chance = np.select([age < 15, age < 20, age < 35, age < 45, age < 50], [0, 0.01, 0.07, 0.035, 0.01], default=0)
    married = np.isin(role, (SPOUSE, CHILD_IN_LAW))
    return female & married & (rng.random(len(age)) < chance)


def _names(
    rng: np.random.Generator, composition: _Composition, clan_names: Bools, single_name_share: Floats
) -> list[str]:
    m = len(composition.role)
    female = composition.female
    given = np.where(
        female,
        np.array(FEMALE_GIVEN, dtype=object)[rng.integers(len(FEMALE_GIVEN), size=m)],
        np.array(MALE_GIVEN, dtype=object)[rng.integers(len(MALE_GIVEN), size=m)],
    )
    second = np.where(
        female,
        np.array(FEMALE_SECOND, dtype=object)[rng.integers(len(FEMALE_SECOND), size=m)],
        np.array(MALE_SECOND, dtype=object)[rng.integers(len(MALE_SECOND), size=m)],
    )
    marga = np.array(MARGA, dtype=object)
    household_marga = marga[rng.integers(len(marga), size=len(clan_names))][composition.household]
    own_marga = marga[rng.integers(len(marga), size=m)]
    blood = np.isin(composition.role, BLOOD_ROLES)
    clan = clan_names[composition.household]
    second = np.where(clan, np.where(blood, household_marga, own_marga), second)
    single = ~clan & (rng.random(m) < single_name_share[composition.household])
    second = np.where(single, "", second)
    return [f"{g} {s}" if s else g for g, s in zip(given.tolist(), second.tolist(), strict=True)]


def _nik_prefixes(
    rng: np.random.Generator, composition: _Composition, traits: HouseholdTraits, birth_day: Ints
) -> Ints:
    """District of first registration and birth date digits: mostly the village's district, but some
    adults (more often those who married in) were registered in another district of the regency."""
    household = composition.household
    district = traits.district[household]
    move_chance = np.where(np.isin(composition.role, MARRIED_IN_ROLES), 0.15, 0.04)
    size = traits.regency_size[household]
    moved = (composition.age >= 17) & (rng.random(len(household)) < move_chance) & (size > 0)
    elsewhere = traits.regency_first[household] + np.floor(rng.random(len(household)) * size).astype(np.int64)
    district = np.where(moved, traits.district_table[np.minimum(elsewhere, len(traits.district_table) - 1)], district)
    return prefixes(district, birth_day, WOMEN_DAY_OFFSET * composition.female)


def draw_members(rng: np.random.Generator, traits: HouseholdTraits, as_of: date) -> Members:
    """The members of every household of a batch, as of ``as_of``."""
    composition = _compose(rng, traits.welfare)
    household = composition.household
    birth_day, age = _birth_days(rng, composition.age, as_of)
    welfare = traits.welfare[household]
    education, in_school = _schooling(rng, age, welfare)
    occupation = _occupations(rng, age, composition.female, in_school, welfare, traits.urban[household])
    return Members(
        household=household,
        role=composition.role,
        female=composition.female,
        birth_date=birth_day.astype("datetime64[D]").tolist(),
        birth_day=birth_day,
        age=age,
        name=_names(rng, composition, traits.clan_names, traits.single_name_share),
        nik_prefix=_nik_prefixes(rng, composition, traits, birth_day),
        education=[EDUCATION[e].value for e in education.tolist()],
        in_school=in_school.tolist(),
        occupation=[OCCUPATIONS[o].value for o in occupation.tolist()],
        disability=_disabilities(rng, age),
        pregnant=_pregnancies(rng, age, composition.female, composition.role).tolist(),
    )
