"""``siks demo reference``: the Adminduk, Dapodik and BPJS extracts of the demo population, and their truth file.

The files are checked against the database the command read: every truth row describes exactly the
difference between the registry and the extract, and every row without a truth row is the registry's.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.demo import seed_demo
from core.demo.name_variants import NORMALISING_RULES, apply_variant, drops_words, normalise_name
from core.demo.reference import FILES, SCHOOL_AGES
from core.demo.seeding import reference_date
from core.foundation.enums import Sex
from core.households.identity import kk_problem, nik_agrees, nik_problem
from core.storage.records import HOUSEHOLDS, MEMBERS, REGIONS
from tests.cli_support import siks

HIGH_RATES = (
    "--deceased", "0.04", "--moved", "0.04", "--nik-typo", "0.06", "--name-variant", "0.15",
    "--date-swap", "0.3", "--other-household", "0.04", "--missing-from-dapodik", "0.2",
    "--dapodik-no-nik", "0.1", "--dapodik-nik-typo", "0.25",
)  # fmt: skip


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _reference(output: Path, *options: str) -> str:
    ran = siks("demo", "reference", "--output", str(output), *options)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


async def _registry(db: AsyncEngine) -> dict[str, dict[str, object]]:
    """Active members by NIK with their household's KK and village."""
    async with db.connect() as conn:
        rows = await conn.execute(
            select(
                MEMBERS.c.id,
                MEMBERS.c.nik,
                MEMBERS.c.name,
                MEMBERS.c.sex,
                MEMBERS.c.birth_date,
                MEMBERS.c.in_school,
                HOUSEHOLDS.c.kk_number,
                HOUSEHOLDS.c.village_code,
            ).join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
        )
        return {row.nik: dict(row._mapping) for row in rows}


async def _villages(db: AsyncEngine) -> set[str]:
    async with db.connect() as conn:
        return set((await conn.execute(select(REGIONS.c.code).where(REGIONS.c.level == 4))).scalars())


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _differs_by(kind: str, registry: str, reference: str) -> bool:
    diff = [i for i in range(16) if registry[i] != reference[i]]
    if kind == "nik_typo_digit":
        return len(diff) == 1
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and registry[diff[0]] == reference[diff[1]]
        and (registry[diff[1]] == reference[diff[0]])
    )


def _sex(value: str) -> str:
    return {"L": Sex.MALE.value, "P": Sex.FEMALE.value}[value]


async def test_same_seed_same_files_another_seed_other_files(db: AsyncEngine, tmp_path: Path) -> None:
    await seed_demo(db, 300, 2, progress=False)
    _reference(tmp_path / "a", "--seed", "7")
    _reference(tmp_path / "b", "--seed", "7")
    _reference(tmp_path / "c", "--seed", "8")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "truth.csv").read_bytes() != (tmp_path / "c" / "truth.csv").read_bytes()
    assert (tmp_path / "a" / "adminduk.csv").read_bytes() != (tmp_path / "c" / "adminduk.csv").read_bytes()


