"""Double recipients: each planted case is refused by a cycle (with its reason) and listed by the report."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import RemovalReason
from core.foundation.ids import encode_global, ids
from core.foundation.refusals import Invalid
from core.households import service
from core.programs.cycles import CycleRecord, run_cycle
from core.programs.double_recipients import (
    DoubleRecipient,
    DoubleRecipientKind,
    DoubleRecipientReport,
    EnrollmentRef,
    double_recipient_report,
)
from core.programs.registry import ProgramRegistry, build_registry, make_manager
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.cli_support import siks
from tests.conftest import GraphQLClient
from tests.programs_support import (
    builtin_registry,
    child,
    enrolled,
    grandmother,
    head,
    member_ids_by_birth,
    poor_household,
    refusals,
    register,
    without_unique_index,
)

Kind = DoubleRecipientKind


async def run(engine: AsyncEngine, program: str, period: str, registry: ProgramRegistry | None = None) -> CycleRecord:
    outcome = await run_cycle(engine, registry or builtin_registry(), program, period, factories.VILLAGE, "tester")
    assert isinstance(outcome, CycleRecord), outcome
    return outcome


async def report(engine: AsyncEngine, period: str, region: str = "32") -> DoubleRecipientReport:
    async with engine.connect() as conn:
        found = await double_recipient_report(conn, builtin_registry(), region, period)
    assert isinstance(found, DoubleRecipientReport), found
    return found


async def enrollment_refs(engine: AsyncEngine, household_ids: list[int]) -> list[EnrollmentRef]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, household_id, program, period FROM enrollments ORDER BY household_id, program")
        )
        return [EnrollmentRef(*row) for row in rows if row[1] in household_ids]


async def test_a_nik_active_in_two_households(db: AsyncEngine) -> None:
    first, second = await register(db, [poor_household(), poor_household()])
    await run(db, "bst", "2026-02")
    shared = (await member_ids_by_birth(db, first))[date(2022, 6, 1)]
    twin = (await member_ids_by_birth(db, second))[date(2022, 6, 1)]
    async with without_unique_index(db, "ix_members_nik_active", "members", "nik"):
        async with db.begin() as conn:  # a legacy record written around the service
            nik = (await conn.execute(MEMBERS.select().where(MEMBERS.c.id == shared))).one().nik
            await conn.execute(update(MEMBERS).where(MEMBERS.c.id == twin).values(nik=nik))
        cycle = await run(db, "bpnt", "2026-03")
        assert cycle.enrolled == 0 and cycle.refused == 2
        assert await refusals(db, cycle.id) == {
            first: [f"member {shared} shares its NIK with an active member of household {second}"],
            second: [f"member {twin} shares its NIK with an active member of household {first}"],
        }
        found = await report(db, "2026-02")
        [case] = found.cases
        assert (case.kind, case.household_ids, case.key) == (Kind.NIK_IN_TWO_HOUSEHOLDS, (first, second), nik)
        assert set(case.member_ids) == {shared, twin}
        assert case.enrollments == tuple(await enrollment_refs(db, [first, second]))
        assert case.programs == ("bst",) and "one NIK in 2 active households" in case.detail
        assert found.counts[Kind.NIK_IN_TWO_HOUSEHOLDS] == 1


async def test_a_kk_number_on_two_active_households(db: AsyncEngine) -> None:
    first, second, alone = await register(db, [poor_household(), poor_household(), poor_household()])
    async with without_unique_index(db, "ix_households_kk_active", "households", "kk_number"):
        async with db.begin() as conn:
            kk = (await conn.execute(HOUSEHOLDS.select().where(HOUSEHOLDS.c.id == first))).one().kk_number
            await conn.execute(update(HOUSEHOLDS).where(HOUSEHOLDS.c.id == second).values(kk_number=kk))
        cycle = await run(db, "pkh", "2026-Q1")
        assert set(await enrolled(db, "pkh", "2026-Q1")) == {alone}
        assert await refusals(db, cycle.id) == {
            first: [f"KK number shared with active household {second}"],
            second: [f"KK number shared with active household {first}"],
        }
        [case] = (await report(db, "2026-Q1")).cases
        assert (case.kind, case.household_ids, case.key, case.enrollments) == (Kind.KK_SHARED, (first, second), kk, ())


async def test_a_family_in_two_programs_that_exclude_each_other(db: AsyncEngine) -> None:
    [family] = await register(db, [poor_household()])
    await run(db, "bst", "2026-02")
    # A unit that loaded PKH alone could not see BST's exclusion, and paid the family twice.
    await run(db, "pkh", "2026-Q1", build_registry(make_manager(["pkh"])))
    bst, pkh = await enrollment_refs(db, [family])
    found = await report(db, "2026-02")
    assert found.cases == [
        DoubleRecipient(
            Kind.EXCLUSIVE_PROGRAMS,
            (family,),
            (bst, pkh),
            f"household {family} is enrolled in BST 2026-02 and PKH 2026-Q1, programs that exclude each other",
        )
    ]
    assert (await report(db, "2026-04")).cases == []  # the quarter and the month do not overlap April
    assert (await report(db, "2026-02", region="35")).cases == []


async def test_a_deceased_person_counted_in_a_component(db: AsyncEngine) -> None:
    widow_family, zombie_family, late_family = await register(
        db,
        [
            poor_household(members=[head(), child(date(2021, 2, 2)), grandmother()]),
            poor_household(members=[head()]),
            poor_household(members=[head(), grandmother()]),
        ],
    )
    await run(db, "pkh", "2026-Q1")
    grandma = (await member_ids_by_birth(db, widow_family))[date(1952, 1, 20)]
    late_grandma = (await member_ids_by_birth(db, late_family))[date(1952, 1, 20)]
    async with write_transaction(db) as conn:
        for household_id, member_id in ((widow_family, grandma), (late_family, late_grandma)):
            removed = await service.remove_member(conn, household_id, 1, member_id, RemovalReason.DECEASED)
            assert not isinstance(removed, Invalid | service.Missing | service.Conflict), removed
        # The same person, reported dead in one family, is still listed alive in another.
        record = (await conn.execute(MEMBERS.select().where(MEMBERS.c.id == grandma))).one()
        zombie = ids.next_id()
        await conn.execute(
            MEMBERS.insert().values(
                {**record._mapping, "id": zombie, "household_id": zombie_family, "status": "active"}
            )
        )
    cycle = await run(db, "pkh", "2026-Q2")
    assert await refusals(db, cycle.id) == {
        zombie_family: [f"component elderly_60 counted for member {zombie}, who is recorded as deceased"]
    }
    assert set(await enrolled(db, "pkh", "2026-Q2")) == {widow_family}
    # Paid for the first quarter while alive, deceased since: the report names the enrollment.
    cases = (await report(db, "2026-Q1")).of_kind(Kind.DECEASED_MEMBER_PAID)
    async with db.connect() as conn:
        first_quarter = dict(
            (await conn.execute(text("SELECT household_id, id FROM enrollments WHERE period = '2026-Q1'"))).all()
        )
    assert [(c.household_ids, c.member_ids, c.enrollments) for c in cases] == sorted(
        [
            (
                (widow_family,),
                (grandma,),
                (EnrollmentRef(first_quarter[widow_family], widow_family, "pkh", "2026-Q1"),),
            ),
            (
                (late_family,),
                (late_grandma,),
                (EnrollmentRef(first_quarter[late_family], late_family, "pkh", "2026-Q1"),),
            ),
        ]
    )
    assert "recorded as deceased, is counted as elderly_60 in PKH 2026-Q1" in cases[0].detail
    assert (await report(db, "2026-Q2")).of_kind(Kind.DECEASED_MEMBER_PAID) == []


async def test_report_refuses_bad_input(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        bad = await double_recipient_report(conn, builtin_registry(), "32.99", "2026-13")
    assert isinstance(bad, Invalid)
    assert {e.field: e.message for e in bad.errors} == {
        "period": "period '2026-13' is not a month (2026-03), a quarter (2026-Q1) or a year (2026)",
        "regionCode": "no regency/city with code 32.99",
    }
    assert (await report(db, "2026", region="ID")).cases == []


async def test_report_through_graphql_and_the_cli(db: AsyncEngine, gql: GraphQLClient, as_role) -> None:  # type: ignore[no-untyped-def]
    [family] = await register(db, [poor_household()])
    await run(db, "bst", "2026-02")
    await run(db, "pkh", "2026-Q1", build_registry(make_manager(["pkh"])))
    query = """query($r: String!, $p: String!) { doubleRecipients(regionCode: $r, period: $p) {
      __typename ... on DoubleRecipientReportType {
        regionCode period cases { kind caseKind householdIds programs detail } }
      ... on ValidationError { fields { field message } } } }"""
    found = (await gql(query, {"r": "32.01", "p": "2026-02"}))["doubleRecipients"]
    assert found["cases"] == [
        {
            "kind": Kind.EXCLUSIVE_PROGRAMS.value,
            "caseKind": "EXCLUSIVE_PROGRAMS",
            "householdIds": [encode_global("Household", family)],
            "programs": ["bst", "pkh"],
            "detail": found["cases"][0]["detail"],
        }
    ]
    bad = (await gql(query, {"r": "32.99", "p": "2026-13"}))["doubleRecipients"]
    assert {f["field"] for f in bad["fields"]} == {"period", "regionCode"}
    elsewhere = await as_role("regency_office", "35.78").raw(query, {"r": "32.01", "p": "2026-02"})
    assert elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = siks("program", "double-recipients", "32", "2026-02")
    assert done.returncode == 0, done.stderr
    assert f"{Kind.EXCLUSIVE_PROGRAMS.value}\tbst,pkh\thousehold {family}" in done.stdout
    assert "1 case(s) in 32 for 2026-02" in done.stderr


async def test_a_member_counted_in_a_component_cannot_be_deleted(db: AsyncEngine) -> None:
    """Components keep their members without a foreign key (migration 0007): a trigger stands in
    for the key's delete side, and for a changed id."""
    (family,) = await register(db, [poor_household(members=[head(), grandmother()])])
    await run(db, "pkh", "2026-Q1")
    grandma = (await member_ids_by_birth(db, family))[date(1952, 1, 20)]
    for statement in (MEMBERS.delete(), MEMBERS.update().values(id=ids.next_id())):
        try:
            async with write_transaction(db) as conn:
                await conn.execute(statement.where(MEMBERS.c.id == grandma))
        except DBAPIError as exc:
            assert "member is counted in enrollment components" in str(exc)
        else:
            raise AssertionError(f"{statement} went through")
    async with db.connect() as conn:
        assert (await conn.execute(select(func.count()).where(MEMBERS.c.id == grandma))).scalar_one() == 1
    # A member no component counts may still be changed or deleted by hand, as before.
    (lone,) = await register(db, [poor_household(members=[head()])])
    async with write_transaction(db) as conn:
        head_id = (await conn.execute(select(MEMBERS.c.id).where(MEMBERS.c.household_id == lone))).scalar_one()
        new_id = ids.next_id()
        await conn.execute(MEMBERS.update().where(MEMBERS.c.id == head_id).values(id=new_id))
    async with db.connect() as conn:
        assert (await conn.execute(select(MEMBERS.c.id).where(MEMBERS.c.household_id == lone))).scalar_one() == new_id


