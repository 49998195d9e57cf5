"""Double recipients (penerima ganda): the cases that must never be paid twice, found set-based.

Four kinds, each one SQL pattern shared by the cycle (which refuses to enrol such households,
recording why) and by the report (which lists the cases already in the registry):

- the same NIK active in two active households;
- one KK number on two active households;
- a family enrolled in two programs that exclude each other (either declares ``excludes``) in
  overlapping periods (a cycle's own ``excludes`` are part of its eligibility, core's exclusion
  rule; the cycle refuses, as a double recipient, a family already enrolled in a program that
  excludes it, e.g. PKH after BST paid the family for a month of that quarter);
- a component counted for a member recorded as deceased (the member's own row, or another row
  with the same NIK, has the status ``deceased``).

The report adds a fifth: a probable duplicate — an open ``same_person`` pair of ``siks dedup run``
(``core/identity/duplicates.py``) at or above a probability (``SIKS_DUPLICATE_REPORT_PROBABILITY``)
whose two households are both enrolled in one program for overlapping periods: one person under
two NIKs, paid twice.

The partial unique indexes on NIK and KK (one active member per NIK, one active household per
KK) make the first two impossible while they are in place; the checks ask the database
catalogue first and scan only when an index is missing or altered (a legacy migration, a
restore without indexes), so records written around the service are still caught.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import DuplicateKind, DuplicateStatus, MemberStatus, RecordStatus
from core.foundation.refusals import FieldError, Invalid
from core.models import DuplicateCandidate, Enrollment, EnrollmentComponent
from core.programs.periods import Period, PeriodError, PeriodKind, parse_period
from core.programs.registry import ProgramRegistry
from core.programs.scope import check_region, covers
from core.storage.records import HOUSEHOLDS, MEMBERS

ENROLLMENTS = Enrollment.__table__
CANDIDATES = DuplicateCandidate.__table__
#: The least probability of an open same-person pair for the report to list it (the setting's default).
DUPLICATE_PROBABILITY = 0.9
COMPONENTS = EnrollmentComponent.__table__
ENROLLED = "enrolled"
ACTIVE = RecordStatus.ACTIVE.value
DECEASED = MemberStatus.DECEASED.value


class DoubleRecipientKind(StrEnum):
    NIK_IN_TWO_HOUSEHOLDS = "nik_in_two_households"
    KK_SHARED = "kk_shared"
    EXCLUSIVE_PROGRAMS = "exclusive_programs"
    DECEASED_MEMBER_PAID = "deceased_member_paid"
    PROBABLE_DUPLICATE = "probable_duplicate"


# --- the shared SQL patterns -------------------------------------------------------------------


def duplicate_niks() -> Select[tuple[str]]:
    """NIKs held by more than one active member (answered from the partial NIK index)."""
    return (
        select(MEMBERS.c.nik)
        .where(MEMBERS.c.status == MemberStatus.ACTIVE.value)
        .group_by(MEMBERS.c.nik)
        .having(func.count() > 1)
    )


def shared_kk_numbers() -> Select[tuple[str]]:
    """KK numbers held by more than one active household (answered from the partial KK index)."""
    return (
        select(HOUSEHOLDS.c.kk_number)
        .where(HOUSEHOLDS.c.status == ACTIVE)
        .group_by(HOUSEHOLDS.c.kk_number)
        .having(func.count() > 1)
    )


#: The partial unique indexes that rule out the first two kinds (see core/models/households.py).
NIK_INDEX = "ix_members_nik_active"
KK_INDEX = "ix_households_kk_active"


async def unique_while_active(conn: AsyncConnection, index: str) -> bool:
    """True when ``index`` exists as a unique index over active rows, so duplicates cannot exist."""
    if conn.dialect.name == "postgresql":
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name AND schemaname = current_schema()"
    else:
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    definition = (await conn.execute(text(query), {"name": index})).scalar()
    if definition is None:
        return False
    normalized = " ".join(definition.upper().split())
    return normalized.startswith("CREATE UNIQUE INDEX") and "STATUS" in normalized and "'ACTIVE'" in normalized


def recorded_deceased(member: FromClause) -> ColumnElement[bool]:
    """SQL: this member row, or another row with the same NIK, is recorded as deceased.

    The deceased NIKs are few and have their own partial index (``ix_members_nik_deceased``):
    both databases read them once as a set, rather than probing the NIK index per member.
    """
    record = MEMBERS.alias("death_record")
    return member.c.nik.in_(select(record.c.nik).where(record.c.status == DECEASED))


def excluded_by(registry: ProgramRegistry, slug: str) -> list[str]:
    """Programs that declare they exclude ``slug`` (its own ``excludes`` are part of its eligibility)."""
    return sorted(other.slug for other in registry.programs.values() if slug in other.excludes)


def _text(value: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(value, String)


# --- refusals inside a cycle: (household_id, reason) rows over the cycle's candidates ----------


def nik_refusals(candidates: FromClause) -> Select[tuple[int, str]]:
    niks = duplicate_niks().subquery("duplicate_niks")
    member, other = MEMBERS.alias("member"), MEMBERS.alias("other_member")
    other_household = HOUSEHOLDS.alias("other_household")
    reason = (
        literal("member ", String)
        + _text(member.c.id)
        + " shares its NIK with an active member of household "
        + _text(other.c.household_id)
    )
    return select(candidates.c.household_id, reason.label("reason")).select_from(
        niks.join(member, and_(member.c.nik == niks.c.nik, member.c.status == MemberStatus.ACTIVE.value))
        .join(candidates, candidates.c.household_id == member.c.household_id)
        .join(
            other,
            and_(
                other.c.nik == member.c.nik,
                other.c.status == MemberStatus.ACTIVE.value,
                other.c.household_id != member.c.household_id,
            ),
        )
        .join(other_household, and_(other_household.c.id == other.c.household_id, other_household.c.status == ACTIVE))
    )


def kk_refusals(candidates: FromClause) -> Select[tuple[int, str]]:
    numbers = shared_kk_numbers().subquery("shared_kk_numbers")
    other = HOUSEHOLDS.alias("other_household")
    reason = literal("KK number shared with active household ", String) + _text(other.c.id)
    return select(candidates.c.household_id, reason.label("reason")).select_from(
        numbers.join(candidates, candidates.c.kk_number == numbers.c.kk_number).join(
            other,
            and_(
                other.c.kk_number == numbers.c.kk_number,
                other.c.status == ACTIVE,
                other.c.id != candidates.c.household_id,
            ),
        )
    )


def exclusion_refusals(
    candidates: FromClause, program: str, period: Period, partners: list[str]
) -> Select[tuple[int, str]]:
    reason = (
        literal("already enrolled in ", String)
        + func.upper(ENROLLMENTS.c.program)
        + " "
        + ENROLLMENTS.c.period
        + ", which excludes "
        + literal(program.upper(), String)
    )
    return select(candidates.c.household_id, reason.label("reason")).select_from(
        candidates.join(
            ENROLLMENTS,
            and_(
                ENROLLMENTS.c.household_id == candidates.c.household_id,
                ENROLLMENTS.c.program.in_(partners),
                ENROLLMENTS.c.status == ENROLLED,
                ENROLLMENTS.c.period_start < period.end,
                ENROLLMENTS.c.period_end > period.start,
            ),
        )
    )


def deceased_member_ids() -> Select[tuple[int]]:
    """SQL: the member rows whose NIK is recorded as deceased on some row (that row included).

    A small set, found through the partial index of deceased NIKs and the NIK index.
    """
    row = MEMBERS.alias("nik_row")
    return select(row.c.id).where(recorded_deceased(row))


def deceased_refusals(components: FromClause) -> Select[tuple[int, str]]:
    """A refusal per component counted for a member recorded as deceased (``recorded_deceased``):
    the components are filtered by the small set of such members, not joined to every member row."""
    reason = (
        literal("component ", String)
        + components.c.component
        + " counted for member "
        + _text(components.c.member_id)
        + ", who is recorded as deceased"
    )
    return select(components.c.household_id, reason.label("reason")).where(
        components.c.member_id.in_(deceased_member_ids())
    )


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnrollmentRef:
    """An enrollment a case involves: which household, program and period."""

    enrollment_id: int
    household_id: int
    program: str
    period: str


@dataclass(frozen=True, slots=True)
class DoubleRecipient:
    """One case: its kind, the households, the enrollments (programs) involved, and a sentence."""

    kind: DoubleRecipientKind
    household_ids: tuple[int, ...]
    enrollments: tuple[EnrollmentRef, ...]
    detail: str
    #: The shared NIK or KK number for those kinds, else empty.
    key: str = ""
    member_ids: tuple[int, ...] = ()

    @property
    def programs(self) -> tuple[str, ...]:
        return tuple(sorted({ref.program for ref in self.enrollments}))


@dataclass(frozen=True, slots=True)
class DoubleRecipientReport:
    """Every double-recipient case in a region (or ``ID``) for enrollments overlapping a period."""

    region_code: str
    period: str
    cases: list[DoubleRecipient] = field(default_factory=list)

    def of_kind(self, kind: DoubleRecipientKind) -> list[DoubleRecipient]:
        return [case for case in self.cases if case.kind is kind]

    @property
    def counts(self) -> dict[DoubleRecipientKind, int]:
        return {kind: len(self.of_kind(kind)) for kind in DoubleRecipientKind}


def parse_report_period(label: str) -> Period:
    """A month, quarter or year label; PeriodError naming the three forms otherwise."""
    for kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR):
        try:
            return parse_period(label, kind)
        except PeriodError:
            continue
    raise PeriodError(f"period '{label[:20]}' is not a month (2026-03), a quarter (2026-Q1) or a year (2026)")


def _overlapping(table: FromClause, period: Period) -> list[ColumnElement[bool]]:
    return [table.c.status == ENROLLED, table.c.period_start < period.end, table.c.period_end > period.start]


async def _enrollments_of(
    conn: AsyncConnection, household_ids: set[int], period: Period
) -> dict[int, list[EnrollmentRef]]:
    found: dict[int, list[EnrollmentRef]] = defaultdict(list)
    if not household_ids:
        return found
    rows = await conn.execute(
        select(ENROLLMENTS.c.id, ENROLLMENTS.c.household_id, ENROLLMENTS.c.program, ENROLLMENTS.c.period)
        .where(ENROLLMENTS.c.household_id.in_(sorted(household_ids)), *_overlapping(ENROLLMENTS, period))
        .order_by(ENROLLMENTS.c.household_id, ENROLLMENTS.c.program, ENROLLMENTS.c.period_start)
    )
    for row in rows:
        found[row.household_id].append(EnrollmentRef(row.id, row.household_id, row.program, row.period))
    return found


async def _shared_identity_cases(
    conn: AsyncConnection, region_code: str
) -> list[tuple[DoubleRecipientKind, str, list[tuple[int, int | None]]]]:
    """NIK and KK cases touching the region: (kind, key, [(household_id, member_id)]).

    Each kind is scanned only when its unique index does not already rule it out.
    """
    in_region = covers(HOUSEHOLDS.c.village_code, region_code).label("in_region")
    queries = []
    if not await unique_while_active(conn, NIK_INDEX):
        niks = duplicate_niks().subquery("duplicate_niks")
        active_member = and_(MEMBERS.c.nik == niks.c.nik, MEMBERS.c.status == MemberStatus.ACTIVE.value)
        active_household = and_(HOUSEHOLDS.c.id == MEMBERS.c.household_id, HOUSEHOLDS.c.status == ACTIVE)
        query = (
            select(MEMBERS.c.nik, HOUSEHOLDS.c.id, MEMBERS.c.id, in_region)
            .select_from(niks.join(MEMBERS, active_member).join(HOUSEHOLDS, active_household))
            .order_by(MEMBERS.c.nik, HOUSEHOLDS.c.id)
        )
        queries.append((DoubleRecipientKind.NIK_IN_TWO_HOUSEHOLDS, query))
    if not await unique_while_active(conn, KK_INDEX):
        kks = shared_kk_numbers().subquery("shared_kk_numbers")
        query = (
            select(HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.id, literal(None).label("member_id"), in_region)
            .select_from(kks.join(HOUSEHOLDS, HOUSEHOLDS.c.kk_number == kks.c.kk_number))
            .where(HOUSEHOLDS.c.status == ACTIVE)
            .order_by(HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.id)
        )
        queries.append((DoubleRecipientKind.KK_SHARED, query))
    cases = []
    for kind, query in queries:
        grouped: dict[str, list[tuple[int, int | None, bool]]] = defaultdict(list)
        for key, household_id, member_id, inside in await conn.execute(query):
            grouped[key].append((household_id, member_id, bool(inside)))
        for key, entries in grouped.items():
            if len({household_id for household_id, _, _ in entries}) > 1 and any(inside for *_, inside in entries):
                cases.append((kind, key, [(household_id, member_id) for household_id, member_id, _ in entries]))
    return cases


async def _exclusive_cases(
    conn: AsyncConnection, registry: ProgramRegistry, region_code: str, period: Period
) -> list[DoubleRecipient]:
    pairs = sorted({tuple(sorted((p.slug, other))) for p in registry.programs.values() for other in p.excludes})
    first, second = ENROLLMENTS.alias("first_enrollment"), ENROLLMENTS.alias("second_enrollment")
    cases = []
    for one, two in pairs:
        rows = await conn.execute(
            select(first.c.household_id, first.c.id, first.c.period, second.c.id, second.c.period)
            .select_from(first.join(second, second.c.household_id == first.c.household_id))
            .where(
                first.c.program == one,
                second.c.program == two,
                *_overlapping(first, period),
                *_overlapping(second, period),
                first.c.period_start < second.c.period_end,
                second.c.period_start < first.c.period_end,
                covers(first.c.village_code, region_code),
            )
            .order_by(first.c.household_id, first.c.id, second.c.id)
        )
        for household_id, first_id, first_period, second_id, second_period in rows:
            refs = (
                EnrollmentRef(first_id, household_id, one, first_period),
                EnrollmentRef(second_id, household_id, two, second_period),
            )
            detail = (
                f"household {household_id} is enrolled in {one.upper()} {first_period} and {two.upper()} "
                f"{second_period}, programs that exclude each other"
            )
            cases.append(DoubleRecipient(DoubleRecipientKind.EXCLUSIVE_PROGRAMS, (household_id,), refs, detail))
    return cases


async def _deceased_cases(conn: AsyncConnection, region_code: str, period: Period) -> list[DoubleRecipient]:
    member = MEMBERS.alias("member")
    rows = await conn.execute(
        select(
            ENROLLMENTS.c.household_id,
            ENROLLMENTS.c.id,
            ENROLLMENTS.c.program,
            ENROLLMENTS.c.period,
            COMPONENTS.c.component,
            member.c.id,
        )
        .select_from(
            COMPONENTS.join(ENROLLMENTS, ENROLLMENTS.c.id == COMPONENTS.c.enrollment_id).join(
                member, member.c.id == COMPONENTS.c.member_id
            )
        )
        .where(*_overlapping(ENROLLMENTS, period), covers(ENROLLMENTS.c.village_code, region_code))
        .where(recorded_deceased(member))
        .order_by(ENROLLMENTS.c.household_id, ENROLLMENTS.c.id, member.c.id)
    )
    return [
        DoubleRecipient(
            DoubleRecipientKind.DECEASED_MEMBER_PAID,
            (household_id,),
            (EnrollmentRef(enrollment_id, household_id, program, label),),
            f"member {member_id} of household {household_id}, recorded as deceased, is counted as {component} "
            f"in {program.upper()} {label}",
            member_ids=(member_id,),
        )
        for household_id, enrollment_id, program, label, component, member_id in rows
    ]


async def _probable_duplicate_cases(
    conn: AsyncConnection, region_code: str, period: Period, probability: float
) -> list[DoubleRecipient]:
    """Open same-person pairs (one side in the region) whose households are both enrolled in one program
    for overlapping periods within ``period``: one statement."""
    first, second = ENROLLMENTS.alias("first_enrollment"), ENROLLMENTS.alias("second_enrollment")
    pair = CANDIDATES
    rows = await conn.execute(
        select(
            pair.c.first_id,
            pair.c.second_id,
            pair.c.first_household_id,
            pair.c.second_household_id,
            pair.c.probability,
            pair.c.agreeing,
            first.c.id,
            first.c.program,
            first.c.period,
            second.c.id,
            second.c.period,
        )  # fmt: skip
        .select_from(
            pair.join(first, first.c.household_id == pair.c.first_household_id).join(
                second,
                and_(second.c.household_id == pair.c.second_household_id, second.c.program == first.c.program),
            )
        )
        .where(
            pair.c.kind == DuplicateKind.SAME_PERSON.value,
            pair.c.status == DuplicateStatus.OPEN.value,
            pair.c.probability >= probability,
            pair.c.first_household_id != pair.c.second_household_id,
            covers(pair.c.first_village_code, region_code) | covers(pair.c.second_village_code, region_code),
            *_overlapping(first, period),
            *_overlapping(second, period),
            first.c.period_start < second.c.period_end,
            second.c.period_start < first.c.period_end,
        )
        .order_by(pair.c.first_id, pair.c.second_id, first.c.id, second.c.id)
    )
    cases = []
    for (
        one,
        two,
        one_household,
        two_household,
        chance,
        agreeing,
        one_id,
        program,
        one_period,
        two_id,
        two_period,
    ) in rows:
        refs = (
            EnrollmentRef(one_id, one_household, program, one_period),
            EnrollmentRef(two_id, two_household, program, two_period),
        )
        detail = (
            f"member {one} of household {one_household} and member {two} of household {two_household} are probably "
            f"one person (probability {chance:.2f}; agreeing: {', '.join(agreeing) or 'nothing'}), both enrolled in "
            f"{program.upper()} {one_period} and {two_period}"
        )
        cases.append(
            DoubleRecipient(
                DoubleRecipientKind.PROBABLE_DUPLICATE,
                (one_household, two_household),
                refs,
                detail,
                member_ids=(one, two),
            )
        )
    return cases


async def _check_report_input(conn: AsyncConnection, region_code: str, period: str) -> Period | Invalid:
    errors: list[FieldError] = []
    parsed: Period | None = None
    try:
        parsed = parse_report_period(period)
    except PeriodError as exc:
        errors.append(FieldError("period", str(exc)))
    region_error = await check_region(conn, region_code)
    if region_error is not None:
        errors.append(region_error)
    if errors or parsed is None:
        return Invalid(errors)
    return parsed


async def double_recipient_report(
    conn: AsyncConnection,
    registry: ProgramRegistry,
    region_code: str,
    period: str,
    *,
    duplicate_probability: float = DUPLICATE_PROBABILITY,
) -> DoubleRecipientReport | Invalid:
    """Every double-recipient case in ``region_code`` (``ID`` for the nation) for enrollments overlapping ``period``.

    A fixed number of statements whatever the population: at most one per kind (one per pair of
    exclusive programs), plus one to name the programs of the NIK and KK cases' households.
    """
    checked = await _check_report_input(conn, region_code, period)
    if isinstance(checked, Invalid):
        return checked
    identity = await _shared_identity_cases(conn, region_code)
    enrolled = await _enrollments_of(conn, {hid for _, _, entries in identity for hid, _ in entries}, checked)
    cases: list[DoubleRecipient] = []
    for kind, key, entries in identity:
        household_ids = tuple(sorted({household_id for household_id, _ in entries}))
        refs = tuple(ref for household_id in household_ids for ref in enrolled.get(household_id, []))
        what = "NIK" if kind is DoubleRecipientKind.NIK_IN_TWO_HOUSEHOLDS else "KK number"
        detail = f"one {what} in {len(household_ids)} active households: " + ", ".join(map(str, household_ids))
        if refs:
            detail += "; enrolled: " + ", ".join(f"{r.program.upper()} {r.period} ({r.household_id})" for r in refs)
        members = tuple(member_id for _, member_id in entries if member_id is not None)
        cases.append(DoubleRecipient(kind, household_ids, refs, detail, key=key, member_ids=members))
    cases.extend(await _exclusive_cases(conn, registry, region_code, checked))
    cases.extend(await _deceased_cases(conn, region_code, checked))
    cases.extend(await _probable_duplicate_cases(conn, region_code, checked, duplicate_probability))
    return DoubleRecipientReport(region_code=region_code, period=checked.label, cases=cases)