async def test_every_truth_row_is_the_difference_between_registry_and_extract(db: AsyncEngine, tmp_path: Path) -> None:
    await seed_demo(db, 700, 3, progress=False)
    out = tmp_path / "ref"
    printed = _reference(out, "--seed", "5", *HIGH_RATES)
    registry = await _registry(db)
    villages = await _villages(db)
    by_id = {str(m["id"]): m for m in registry.values()}
    adminduk = {row["nik"]: row for row in _read(out / "adminduk.csv")}
    dapodik = {row["nisn"]: row for row in _read(out / "dapodik.csv")}
    truth = _read(out / "truth.csv")
    kinds = Counter(row["kind"] for row in truth)
    for kind, count in kinds.items():
        assert f"{kind} {count}" in printed
    assert set(kinds) == {
        "deceased", "moved", "nik_typo_digit", "nik_typo_transposed", "name_variant", "birth_date_swap",
        "other_household", "not_in_dapodik", "dapodik_nik_missing", "not_in_registry",
    }  # fmt: skip
    assert len(adminduk) == len(_read(out / "adminduk.csv"))  # NIKs are unique in the extract
    kks = {m["kk_number"] for m in registry.values()}
    typo_of = {
        r["registry_nik"]: r["true_nik"]
        for r in truth
        if r["kind"].startswith("nik_typo") and r["source"] == "adminduk"
    }
    as_of = reference_date()
    explained: set[str] = set()  # Adminduk NIKs whose row differs from the registry, as the truth says
    invalid_typos = 0
    for row in truth:
        kind, source = row["kind"], row["source"]
        if kind == "not_in_registry":
            assert row["reference_key"] in adminduk and row["reference_key"] not in registry
            assert row["member_id"] == "" and row["true_nik"] == row["reference_key"]
            explained.add(row["reference_key"])
            continue
        member = by_id[row["member_id"]]
        assert member["nik"] == row["registry_nik"]
        if source == "adminduk":
            ref = adminduk[row["reference_key"]]
            assert row["reference_key"] == row["true_nik"]
            explained.add(row["true_nik"])
        if kind == "deceased":
            assert ref["status"] == "deceased" and ref["death_date"] == row["reference_value"]
            assert member["birth_date"] <= date.fromisoformat(ref["death_date"]) < as_of
        elif kind == "moved":
            assert ref["status"] == "moved" and ref["village_code"] == row["reference_value"] in villages
            assert row["registry_value"] == member["village_code"]
            assert ref["village_code"][:5] != member["village_code"][:5]  # another regency
        elif kind.startswith("nik_typo") and source == "adminduk":
            true, typed = row["true_nik"], row["registry_nik"]
            assert _differs_by(kind, typed, true), (kind, typed, true)
            assert nik_problem(true) is None and true[:12] == typed[:12] and row["nik_valid"] == "true"
            assert true not in registry and typed not in adminduk
        elif kind.startswith("nik_typo"):
            pupil = dapodik[row["reference_key"]]
            # the true NIK is Adminduk's (the registry's own unless the registry's is mistyped)
            assert pupil["nik"] == row["reference_value"] and row["true_nik"] == typo_of.get(
                member["nik"], member["nik"]
            )
            assert _differs_by(kind, row["true_nik"], pupil["nik"]), (kind, row["true_nik"], pupil["nik"])
            assert row["nik_valid"] == ("true" if nik_problem(pupil["nik"]) is None else "false")
            invalid_typos += row["nik_valid"] == "false"
        elif kind == "name_variant":
            assert ref["full_name"] == row["reference_value"] != row["registry_value"] == member["name"]
            if row["rule"] in NORMALISING_RULES:
                assert normalise_name(ref["full_name"]) == normalise_name(str(member["name"])), row
            else:
                assert drops_words(str(member["name"]), ref["full_name"]), row
        elif kind == "birth_date_swap":
            born = member["birth_date"]
            assert ref["birth_date"] == row["reference_value"] == date(born.year, born.day, born.month).isoformat()
            assert born.day != born.month
        elif kind == "other_household":
            assert (
                ref["kk"] == row["reference_value"] in kks and ref["kk"] != member["kk_number"] == row["registry_value"]
            )
        elif kind == "not_in_dapodik":
            assert member["in_school"] and _age(member["birth_date"], as_of) in SCHOOL_AGES
            assert row["true_nik"] == typo_of.get(member["nik"], member["nik"])
            born = member["birth_date"].isoformat()
            assert all(p["nik"] != row["true_nik"] for p in dapodik.values())
            assert not any(p["name"] == member["name"] and p["birth_date"] == born for p in dapodik.values())
        elif kind == "dapodik_nik_missing":
            pupil = dapodik[row["reference_key"]]
            assert pupil["nik"] == "" and pupil["name"] == member["name"]
            assert pupil["birth_date"] == member["birth_date"].isoformat()
        else:
            pytest.fail(f"unexpected kind {kind}")
    assert invalid_typos > 0  # some Dapodik typos break the NIK's structure, and say so
    # Every other Adminduk row is the registry's member as it is.
    for nik, ref in adminduk.items():
        if nik in explained:
            continue
        member = registry[nik]
        assert (ref["full_name"], ref["birth_date"], _sex(ref["sex"]), ref["village_code"], ref["kk"]) == (
            member["name"], member["birth_date"].isoformat(), member["sex"], member["village_code"], member["kk_number"]
        )  # fmt: skip
        assert ref["status"] == "alive" and ref["death_date"] == ""
    # Every registry member is in Adminduk, under the true NIK.
    assert {typo_of.get(nik, nik) for nik in registry} <= set(adminduk)