async def test_a_probable_duplicate_enrolled_twice_in_one_program(db: AsyncEngine, gql: GraphQLClient) -> None:
    from datetime import UTC, datetime

    from core.foundation.enums import DuplicateKind, DuplicateStatus
    from core.identity.duplicates import CANDIDATES, Candidate, store_candidates
    from core.models import IdentityRun

    first, second, third = await register(db, [poor_household(), poor_household(), poor_household()])
    await run(db, "bst", "2026-02")
    one, two, three = [(await member_ids_by_birth(db, h))[date(2022, 6, 1)] for h in (first, second, third)]
    village = factories.VILLAGE
    at = datetime.now(UTC)
    async with write_transaction(db) as conn:
        await conn.execute(
            IdentityRun.__table__.insert().values(
                id=1, kind="dedup", status="completed", started_by="t", started_at=at, summary={}
            )
        )
        pairs = [
            Candidate(
                DuplicateKind.SAME_PERSON, one, two, first, second, village, village, 0.97, ("birth_date", "name")
            ),
            Candidate(DuplicateKind.SAME_PERSON, one, three, first, third, village, village, 0.6, ("birth_date",)),
            Candidate(DuplicateKind.SAME_PERSON, two, three, second, third, village, village, 0.99, ("name",)),
        ]
        await store_candidates(conn, 1, pairs, None, at)
        await conn.execute(  # decided: two different people, not a case
            update(CANDIDATES)
            .where(CANDIDATES.c.first_id == min(two, three))
            .values(status=DuplicateStatus.DIFFERENT.value)
        )
    cases = (await report(db, "2026-02")).of_kind(Kind.PROBABLE_DUPLICATE)
    assert [(c.household_ids, c.member_ids, c.programs) for c in cases] == [((first, second), (one, two), ("bst",))]
    assert "probably one person (probability 0.97; agreeing: birth_date, name)" in cases[0].detail
    async with db.connect() as conn:
        low = await double_recipient_report(conn, builtin_registry(), "32", "2026-02", duplicate_probability=0.5)
    assert isinstance(low, DoubleRecipientReport) and len(low.of_kind(Kind.PROBABLE_DUPLICATE)) == 2
    assert (await report(db, "2026-02", region="35")).of_kind(Kind.PROBABLE_DUPLICATE) == []
    assert (await report(db, "2026-04")).of_kind(Kind.PROBABLE_DUPLICATE) == []
    query = """{ doubleRecipients(regionCode: "32", period: "2026-02") {
      ... on DoubleRecipientReportType { cases { caseKind memberIds } } } }"""
    found = (await gql(query))["doubleRecipients"]["cases"]
    assert [c["caseKind"] for c in found] == ["PROBABLE_DUPLICATE"]
