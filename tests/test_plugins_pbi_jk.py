"""PBI-JK: premiums for the poorest deciles' members, BPJS registration files, and BPJS's membership reconciled.

That the plugin imports nothing from core but ``core.plugin_api`` is tests/test_plugin_api.py's (and lint-imports').
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import AUDIT
from core.foundation.enums import IdentityStatus, Sex
from core.households.identity import make_nik
from core.programs import quotas
from core.programs.cycles import CycleRecord, approve_cycle, run_cycle
from core.programs.eligibility import explain
from core.programs.periods import PeriodKind, parse_period
from core.programs.registry import ProgramRegistry, build_registry, make_manager
from core.schema.global_ids import encode
from core.storage.db import write_transaction
from core.storage.records import MEMBERS
from plugins.pbi_jk.program import pbi_jk_program
from plugins.pbi_jk.registration import COLUMNS
from tests import factories
from tests.cli_support import siks
from tests.conftest import GraphQLClient
from tests.identity_support import identity_run, outcome_of
from tests.programs_support import (
    child,
    components_of,
    disbursements_of,
    enrolled,
    grandmother,
    head,
    member_ids_by_birth,
    poor_household,
    rank,
    register,
)
from tests.reference_files import write_csv

BOGOR, SURABAYA = "32.01", "35.78"  # the regencies of factories.VILLAGE and factories.OTHER_VILLAGE
BPJS_HEADER = ("nik", "card_number", "segment", "active")


def registry() -> ProgramRegistry:
    return build_registry(make_manager(["pbi_jk"]))


async def run(engine: AsyncEngine, period: str, region: str) -> CycleRecord:
    outcome = await run_cycle(engine, registry(), "pbi_jk", period, region, "tester")
    assert isinstance(outcome, CycleRecord), outcome
    return outcome


async def niks_of(engine: AsyncEngine, household_id: int) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(MEMBERS.c.nik).where(MEMBERS.c.household_id == household_id))
        return sorted(rows.scalars())


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


async def three_households(db: AsyncEngine) -> tuple[int, int, int]:
    """A poor family of two in Bogor (decile 1), one in Surabaya (decile 2), a better-off one in Bogor (decile 7)."""
    bogor, surabaya, better_off = await register(
        db,
        [
            poor_household(),
            poor_household(factories.OTHER_VILLAGE),
            poor_household(members=[head()]),
        ],
    )
    await rank(db, {bogor: (1, -2.0), surabaya: (2, -1.5), better_off: (7, 0.5)})
    return bogor, surabaya, better_off


async def test_settings_are_the_perpres_premium_and_the_poorest_four_deciles() -> None:
    config = pbi_jk_program().settings_for(parse_period("2026-03", PeriodKind.MONTH))
    assert (config["monthly_premium"], config["max_decile"]) == (42_000, 4)


async def test_eligible_by_national_decile_with_members_holding_a_valid_nik(db: AsyncEngine) -> None:
    poor, near_poor, better_off, no_valid_nik = await register(
        db, [poor_household(), poor_household(), poor_household(), poor_household(members=[head()])]
    )
    await rank(db, {poor: (1, -2.0), near_poor: (4, -1.0), better_off: (5, 0.0), no_valid_nik: (1, -2.5)})
    async with write_transaction(db) as conn:  # a NIK migrated from an older system, shorter than 16 digits
        await conn.execute(update(MEMBERS).where(MEMBERS.c.household_id == no_valid_nik).values(nik="3201010000"))
        periods = {"pbi_jk": parse_period("2026-03", PeriodKind.MONTH)}
        verdicts = await explain(conn, registry(), [poor, better_off, no_valid_nik], periods)
    assert verdicts[poor][0].summary == "eligible: members with a valid NIK ×2; decile 1 ≤ 4"
    assert verdicts[better_off][0].summary == "not eligible: decile 5 > 4"
    assert verdicts[no_valid_nik][0].summary == "not eligible: no member with a valid NIK"
    await run(db, "2026-03", "ID")
    assert set(await enrolled(db, "pbi_jk", "2026-03")) == {poor, near_poor}


async def test_the_premium_is_paid_per_member_a_month(db: AsyncEngine) -> None:
    [family] = await register(db, [poor_household(members=[head(), child(date(2022, 6, 1)), grandmother()])])
    await rank(db, {family: (2, -1.0)})
    async with write_transaction(db) as conn:  # a member who died is no longer insured
        await conn.execute(
            update(MEMBERS)
            .where(MEMBERS.c.household_id == family, MEMBERS.c.name == "Sumarni")
            .values(status="deceased")
        )
    cycle = await run(db, "2026-03", factories.VILLAGE)
    assert await enrolled(db, "pbi_jk", "2026-03") == {family: 84_000}
    parts = await components_of(db, family, "pbi_jk")
    assert [(component, amount) for _member, component, amount in parts] == [("pbi_premium", 42_000)] * 2
    [payment] = await disbursements_of(db, cycle.id)
    assert (payment["channel"], payment["amount"], payment["reference"]) == (
        "bpjs_premium",
        84_000,
        f"PBI_JK-202603-{payment['enrollment_id']}-1",
    )


async def test_no_premium_for_a_member_the_civil_registry_records_as_deceased(db: AsyncEngine) -> None:
    assert pbi_jk_program().refuse_civil_deceased
    [family] = await register(db, [poor_household(members=[head(), child(date(2022, 6, 1)), grandmother()])])
    await rank(db, {family: (2, -1.0)})
    members = await member_ids_by_birth(db, family)
    grandmother_born = min(members)
    await identity_run(
        db, [outcome_of(members[grandmother_born], family, IdentityStatus.DECEASED, deathDate="2026-01-10")]
    )
    await run(db, "2026-03", factories.VILLAGE)
    assert await enrolled(db, "pbi_jk", "2026-03") == {family: 84_000}
    parts = await components_of(db, family, "pbi_jk")
    assert members[grandmother_born] not in {member for member, _component, _amount in parts}


async def test_quota_per_regency_enrols_the_poorest_first(db: AsyncEngine) -> None:
    poorest, poor, surabaya = await register(
        db, [poor_household(), poor_household(), poor_household(factories.OTHER_VILLAGE)]
    )
    await rank(db, {poorest: (1, -3.0), poor: (3, -1.0), surabaya: (4, -0.5)})
    async with write_transaction(db) as conn:
        for regency in (BOGOR, SURABAYA):
            quota = await quotas.set_quota(conn, registry(), "pbi_jk", "2026-03", regency, 1)
            assert isinstance(quota, quotas.Quota), quota
    cycle = await run(db, "2026-03", "ID")
    assert set(await enrolled(db, "pbi_jk", "2026-03")) == {poorest, surabaya}
    assert cycle.enrolled == 2 and cycle.total_amount == 4 * 42_000


async def test_a_cycle_end_to_end_exports_bpjs_registration_files_per_regency(db: AsyncEngine, tmp_path: Path) -> None:
    bogor, surabaya, _better_off = await three_households(db)
    cycle = await run(db, "2026-03", "ID")
    approved = await approve_cycle(db, cycle.id, "approver", registry=registry())
    assert isinstance(approved, CycleRecord) and approved.status == "approved"
    ran = siks("pbi-jk", "export", str(cycle.id), "--output", str(tmp_path))
    assert ran.returncode == 0, ran.stderr
    assert "4 member(s) in 2 file(s)" in ran.stderr
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["PBI-JK_2026-03_32.01.csv", "PBI-JK_2026-03_35.78.csv"]
    rows = read_csv(tmp_path / "PBI-JK_2026-03_32.01.csv")
    assert tuple(rows[0]) == COLUMNS
    assert sorted(row["nik"] for row in rows) == await niks_of(db, bogor)
    by_name = {row["full_name"]: row for row in rows}
    assert by_name["Agus Salim"] == {
        "nik": by_name["Agus Salim"]["nik"],
        "kk": by_name["Agus Salim"]["kk"],
        "full_name": "Agus Salim",
        "birth_date": "1988-04-02",
        "sex": "L",
        "regency_code": BOGOR,
        "segment": "PBI-APBN",
        "period": "2026-03",
    }
    assert by_name["Putri Ayu"]["sex"] == "P" and by_name["Putri Ayu"]["kk"] == by_name["Agus Salim"]["kk"]
    assert len(by_name["Agus Salim"]["kk"]) == 16
    assert sorted(row["nik"] for row in read_csv(tmp_path / "PBI-JK_2026-03_35.78.csv")) == await niks_of(db, surabaya)
    # one regency only
    only = tmp_path / "bogor"
    assert siks("pbi-jk", "export", str(cycle.id), "--output", str(only), "--region", BOGOR).returncode == 0
    assert [path.name for path in only.iterdir()] == ["PBI-JK_2026-03_32.01.csv"]
    async with db.connect() as conn:
        audited = (
            await conn.execute(
                select(AUDIT.c.actor, AUDIT.c.entity_id, AUDIT.c.after)
                .where(AUDIT.c.operation == "exportPbiJkRegistration", AUDIT.c.entity_id == str(cycle.id))
                .order_by(AUDIT.c.seq)
            )
        ).all()
    assert [json.loads(after) for _actor, _id, after in audited] == [
        {"region": "ID", "files": {BOGOR: 2, SURABAYA: 2}},
        {"region": BOGOR, "files": {BOGOR: 2}},
    ]
    assert {entity_id for _actor, entity_id, _after in audited} == {str(cycle.id)}
    assert all(actor.startswith("cli:") for actor, _id, _after in audited)


async def test_reconciliation_lists_active_to_register_and_to_deactivate(db: AsyncEngine, tmp_path: Path) -> None:
    bogor, surabaya, better_off = await three_households(db)
    cycle = await run(db, "2026-03", "ID")
    bogor_head, bogor_child = await niks_of(db, bogor)
    surabaya_head, surabaya_child = await niks_of(db, surabaya)
    [not_poor] = await niks_of(db, better_off)
    unknown_surabaya = make_nik("35.78.01", date(1970, 5, 5), Sex.MALE, 77)  # not in the registry
    unknown_other = make_nik("32.01.01", date(1971, 5, 5), Sex.MALE, 78)  # not in the registry, not PBI
    extract = write_csv(
        tmp_path / "bpjs.csv",
        [
            [bogor_head, "0000000000001", "PBI-APBN", "true"],
            [bogor_child, "0000000000002", "PBI-APBD", "true"],
            [surabaya_head, "0000000000003", "PBI-APBN", "false"],
            [not_poor, "0000000000004", "PBI-APBN", "true"],
            [unknown_surabaya, "0000000000005", "PBI-APBN", "true"],
            [unknown_other, "0000000000006", "OTHER", "true"],
        ],
        BPJS_HEADER,
    )
    assert siks("reference", "load", "bpjs", str(extract)).returncode == 0
    out = tmp_path / "out"
    ran = siks("pbi-jk", "reconcile", str(cycle.id), "--output", str(out))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "regency_code\trecipients\tpbi_active\tto_register\tto_deactivate",
        "32.01\t2\t1\t1\t1",
        "35.78\t2\t0\t2\t1",
        "total\t4\t1\t3\t2",
    ]
    [lines_path] = out.glob("*_reconciliation.csv")
    [summary_path] = out.glob("*_summary.csv")
    lines = {row["nik"]: row for row in read_csv(lines_path)}
    assert {nik: (row["regency_code"], row["outcome"]) for nik, row in lines.items()} == {
        bogor_head: (BOGOR, "pbi_active"),
        bogor_child: (BOGOR, "to_register"),
        not_poor: (BOGOR, "to_deactivate"),
        surabaya_head: (SURABAYA, "to_register"),
        surabaya_child: (SURABAYA, "to_register"),
        unknown_surabaya: (SURABAYA, "to_deactivate"),
    }
    assert (lines[bogor_child]["card_number"], lines[bogor_child]["bpjs_segment"]) == ("0000000000002", "PBI-APBD")
    assert (lines[surabaya_child]["card_number"], lines[surabaya_child]["bpjs_segment"]) == ("", "")
    assert lines[not_poor]["card_number"] == "0000000000004"
    assert read_csv(summary_path)[-1] == {
        "regency_code": "total",
        "recipients": "4",
        "pbi_active": "1",
        "to_register": "3",
        "to_deactivate": "2",
    }
    # Scoped to one regency: only its recipients and the PBI members counted there.
    ran = siks("pbi-jk", "reconcile", str(cycle.id), "--output", str(out), "--region", SURABAYA)
    assert ran.stdout.splitlines()[1:] == ["35.78\t2\t0\t2\t1", "total\t2\t0\t2\t1"]
    async with db.connect() as conn:
        audited = (
            await conn.execute(
                select(AUDIT.c.entity_id, AUDIT.c.after)
                .where(AUDIT.c.operation == "reconcilePbiJk", AUDIT.c.entity_id == str(cycle.id))
                .order_by(AUDIT.c.seq)
            )
        ).all()
    assert [entity_id for entity_id, _after in audited] == [str(cycle.id)] * 2
    first = json.loads(audited[0][1])
    assert {key: first[key] for key in ("region", "recipients", "pbi_active", "to_register", "to_deactivate")} == {
        "region": "ID",
        "recipients": 4,
        "pbi_active": 1,
        "to_register": 3,
        "to_deactivate": 2,
    }
    assert bogor_head not in audited[0][1]  # the audit row holds counts, not people


NO_SNAPSHOT = "no BPJS snapshot is loaded; load BPJS's file with `siks reference load bpjs`"
RECONCILIATION = """query($cycle: ID!, $region: String) { programs { pbiJkReconciliation(cycleId: $cycle,
  regionCode: $region) { __typename ... on PbiJkReconciliation { period regionCode bpjsSnapshot
  regencies { regencyCode recipients pbiActive toRegister toDeactivate } total { regencyCode recipients toDeactivate } }
  ... on Error { message code } ... on ValidationError { fields { field message } } } } }"""


async def test_graphql_answers_counts_in_the_callers_region_and_audits(
    db: AsyncEngine, gql: GraphQLClient, as_role: Any, tmp_path: Path
) -> None:
    bogor, _surabaya, better_off = await three_households(db)
    cycle = await run(db, "2026-03", "ID")
    cycle_id = encode("ProgramCycle", cycle.id)
    ask = {"cycle": cycle_id}
    refused = (await gql(RECONCILIATION, ask))["programs"]["pbiJkReconciliation"]
    assert refused["__typename"] == "ValidationError"
    assert refused["fields"] == [{"field": "bpjsSnapshot", "message": NO_SNAPSHOT}]
    bogor_head, _child = await niks_of(db, bogor)
    [not_poor] = await niks_of(db, better_off)
    rows = [[bogor_head, "0000000000001", "PBI-APBN", "true"], [not_poor, "0000000000004", "PBI-APBN", "true"]]
    assert siks("reference", "load", "bpjs", str(write_csv(tmp_path / "bpjs.csv", rows, BPJS_HEADER))).returncode == 0
    national = (await gql(RECONCILIATION, ask))["programs"]["pbiJkReconciliation"]
    assert national["__typename"] == "PbiJkReconciliation" and national["regionCode"] == "ID"
    assert national["regencies"] == [
        {"regencyCode": BOGOR, "recipients": 2, "pbiActive": 1, "toRegister": 1, "toDeactivate": 1},
        {"regencyCode": SURABAYA, "recipients": 2, "pbiActive": 0, "toRegister": 2, "toDeactivate": 0},
    ]
    assert national["total"] == {"regencyCode": "total", "recipients": 4, "toDeactivate": 1}
    # A regency office sees its own part of the national cycle, and nothing of another regency.
    surabaya_office = as_role("regency_office", SURABAYA)
    own = (await surabaya_office(RECONCILIATION, ask))["programs"]["pbiJkReconciliation"]
    assert own["regionCode"] == SURABAYA and [r["regencyCode"] for r in own["regencies"]] == [SURABAYA]
    other = await surabaya_office.raw(RECONCILIATION, {**ask, "region": BOGOR})
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A cycle over Bogor only does not exist for Surabaya's office.
    bogor_cycle = await run(db, "2026-04", BOGOR)
    unseen = (await surabaya_office(RECONCILIATION, {"cycle": encode("ProgramCycle", bogor_cycle.id)}))["programs"]
    assert unseen["pbiJkReconciliation"]["__typename"] == "NotFound"
    # Roles that may not read enrollments are refused; wrong input is a typed error.
    public = await as_role("public").raw(RECONCILIATION, ask)
    assert public["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")
    wrong = (await gql(RECONCILIATION, {**ask, "region": "99.99"}))["programs"]["pbiJkReconciliation"]
    assert wrong["fields"][0]["field"] == "regionCode"
    async with db.connect() as conn:
        audited = (
            await conn.execute(
                select(AUDIT.c.actor, AUDIT.c.after)
                .where(AUDIT.c.operation == "reconcilePbiJk", AUDIT.c.entity_id == str(cycle.id))
                .order_by(AUDIT.c.seq)
            )
        ).all()
    assert [(actor, json.loads(after)["region"]) for actor, after in audited] == [
        ("test-data_centre", "ID"),
        ("test-regency_office", SURABAYA),
    ]


async def test_bad_input_is_refused_and_nothing_is_written(db: AsyncEngine, tmp_path: Path) -> None:
    await three_households(db)
    bogor_cycle = await run(db, "2026-03", factories.VILLAGE.rsplit(".", 2)[0])  # Bogor's district 32.01.01
    out = tmp_path / "out"
    audited_before = await pbi_jk_audit_rows(db)
    cases = [
        (("export", "1"), "no PBI-JK program cycle with id 1"),
        (("export", str(bogor_cycle.id), "--region", SURABAYA), "region: 35.78 is outside cycle"),
        (("export", str(bogor_cycle.id), "--region", "32.1"), "region: '32.1' is not a loaded Kemendagri region code"),
        (("export", str(bogor_cycle.id), "--region", "32.99"), "region: '32.99' is not a loaded Kemendagri region"),
        (("reconcile", str(bogor_cycle.id)), "snapshot: no BPJS snapshot is loaded"),
        (("reconcile", str(bogor_cycle.id), "--snapshot", "5"), "snapshot: 5 is not a completed BPJS snapshot"),
    ]
    for arguments, message in cases:
        ran = siks("pbi-jk", *arguments, "--output", str(out))
        assert ran.returncode == 2, (arguments, ran.stdout)
        assert message in ran.stderr, (arguments, ran.stderr)
    bpnt = await run_cycle(db, build_registry(make_manager(["bpnt"])), "bpnt", "2026-03", "ID", "tester")
    assert isinstance(bpnt, CycleRecord)
    ran = siks("pbi-jk", "export", str(bpnt.id), "--output", str(out))
    assert ran.returncode == 2 and f"no PBI-JK program cycle with id {bpnt.id}" in ran.stderr
    assert not out.exists()
    assert await pbi_jk_audit_rows(db) == audited_before


async def pbi_jk_audit_rows(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return len((await conn.execute(select(AUDIT.c.seq).where(AUDIT.c.operation.like("%PbiJk%")))).all())