async def test_rates_are_honoured(db: AsyncEngine, tmp_path: Path) -> None:
    await seed_demo(db, 1500, 4, progress=False)
    out = tmp_path / "ref"
    _reference(out, "--seed", "3", *HIGH_RATES)
    registry = await _registry(db)
    truth = Counter((row["kind"], row["source"]) for row in _read(out / "truth.csv"))
    members = len(registry)
    as_of = reference_date()
    swappable = sum(
        1 for m in registry.values() if m["birth_date"].day <= 12 and m["birth_date"].day != m["birth_date"].month
    )
    schooled = sum(1 for m in registry.values() if m["in_school"] and _age(m["birth_date"], as_of) in SCHOOL_AGES)

    def near(observed: int, n: int, rate: float) -> None:
        expected = n * rate
        assert abs(observed - expected) <= 4 * math.sqrt(n * rate * (1 - rate)) + 2, (observed, expected)

    near(truth["deceased", "adminduk"], members, 0.04)
    near(truth["moved", "adminduk"], members, 0.04)
    near(truth["nik_typo_digit", "adminduk"] + truth["nik_typo_transposed", "adminduk"], members, 0.06)
    near(truth["name_variant", "adminduk"], members, 0.15)
    near(truth["other_household", "adminduk"], members, 0.04)
    near(truth["birth_date_swap", "adminduk"], swappable, 0.3)
    near(truth["not_in_dapodik", "dapodik"], schooled, 0.2)
    near(truth["not_in_registry", "adminduk"], members, 0.10)
    adminduk = _read(out / "adminduk.csv")
    assert len(adminduk) == members + truth["not_in_registry", "adminduk"]


async def test_codes_are_valid_and_extracts_fit_the_population(db: AsyncEngine, tmp_path: Path) -> None:
    await seed_demo(db, 500, 6, progress=False)
    out = tmp_path / "ref"
    _reference(out, "--dapodik-nik-typo", "0.5")
    registry = await _registry(db)
    villages = await _villages(db)
    truth = _read(out / "truth.csv")
    broken = {r["reference_value"] for r in truth if r["source"] == "dapodik" and r["nik_valid"] == "false"}
    adminduk = _read(out / "adminduk.csv")
    for row in adminduk:
        assert nik_problem(row["nik"]) is None, row
        assert kk_problem(row["kk"]) is None, row
        assert row["village_code"] in villages
        assert nik_agrees(row["nik"], Sex(_sex(row["sex"])), date.fromisoformat(row["birth_date"])) or any(
            r["kind"] == "birth_date_swap" and r["reference_key"] == row["nik"] for r in truth
        )
        assert row["status"] in ("alive", "deceased", "moved") and row["birth_place"]
    as_of = reference_date()
    grades = {"SD": range(1, 7), "SMP": range(7, 10), "SMA": range(10, 13), "SMK": range(10, 14)}
    pupils = _read(out / "dapodik.csv")
    assert pupils
    for row in pupils:
        assert len(row["nisn"]) == 10 and row["nisn"].isdigit() and len(row["npsn"]) == 8
        assert row["nik"] == "" or nik_problem(row["nik"]) is None or row["nik"] in broken
        assert _age(date.fromisoformat(row["birth_date"]), as_of) in SCHOOL_AGES
        assert int(row["grade"]) in grades[row["level"]]
        assert row["enrolled"] in ("true", "false") and row["semester"] == f"{as_of.year}-1"
        assert (row["attendance_pct"] != "") == (row["enrolled"] == "true")
    assert broken  # at half the rows mistyped, some typos break the structure
    bpjs = _read(out / "bpjs.csv")
    known = {row["nik"] for row in adminduk}
    assert {row["segment"] for row in bpjs} == {"PBI-APBN", "PBI-APBD", "OTHER"}
    for row in bpjs:
        assert row["nik"] in known and len(row["card_number"]) == 13 and row["active"] in ("true", "false")
    pbi_kks = {registry[r["nik"]]["kk_number"] for r in bpjs if r["segment"] != "OTHER" and r["nik"] in registry}
    async with db.connect() as conn:
        households = await conn.execute(select(HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.has_motorcycle,
                                               HOUSEHOLDS.c.has_refrigerator, HOUSEHOLDS.c.has_car))  # fmt: skip
        assets = {kk: int(a) + int(b) + int(c) for kk, a, b, c in households}
    assert pbi_kks and all(assets[kk] <= 1 for kk in pbi_kks)  # PBI goes to the poorer households only


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--deceased", "-0.1"), "--deceased must be between 0 and 1 (got -0.1)"),
        (("--pbi", "1.5"), "--pbi must be between 0 and 1"),
        (("--deceased", "0.6", "--moved", "0.5"), "add up to 1.17"),
    ],
)
async def test_bad_rates_are_refused(db: AsyncEngine, tmp_path: Path, options: tuple[str, ...], message: str) -> None:
    await seed_demo(db, 20, 1, progress=False)
    ran = siks("demo", "reference", "--output", str(tmp_path / "out"), *options)
    assert ran.returncode == 2 and message in ran.stderr, ran.stderr
    assert not (tmp_path / "out").exists()


