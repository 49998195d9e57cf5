"""``siks demo reference``: the other agencies' extracts for the demo population, with known discrepancies.

Reads the active members of the registry (with their households) from the database in NIK order,
streaming, and writes, in one pass and constant memory:

- ``adminduk.csv`` — the civil registry: every member (under the true NIK), plus about
  ``extra_people`` as many people the registry does not hold;
- ``dapodik.csv`` — the school registry: school-age children (6-18) with their enrolment;
- ``bpjs.csv`` — health-insurance membership: PBI rows for part of the poorer households, and
  other members' non-PBI memberships;
- ``truth.csv`` — every discrepancy injected (``TRUTH_HEADER``), so a matcher's precision and
  recall can be measured.

Every random choice is a hash of the seed, a purpose and a stable key (NIK or KK number), so the
same population and seed give the same extracts on SQLite and PostgreSQL (truth.csv names
the database's member ids).

Memory does not grow with the population: only the members of one NIK prefix (district, birth date,
sex) are held at a time. Measured on a 100,000-household demo (401,095 members): 25 s and 231 MB peak
RSS on SQLite (of which up to 64 MB is SQLite's page cache, which fills as more is read; 169 MB on an
8,000-member demo), 52 s and 171 MB on PostgreSQL.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.demo.name_variants import apply_variant
from core.demo.names import FEMALE_GIVEN, FEMALE_SECOND, MALE_GIVEN, MALE_SECOND
from core.foundation.enums import RecordStatus, Sex
from core.households.identity import nik_problem
from core.storage.records import HOUSEHOLDS, MEMBERS, REGIONS

ADMINDUK_HEADER = (
    "nik", "kk", "full_name", "birth_place", "birth_date", "sex", "village_code", "status", "death_date", "updated_at",
)  # fmt: skip
DAPODIK_HEADER = (
    "nisn", "nik", "name", "birth_date", "sex", "npsn", "level", "grade", "enrolled", "attendance_pct", "semester",
)  # fmt: skip
BPJS_HEADER = ("nik", "card_number", "segment", "active")
TRUTH_HEADER = (
    "kind", "source", "member_id", "registry_nik", "reference_key", "true_nik",
    "registry_value", "reference_value", "rule", "nik_valid",
)  # fmt: skip
FILES = ("adminduk.csv", "dapodik.csv", "bpjs.csv", "truth.csv")

# Discrepancy kinds in truth.csv.
DECEASED = "deceased"  # Adminduk: died, the registry still lists the member
MOVED = "moved"  # Adminduk: moved to a village of another regency
NIK_TYPO_DIGIT = "nik_typo_digit"  # one digit differs from the true NIK
NIK_TYPO_TRANSPOSED = "nik_typo_transposed"  # two neighbouring digits swapped
NAME_VARIANT = "name_variant"  # the name as another agency spells it (rule column)
BIRTH_DATE_SWAP = "birth_date_swap"  # day and month swapped
OTHER_HOUSEHOLD = "other_household"  # Adminduk puts the member on another registry household's KK
NOT_IN_DAPODIK = "not_in_dapodik"  # a child the registry says is in school, missing from Dapodik
DAPODIK_NIK_MISSING = "dapodik_nik_missing"  # the pupil's NIK column is empty
NOT_IN_REGISTRY = "not_in_registry"  # an Adminduk person the registry does not hold

SCHOOL_AGES = range(6, 19)
SERIAL_CEILING = 9000  # registry serials count up from 0001; people outside it get 9000 upward
PBI_APBD_SHARE = 0.2
PBI_INACTIVE_SHARE = 0.03
_ASSETS = ("has_refrigerator", "has_air_conditioner", "has_television", "has_computer", "has_motorcycle", "has_car")


class ReferenceRefused(ValueError):
    """The options or the database do not allow writing the extracts (the message says why)."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Shares of members (or of the group named) that get each discrepancy or property."""

    deceased: float = 0.01
    moved: float = 0.01
    nik_typo: float = 0.01  # half one digit wrong, half two digits transposed
    name_variant: float = 0.05
    date_swap: float = 0.005  # of members whose birth day is 12 or less (else the swap is no date)
    other_household: float = 0.005
    extra_people: float = 0.10  # Adminduk people not in the registry, per member
    missing_from_dapodik: float = 0.05  # of school-age children the registry says are in school
    dapodik_no_nik: float = 0.10  # of Dapodik rows
    dapodik_nik_typo: float = 0.01  # of Dapodik rows with a NIK; some break the NIK's structure
    pbi: float = 0.60  # of the poorer households
    bpjs_other: float = 0.30  # of the other members: a non-PBI membership

    def problems(self) -> list[str]:
        found = [
            f"--{f.name.replace('_', '-')} must be between 0 and 1 (got {getattr(self, f.name)})"
            for f in fields(self)
            if not 0 <= getattr(self, f.name) <= 1
        ]
        civil = self.deceased + self.moved + self.nik_typo + self.name_variant + self.date_swap + self.other_household
        if not found and civil > 1:
            found.append(
                "the civil-registry rates (deceased, moved, nik-typo, name-variant, date-swap, other-household) "
                f"add up to {civil:g}; each member gets at most one, so they must add up to 1 or less"
            )
        return found


DEFAULT_RATES = Rates()


@dataclass(slots=True)
class ReferenceResult:
    adminduk: int = 0
    dapodik: int = 0
    bpjs: int = 0
    members: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Member:
    id: int
    nik: str
    name: str
    female: bool
    birth_date: date
    in_school: bool
    kk: str
    village: str
    poorer: bool


class _Draws:
    """Uniform numbers from the seed, a purpose and a key: the same for the same inputs, in any order."""

    def __init__(self, seed: int) -> None:
        self.seed = seed.to_bytes(8, "big", signed=False)

    def __call__(self, purpose: str, key: str) -> float:
        digest = hashlib.blake2b(f"{purpose}|{key}".encode(), digest_size=8, key=self.seed).digest()
        return int.from_bytes(digest, "big") / 2**64

    def picker(self, purpose: str, key: str) -> Callable[[int], int]:
        count = iter(range(1_000_000))

        def pick(n: int) -> int:
            return int(self(f"{purpose}{next(count)}", key) * n)

        return pick


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse an output that cannot take the files: no parent folder, a file in the way, earlier extracts."""
    if output.exists() and not output.is_dir():
        raise ReferenceRefused(f"{output} is a file, not a folder")
    if not output.exists() and not output.parent.is_dir():
        raise ReferenceRefused(f"the folder {output.parent} does not exist; create it first")
    if output.is_dir() and not overwrite:
        present = [name for name in FILES if (output / name).exists()]
        if present:
            raise ReferenceRefused(
                f"{output} already holds {', '.join(present)}; choose an empty folder or pass --overwrite"
            )


def typo_digit(nik: str, positions: range, pick: Callable[[int], int]) -> str:
    position = positions[pick(len(positions))]
    digit = "0123456789".replace(nik[position], "")[pick(9)]
    return nik[:position] + digit + nik[position + 1 :]


def typo_transposed(nik: str, positions: range, pick: Callable[[int], int]) -> str | None:
    """Two neighbouring different digits of ``positions`` swapped, or None if all neighbours are equal."""
    pairs = [p for p in positions[:-1] if nik[p] != nik[p + 1]]
    if not pairs:
        return None
    p = pairs[pick(len(pairs))]
    return nik[:p] + nik[p + 1] + nik[p] + nik[p + 2 :]


def _swap(day: date) -> date | None:
    if day.day > 12 or day.day == day.month:
        return None
    return date(day.year, day.day, day.month)


def _sex(female: bool) -> str:
    return "P" if female else "L"


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class _Writer:
    def __init__(self, output: Path) -> None:
        output.mkdir(exist_ok=True)
        self.paths = [output / name for name in FILES]
        self.handles: list[TextIO] = [open(f"{p}.part", "w", newline="", encoding="utf-8") for p in self.paths]  # noqa: SIM115  (closed in close())
        self.adminduk, self.dapodik, self.bpjs, self.truth = (csv.writer(h, lineterminator="\n") for h in self.handles)
        for writer, header in zip(
            (self.adminduk, self.dapodik, self.bpjs, self.truth),
            (ADMINDUK_HEADER, DAPODIK_HEADER, BPJS_HEADER, TRUTH_HEADER),
            strict=True,
        ):
            writer.writerow(header)

    def close(self, keep: bool) -> None:
        for handle, path in zip(self.handles, self.paths, strict=True):
            handle.close()
            if keep:
                os.replace(f"{path}.part", path)
            else:
                os.unlink(f"{path}.part")


class ReferenceGenerator:
    """One pass over the registry's members in NIK order, writing the four files."""

    def __init__(
        self, seed: int, rates: Rates, as_of: date, villages: list[str], regency_names: dict[str, str]
    ) -> None:
        self.draw = _Draws(seed)
        self.rates = rates
        self.as_of = as_of
        self.semester = f"{as_of.year}-{1 if as_of.month <= 6 else 2}"
        self.villages = villages
        self.regency_names = regency_names
        self.result = ReferenceResult()
        self._nisn = 0
        self._card = 0
        self._last_kk: str | None = None  # the previous household's KK, for people on two cards

    def write_group(self, out: _Writer, group: list[_Member]) -> None:
        """Members sharing a 12-digit NIK prefix (district, birth date, sex): their serials are known."""
        taken = {m.nik for m in group}
        extras = 0
        for member in group:
            self.result.members += 1
            true_nik = self._adminduk(out, member, taken)
            self._dapodik(out, member, true_nik)
            self._bpjs(out, member, true_nik)
            if self.draw("extra", member.nik) < self.rates.extra_people:
                extras += 1
                self._extra_person(out, member, SERIAL_CEILING + extras)
            if member.kk != self._last_kk:
                self._last_kk = member.kk

    def _truth(self, out: _Writer, kind: str, source: str, member: _Member | None, **values: Any) -> None:
        self.result.kinds[kind] = self.result.kinds.get(kind, 0) + 1
        row = {"kind": kind, "source": source, "member_id": member.id if member else "",
               "registry_nik": member.nik if member else "", **values}  # fmt: skip
        out.truth.writerow([row.get(name, "") for name in TRUTH_HEADER])

    def _adminduk(self, out: _Writer, member: _Member, taken: set[str]) -> str:
        r, key, draw = self.rates, member.nik, self.draw
        nik, kk, name, born, village = member.nik, member.kk, member.name, member.birth_date, member.village
        status, death = "alive", ""
        updated = self.as_of - timedelta(days=int(draw("updated", key) * 5 * 365) + 1)
        u = draw("civil", key)
        cuts = [r.deceased, r.moved, r.nik_typo, r.name_variant, r.date_swap, r.other_household]
        bounds = [sum(cuts[: i + 1]) for i in range(len(cuts))]
        if u < bounds[0]:
            died = max(born, self.as_of - timedelta(days=1 + int(draw("death", key) * 365)))
            status, death, updated = "deceased", died.isoformat(), died
            self._truth(out, DECEASED, "adminduk", member, reference_key=nik, true_nik=nik, reference_value=death)
        elif u < bounds[1]:
            village = self._elsewhere(member.village, key)
            status, updated = "moved", self.as_of - timedelta(days=1 + int(draw("move", key) * 365))
            self._truth(out, MOVED, "adminduk", member, reference_key=nik, true_nik=nik,
                        registry_value=member.village, reference_value=village)  # fmt: skip
        elif u < bounds[2]:
            nik = self._registry_typo(out, member, taken)
        elif u < bounds[3]:
            variant = apply_variant(name, member.female, draw.picker("name", key))
            if variant is not None:
                name = variant.name
                self._truth(out, NAME_VARIANT, "adminduk", member, reference_key=nik, true_nik=nik,
                            registry_value=member.name, reference_value=name, rule=variant.rule)  # fmt: skip
        elif u < bounds[4]:
            swapped = _swap(born)
            if swapped is not None:
                born = swapped
                self._truth(out, BIRTH_DATE_SWAP, "adminduk", member, reference_key=nik, true_nik=nik,
                            registry_value=member.birth_date.isoformat(), reference_value=born.isoformat())  # fmt: skip
        elif u < bounds[5] and self._last_kk is not None and self._last_kk != member.kk:
            kk = self._last_kk
            self._truth(out, OTHER_HOUSEHOLD, "adminduk", member, reference_key=nik, true_nik=nik,
                        registry_value=member.kk, reference_value=kk)  # fmt: skip
        out.adminduk.writerow(
            [nik, kk, name, self._birth_place(nik), born.isoformat(), _sex(member.female), village, status, death,
             updated.isoformat()]
        )  # fmt: skip
        self.result.adminduk += 1
        return nik

    def _registry_typo(self, out: _Writer, member: _Member, taken: set[str]) -> str:
        """The registry holds a mistyped NIK: Adminduk has the true one, a valid NIK of the same district and
        birth date (a serial the registry's group does not use, below the ceiling). The member's own NIK if
        none fits."""
        pick = self.draw.picker("typo", member.nik)
        transposed = pick(2) == 1
        serial = range(12, 16)
        for attempt in range(8):
            true = typo_transposed(member.nik, serial, pick) if transposed else typo_digit(member.nik, serial, pick)
            if true is None or attempt == 4:
                transposed = not transposed
                continue
            if true not in taken and 0 < int(true[12:]) < SERIAL_CEILING:
                taken.add(true)
                kind = NIK_TYPO_TRANSPOSED if transposed else NIK_TYPO_DIGIT
                self._truth(out, kind, "adminduk", member, reference_key=true, true_nik=true,
                            registry_value=member.nik, reference_value=true, nik_valid="true")  # fmt: skip
                return true
        return member.nik

    def _elsewhere(self, village: str, key: str) -> str:
        """A village of another regency."""
        index = int(self.draw("where", key) * len(self.villages))
        regency = village[:5]
        for step in range(len(self.villages)):
            candidate = self.villages[(index + step) % len(self.villages)]
            if candidate[:5] != regency:
                return candidate
        return village

    def _birth_place(self, nik: str) -> str:
        return self.regency_names.get(f"{nik[0:2]}.{nik[2:4]}", "")

    def _dapodik(self, out: _Writer, member: _Member, true_nik: str) -> None:
        age = _age(member.birth_date, self.as_of)
        if age not in SCHOOL_AGES:
            return
        r, key, draw = self.rates, member.nik, self.draw
        if member.in_school and draw("dapodik", key) < r.missing_from_dapodik:
            self._truth(out, NOT_IN_DAPODIK, "dapodik", member, true_nik=true_nik)
            return
        if not member.in_school and draw("dropout", key) < 0.5:
            return  # never registered at a school: the registry and Dapodik agree
        self._nisn += 1
        nisn = f"{member.birth_date.year % 1000:03d}{self._nisn:07d}"
        nik = true_nik
        if draw("pupil-nik", key) < r.dapodik_no_nik:
            nik = ""
            self._truth(out, DAPODIK_NIK_MISSING, "dapodik", member, reference_key=nisn, true_nik=true_nik)
        elif draw("pupil-typo", key) < r.dapodik_nik_typo:
            pick = draw.picker("pupil-typo", key)
            positions = range(6, 16)  # birth digits and serial: some results are no NIK at all
            transposed = pick(2) == 1
            typo = typo_transposed(true_nik, positions, pick) if transposed else None
            if typo is None:
                transposed, typo = False, typo_digit(true_nik, positions, pick)
            nik = typo
            valid = "true" if nik_problem(typo) is None else "false"
            self._truth(out, NIK_TYPO_TRANSPOSED if transposed else NIK_TYPO_DIGIT, "dapodik", member,
                        reference_key=nisn, true_nik=true_nik, registry_value=true_nik, reference_value=typo,
                        nik_valid=valid)  # fmt: skip
        if age <= 12:
            level, grade = "SD", min(max(age - 6, 1), 6)
        elif age <= 15:
            level, grade = "SMP", age - 6
        else:
            level, grade = ("SMK" if draw("smk", key) < 0.4 else "SMA"), min(age - 6, 12)
        school = int(draw("school", member.village) * 10)
        npsn = f"{('SD', 'SMP', 'SMA', 'SMK').index(level) + 1}{member.village[:8].replace('.', '')}{school}"
        enrolled = member.in_school
        attendance = f"{60 + draw('attendance', key) * 40:.1f}" if enrolled else ""
        out.dapodik.writerow(
            [nisn, nik, member.name, member.birth_date.isoformat(), _sex(member.female), npsn, level, grade,
             "true" if enrolled else "false", attendance, self.semester]
        )  # fmt: skip
        self.result.dapodik += 1

    def _bpjs(self, out: _Writer, member: _Member, true_nik: str) -> None:
        draw = self.draw
        if member.poorer and draw("pbi", member.kk) < self.rates.pbi:
            segment = "PBI-APBD" if draw("apbd", member.kk) < PBI_APBD_SHARE else "PBI-APBN"
            active = draw("inactive", member.nik) >= PBI_INACTIVE_SHARE
        elif draw("bpjs-other", member.nik) < self.rates.bpjs_other:
            segment, active = "OTHER", True
        else:
            return
        self._card += 1
        out.bpjs.writerow([true_nik, f"000{self._card:010d}", segment, "true" if active else "false"])
        self.result.bpjs += 1

    def _extra_person(self, out: _Writer, like: _Member, serial: int) -> None:
        """Someone of the same district, birth date and sex as ``like`` whom the registry does not hold."""
        nik = f"{like.nik[:12]}{serial:04d}"
        pick = self.draw.picker("extra", nik)
        given, second = (FEMALE_GIVEN, FEMALE_SECOND) if like.female else (MALE_GIVEN, MALE_SECOND)
        name = f"{given[pick(len(given))]} {second[pick(len(second))]}"
        kk = f"{like.kk[:12]}{serial:04d}"
        updated = self.as_of - timedelta(days=1 + pick(5 * 365))
        out.adminduk.writerow(
            [nik, kk, name, self._birth_place(nik), like.birth_date.isoformat(), _sex(like.female), like.village,
             "alive", "", updated.isoformat()]
        )  # fmt: skip
        self.result.adminduk += 1
        self._truth(out, NOT_IN_REGISTRY, "adminduk", None, reference_key=nik, true_nik=nik)