async def test_output_folder_rules(db: AsyncEngine, tmp_path: Path) -> None:
    await seed_demo(db, 20, 1, progress=False)
    missing_parent = siks("demo", "reference", "--output", str(tmp_path / "no" / "such"))
    assert missing_parent.returncode == 2 and "does not exist; create it first" in missing_parent.stderr
    (tmp_path / "file").write_text("x")
    a_file = siks("demo", "reference", "--output", str(tmp_path / "file"))
    assert a_file.returncode == 2 and "is a file, not a folder" in a_file.stderr
    _reference(tmp_path / "out")
    again = siks("demo", "reference", "--output", str(tmp_path / "out"))
    assert again.returncode == 2 and "already holds adminduk.csv" in again.stderr and "--overwrite" in again.stderr
    _reference(tmp_path / "out", "--overwrite", "--seed", "2")
    assert not list((tmp_path / "out").glob("*.part"))


async def test_an_empty_registry_is_refused_and_leaves_no_files(db: AsyncEngine, tmp_path: Path) -> None:
    ran = siks("demo", "reference", "--output", str(tmp_path / "out"))
    assert ran.returncode == 2 and "no active members" in ran.stderr and "siks demo" in ran.stderr
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "female", "variant", "rule"),
    [
        ("Muhammad Suharto", False, "Moch. Soeharto", "given_name_form"),
        ("Siti Aminah", True, "Hj. St. Aminah", "title"),
        ("Joko Santoso", False, "Djoko Santoso", "old_spelling"),
        ("Cahyo Pratama", False, "Tjahyo Pratama", "old_spelling"),
        ("Ahmad Fauzan", False, "Achmad Fauzan, S.Pd.", "title"),
        ("Rina Lestari", True, "Rinna Lestari", "doubled_letter"),
    ],
)
def test_name_variants_normalise_back(name: str, female: bool, variant: str, rule: str) -> None:
    assert normalise_name(variant) == normalise_name(name)
    assert normalise_name(name) != normalise_name("Budi Santoso")


def test_every_rule_applies_and_word_dropping_rules_are_recognised() -> None:
    seen = set()
    for start in range(200):
        draws = iter(range(start, start + 100))
        result = apply_variant("Muhammad Joko Santoso", False, lambda n, d=draws: next(d) % n)  # type: ignore[misc]
        assert result is not None
        seen.add(result.rule)
        if result.rule in NORMALISING_RULES:
            assert normalise_name(result.name) == normalise_name("Muhammad Joko Santoso"), result
        else:
            assert drops_words("Muhammad Joko Santoso", result.name), result
    assert seen == {"given_name_form", "old_spelling", "doubled_letter", "title", "middle_name", "one_word"}