async def _members(engine: AsyncEngine, batch: int) -> AsyncIterator[_Member]:
    active = RecordStatus.ACTIVE.value
    query = (
        select(
            MEMBERS.c.id, MEMBERS.c.nik, MEMBERS.c.name, MEMBERS.c.sex, MEMBERS.c.birth_date, MEMBERS.c.in_school,
            HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.village_code, *(HOUSEHOLDS.c[name] for name in _ASSETS),
        )
        .join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
        .where(and_(MEMBERS.c.status == active, HOUSEHOLDS.c.status == active))
        .order_by(MEMBERS.c.nik)
        .execution_options(yield_per=batch)
    )  # fmt: skip
    async with engine.connect() as conn:
        result = await conn.stream(query)
        async for rows in result.partitions(batch):
            for row in rows:
                mid, nik, name, sex, born, in_school, kk, village, *assets = row
                yield _Member(
                    mid,
                    nik,
                    name,
                    sex == Sex.FEMALE.value,
                    born,
                    bool(in_school),
                    kk,
                    village,
                    sum(map(bool, assets)) <= 1,
                )


async def _regions(engine: AsyncEngine) -> tuple[list[str], dict[str, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(REGIONS.c.code, REGIONS.c.name, REGIONS.c.level).where(
            REGIONS.c.level.in_((2, 4))))).all()  # fmt: skip
    villages = sorted(code for code, _name, level in rows if level == 4)
    regencies = {code: name.title() for code, name, level in rows if level == 2}
    return villages, regencies


async def write_reference(
    engine: AsyncEngine,
    output: Path,
    seed: int,
    rates: Rates,
    as_of: date,
    *,
    overwrite: bool = False,
    batch: int = 5_000,
) -> ReferenceResult:
    """Write the four files into ``output`` (created if its parent exists); raises ReferenceRefused."""
    problems = rates.problems()
    if problems:
        raise ReferenceRefused("; ".join(problems))
    check_output(output, overwrite)
    villages, regencies = await _regions(engine)
    generator = ReferenceGenerator(seed, rates, as_of, villages, regencies)
    out = _Writer(output)
    done = False
    try:
        group: list[_Member] = []
        async for member in _members(engine, batch):
            if group and member.nik[:12] != group[0].nik[:12]:
                generator.write_group(out, group)
                group = []
            group.append(member)
        if group:
            generator.write_group(out, group)
        if generator.result.members == 0:
            raise ReferenceRefused("the registry has no active members; generate a population first with `siks demo`")
        done = True
    finally:
        out.close(keep=done)
    return generator.result
