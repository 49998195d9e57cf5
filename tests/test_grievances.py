"""Grievance cases (sanggah): the rules of ``core.grievances`` and the operators' GraphQL over the real
application and database — scope, assign, reply, resolve (UPHELD proposes a removal in the chain,
REJECTED needs a reason), escalation past the deadline, counts, versions and audit rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.foundation.enums import GrievanceReason, HouseholdRemovalReason
from core.foundation.ids import encode_global
from core.foundation.settings import Settings
from core.grievances import cases, handling
from core.models import Grievance, GrievanceEvent, Proposal
from core.models.security import AuditEntry
from core.storage.db import write_transaction
from core.verification import proposals
from tests.cli_support import siks
from tests.conftest import GraphQLClient
from tests.grievance_support import SIBLING, VILLAGE, backdate, filed, officer, recipient
from tests.serving import serve

CASES = """
query($status: GrievanceStatus, $overdue: Boolean, $region: String) {
  grievances(status: $status, overdue: $overdue, regionCode: $region, first: 10) {
    totalCount
    edges { node { id status level reason villageCode assignee version overdue householdId
      events { kind public text level actor } } }
  }
}"""
NODE = "query($id: ID!) { node(id: $id) { __typename ... on Grievance { id status } } }"
RESULT = """
  __typename
  ... on Grievance { id status level assignee version resolution proposal { id kind removalReason status stage } }
  ... on Error { code message }
  ... on ValidationError { fields { field message } }
  ... on VersionConflict { currentVersion }
"""
ASSIGN = f"""mutation($id: ID!, $v: Int!, $who: String!) {{
  assignGrievance(id: $id, version: $v, assignee: $who) {{ {RESULT} }} }}"""
REPLY = f"""mutation($id: ID!, $v: Int!, $text: String!, $public: Boolean!) {{
  replyToGrievance(id: $id, version: $v, text: $text, public: $public) {{ {RESULT} }} }}"""
RESOLVE = f"""mutation($id: ID!, $v: Int!, $outcome: GrievanceOutcome!, $reason: String!,
    $removal: HouseholdRemovalReason) {{
  resolveGrievance(id: $id, version: $v, outcome: $outcome, reason: $reason, removalReason: $removal) {{
    {RESULT} }} }}"""
ESCALATE = "mutation { escalateOverdueGrievances { escalated byLevel { fromLevel cases } } }"
COUNTS = """query($region: String) { grievanceCounts(regionCode: $region) {
  regionCode total overdue byStatus { status count } byAge { band count } } }"""


def gid(grievance_id: int) -> str:
    return encode_global("Grievance", str(grievance_id))


async def audit_operations(engine: AsyncEngine, entity: str = "grievance") -> list[tuple[str, str, str]]:
    table = AuditEntry.__table__
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(table.c.operation, table.c.outcome, table.c.entity_id).where(table.c.entity == entity)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


# --- the rules, without HTTP -------------------------------------------------------------------


def test_an_officer_acts_at_the_level_of_the_case_or_above() -> None:
    assert cases.may_act("32.01.01.1001", "village") and cases.may_act("32.01.01", "village")
    assert not cases.may_act("32.01.01.1001", "district") and cases.may_act("32.01.01", "district")
    assert cases.may_act("", "national") and not cases.may_act("32", "national")


async def test_escalation_by_the_clock_moves_a_level_up_once_per_deadline(db: AsyncEngine) -> None:
    case_id = await filed(db, await recipient(db, "Siti Rosida"), days=14)
    request = RequestInfo(Principal("cli:ops", "cli", ""), client="cli")
    soon = datetime.now(UTC) + timedelta(days=13)
    async with write_transaction(db) as conn:
        assert (await handling.escalate_overdue(conn, request, 14, at=soon)).total == 0
    later = datetime.now(UTC) + timedelta(days=15)
    async with write_transaction(db) as conn:
        assert (await handling.escalate_overdue(conn, request, 14, at=later)).by_level == {"village": 1}
    async with write_transaction(db) as conn:  # its new deadline is 14 days after the escalation
        assert (await handling.escalate_overdue(conn, request, 14, at=later + timedelta(days=1))).total == 0
        case = await cases.grievance_by_id(conn, case_id, "")
        assert (case.level, case.status, case.assignee, case.version) == ("district", "escalated", None, 2)
        assert cases.aware(case.deadline) > later + timedelta(days=13)
        events = (await cases.events_of(conn, [case_id]))[case_id]
    assert [(e.kind, e.level, e.public) for e in events] == [
        ("filed", "village", True),
        ("escalated", "district", True),
    ]


# --- GraphQL -------------------------------------------------------------------------------------


async def test_a_case_is_seen_and_acted_on_only_within_the_region(db: AsyncEngine, as_role: Any) -> None:
    case_id = await filed(db, await recipient(db, "Siti Rosida"))
    village, district = as_role("village_operator", VILLAGE), as_role("district_officer", "32.01.01")
    [edge] = (await village(CASES))["grievances"]["edges"]
    assert edge["node"]["id"] == gid(case_id) and edge["node"]["status"] == "OPEN"
    assert (edge["node"]["level"], edge["node"]["reason"], edge["node"]["overdue"]) == (
        "VILLAGE",
        "NO_LONGER_POOR",
        False,
    )
    assert [e["kind"] for e in edge["node"]["events"]] == ["FILED"]
    assert (await district(CASES))["grievances"]["totalCount"] == 1

    sibling = as_role("village_operator", SIBLING)
    assert (await sibling(CASES))["grievances"] == {"totalCount": 0, "edges": []}
    assert (await sibling(NODE, {"id": gid(case_id)}))["node"] is None
    refused = (await sibling(ASSIGN, {"id": gid(case_id), "v": 1, "who": "x"}))["assignGrievance"]
    assert (refused["__typename"], refused["code"]) == ("NotFound", "NOT_FOUND")
    assert ("assignGrievance", "denied", str(case_id)) in await audit_operations(db)

    forbidden = await as_role("program_officer", "32.01").raw(CASES)
    assert forbidden["data"] is None and forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_assigning_to_an_officer_who_covers_the_village_with_versions(db: AsyncEngine, as_role: Any) -> None:
    case_id = await filed(db, await recipient(db, "Siti Rosida"))
    await officer(db, "op-pondok", "village_operator", VILLAGE)
    await officer(db, "op-karadenan", "village_operator", SIBLING)
    district = as_role("district_officer", "32.01.01")
    wrong = (await district(ASSIGN, {"id": gid(case_id), "v": 1, "who": "op-karadenan"}))["assignGrievance"]
    assert wrong["__typename"] == "ValidationError" and wrong["fields"][0]["field"] == "assignee"
    unknown = (await district(ASSIGN, {"id": gid(case_id), "v": 1, "who": "nobody"}))["assignGrievance"]
    assert unknown["__typename"] == "ValidationError" and "no active officer" in unknown["fields"][0]["message"]

    done = (await district(ASSIGN, {"id": gid(case_id), "v": 1, "who": "op-pondok"}))["assignGrievance"]
    assert (done["__typename"], done["status"], done["assignee"], done["version"]) == (
        "Grievance",
        "ASSIGNED",
        "op-pondok",
        2,
    )
    stale = (await district(ASSIGN, {"id": gid(case_id), "v": 1, "who": "op-pondok"}))["assignGrievance"]
    assert (stale["__typename"], stale["code"], stale["currentVersion"]) == ("VersionConflict", "VERSION_CONFLICT", 2)
    written = [op for op, outcome, key in await audit_operations(db) if outcome == "ok" and key == str(case_id)]
    assert written == ["fileGrievance", "assignGrievance"]


async def test_public_replies_and_internal_notes(db: AsyncEngine, as_role: Any) -> None:
    case_id = await filed(db, await recipient(db, "Siti Rosida"))
    village = as_role("village_operator", VILLAGE)
    said = {"id": gid(case_id), "v": 1, "text": "Kami akan survei rumah minggu ini.", "public": True}
    assert (await village(REPLY, said))["replyToGrievance"]["version"] == 2
    note = {"id": gid(case_id), "v": 2, "text": "Tetangga Pak RT bilang punya toko.", "public": False}
    assert (await village(REPLY, note))["replyToGrievance"]["version"] == 3
    empty = (await village(REPLY, {**note, "v": 3, "text": "  "}))["replyToGrievance"]
    assert empty["__typename"] == "ValidationError" and empty["fields"][0]["field"] == "text"
    [edge] = (await village(CASES))["grievances"]["edges"]
    assert [(e["kind"], e["public"], e["text"]) for e in edge["node"]["events"][1:]] == [
        ("REPLIED", True, said["text"]),
        ("REPLIED", False, note["text"]),
    ]
    assert [op for op, _, key in await audit_operations(db) if key == str(case_id)].count("replyToGrievance") == 2


async def test_rejecting_needs_a_reason_and_closes_the_case(db: AsyncEngine, as_role: Any) -> None:
    case_id = await filed(db, await recipient(db, "Siti Rosida"))
    village = as_role("village_operator", VILLAGE)
    bare = await village(RESOLVE, {"id": gid(case_id), "v": 1, "outcome": "REJECTED", "reason": ""})
    assert bare["resolveGrievance"]["__typename"] == "ValidationError"
    assert bare["resolveGrievance"]["fields"][0]["field"] == "reason"
    reason = "Hasil survei: rumah masih layak dibantu."
    done = await village(RESOLVE, {"id": gid(case_id), "v": 1, "outcome": "REJECTED", "reason": reason})
    assert (done["resolveGrievance"]["status"], done["resolveGrievance"]["resolution"]) == ("REJECTED", reason)
    again = (await village(REPLY, {"id": gid(case_id), "v": 2, "text": "lagi", "public": True}))["replyToGrievance"]
    assert (again["__typename"], again["code"]) == ("GrievanceRefused", "GRIEVANCE_REFUSED")
    assert "already resolved" in again["message"]


async def test_upholding_proposes_the_removal_in_the_chain(db: AsyncEngine, as_role: Any) -> None:
    planted = await recipient(db, "Siti Rosida")
    case_id = await filed(db, planted, reason=GrievanceReason.DECEASED)
    village = as_role("village_operator", VILLAGE)
    reason = "Penerima meninggal dunia bulan lalu (surat kematian dari desa)."
    done = await village(RESOLVE, {"id": gid(case_id), "v": 1, "outcome": "UPHELD", "reason": reason})
    case = done["resolveGrievance"]
    assert (case["__typename"], case["status"], case["version"]) == ("Grievance", "UPHELD", 2)
    proposal = case["proposal"]
    assert (proposal["kind"], proposal["removalReason"], proposal["status"], proposal["stage"]) == (
        "REMOVAL", "DECEASED", "PENDING", "DISTRICT",
    )  # fmt: skip
    async with db.connect() as conn:
        stored = (
            await conn.execute(
                select(Proposal.__table__).where(Proposal.__table__.c.household_id == planted.household_id)
            )
        ).one()
    assert stored.note.startswith(f"sanggah (grievance {case_id})")
    district = as_role("district_officer", "32.01.01")  # the district sees it in its queue like any proposal
    queue = await district("{ proposals(kind: REMOVAL) { edges { node { id } } } }")
    assert [e["node"]["id"] for e in queue["proposals"]["edges"]] == [proposal["id"]]
    assert ("resolveGrievance", "ok", str(case_id)) in await audit_operations(db)
    made = str(stored.id)
    assert ("proposal:propose", "ok", made) in await audit_operations(db, "proposal")


async def test_upholding_is_refused_when_the_chain_refuses_the_proposal(db: AsyncEngine, as_role: Any) -> None:
    planted = await recipient(db, "Siti Rosida")
    case_id = await filed(db, planted, reason=GrievanceReason.OTHER)
    village = as_role("village_operator", VILLAGE)
    no_reason = await village(RESOLVE, {"id": gid(case_id), "v": 1, "outcome": "UPHELD", "reason": "ya"})
    assert no_reason["resolveGrievance"]["fields"][0]["field"] == "removalReason"
    operator = RequestInfo(Principal("op", "village_operator", VILLAGE), client="test")
    async with write_transaction(db) as conn:  # an open proposal about the household already
        made = await proposals.propose_removal(conn, operator, planted.household_id, 1, HouseholdRemovalReason.MOVED)
        assert isinstance(made, proposals.ProposalRecord), made
    variables = {"id": gid(case_id), "v": 1, "outcome": "UPHELD", "reason": "Sudah pindah", "removal": "MOVED"}
    refused = (await village(RESOLVE, variables))["resolveGrievance"]
    assert (refused["__typename"], refused["code"]) == ("GrievanceRefused", "GRIEVANCE_REFUSED")
    assert "removal proposal was refused" in refused["message"] and "already has open proposal" in refused["message"]
    async with db.connect() as conn:
        case = await cases.grievance_by_id(conn, case_id, "")
        count = len((await conn.execute(select(Proposal.__table__.c.id))).all())
    assert (case.status, case.version, case.proposal_id, count) == ("open", 1, None, 1)


async def test_overdue_cases_escalate_to_the_district(db: AsyncEngine, as_role: Any) -> None:
    late = await filed(db, await recipient(db, "Siti Rosida"))
    fresh = await filed(db, await recipient(db, "Budi Santoso"))
    await backdate(db, late, 15)
    village, district = as_role("village_operator", VILLAGE), as_role("district_officer", "32.01.01")
    overdue = (await village(CASES, {"overdue": True}))["grievances"]["edges"]
    assert [e["node"]["id"] for e in overdue] == [gid(late)] and overdue[0]["node"]["overdue"] is True
    assert (await village(CASES, {"overdue": False}))["grievances"]["edges"][0]["node"]["id"] == gid(fresh)

    done = (await village(ESCALATE))["escalateOverdueGrievances"]
    assert done == {"escalated": 1, "byLevel": [{"fromLevel": "VILLAGE", "cases": 1}]}
    [edge] = (await district(CASES, {"status": "ESCALATED"}))["grievances"]["edges"]
    node = edge["node"]
    assert (node["id"], node["level"], node["overdue"], node["version"]) == (gid(late), "DISTRICT", False, 2)
    assert node["events"][-1]["kind"] == "ESCALATED" and node["events"][-1]["level"] == "DISTRICT"
    below = await village(REPLY, {"id": gid(late), "v": 2, "text": "Masih kami cek.", "public": True})
    assert below["replyToGrievance"]["__typename"] == "GrievanceRefused"
    assert "district level" in below["replyToGrievance"]["message"]
    reason = "Dicek kecamatan: masih layak."
    decided = await district(RESOLVE, {"id": gid(late), "v": 2, "outcome": "REJECTED", "reason": reason})
    assert decided["resolveGrievance"]["status"] == "REJECTED"
    assert ("escalateGrievance", "ok", str(late)) in await audit_operations(db)


async def test_siks_grievances_escalate_runs_the_same_for_the_country(db: AsyncEngine) -> None:
    late = await filed(db, await recipient(db, "Siti Rosida"))
    await backdate(db, late, 20)
    ran = await asyncio.to_thread(siks, "grievances", "escalate")
    assert ran.returncode == 0, ran.stderr
    assert "escalated 1 grievance(s): 1 from village" in ran.stdout
    async with db.connect() as conn:
        case = await cases.grievance_by_id(conn, late, "")
    assert (case.level, case.status) == ("district", "escalated")
    again = await asyncio.to_thread(siks, "grievances", "escalate")
    assert "escalated 0 grievance(s): none overdue" in again.stdout


async def test_the_server_escalates_overdue_cases_by_itself(db: AsyncEngine, settings: Settings) -> None:
    """With ``SIKS_GRIEVANCE_ESCALATION_SECONDS`` set, a running server moves an overdue case without a command."""
    late = await filed(db, await recipient(db, "Siti Rosida"))
    await backdate(db, late, 20)
    async with serve(settings.model_copy(update={"grievance_escalation_seconds": 1})) as http:
        assert (await http.get("/health")).status_code == 200
        for _ in range(100):
            async with db.connect() as conn:
                case = await cases.grievance_by_id(conn, late, "")
            if case.level == "district":
                break
            await asyncio.sleep(0.1)
    assert (case.level, case.status) == ("district", "escalated")
    async with db.connect() as conn:
        actors = (
            (
                await conn.execute(
                    select(AuditEntry.__table__.c.actor).where(AuditEntry.__table__.c.entity_id == str(late))
                )
            )
            .scalars()
            .all()
        )
    assert "siks:escalation" in actors


async def test_counts_by_status_and_age(db: AsyncEngine, as_role: Any) -> None:
    ids = [
        await filed(db, await recipient(db, name))
        for name in ("Siti Rosida", "Budi Santoso", "Ayu Lestari", "Dewi Sartika")
    ]
    await backdate(db, ids[1], 10)
    await backdate(db, ids[2], 20)
    village = as_role("village_operator", VILLAGE)
    done = await village(RESOLVE, {"id": gid(ids[3]), "v": 1, "outcome": "REJECTED", "reason": "Masih layak."})
    assert done["resolveGrievance"]["status"] == "REJECTED"
    counts = (await village(COUNTS))["grievanceCounts"]
    assert (counts["regionCode"], counts["total"], counts["overdue"]) == (VILLAGE, 4, 1)
    assert {c["status"]: c["count"] for c in counts["byStatus"]} == {
        "OPEN": 3, "ASSIGNED": 0, "ESCALATED": 0, "UPHELD": 0, "REJECTED": 1,
    }  # fmt: skip
    assert [(c["band"], c["count"]) for c in counts["byAge"]] == [
        ("UNDER_7_DAYS", 1), ("DAYS_7_TO_14", 1), ("OVER_14_DAYS", 1),
    ]  # fmt: skip
    other = (await as_role("district_officer", "32.01.01")(COUNTS, {"region": SIBLING}))["grievanceCounts"]
    assert other["total"] == 0
    async with db.connect() as conn:
        assert len((await conn.execute(select(Grievance.__table__.c.id))).all()) == 4
        assert len((await conn.execute(select(GrievanceEvent.__table__.c.id))).all()) == 5


async def test_two_officers_acting_at_once_never_lose_an_update(db: AsyncEngine, as_role: Any) -> None:
    case_id = await filed(db, await recipient(db, "Siti Rosida"))
    village: GraphQLClient = as_role("village_operator", VILLAGE)
    first, second = await asyncio.gather(
        village(REPLY, {"id": gid(case_id), "v": 1, "text": "Balasan pertama.", "public": True}),
        village(REPLY, {"id": gid(case_id), "v": 1, "text": "Balasan kedua.", "public": True}),
    )
    kinds = sorted([first["replyToGrievance"]["__typename"], second["replyToGrievance"]["__typename"]])
    assert kinds == ["Grievance", "VersionConflict"]
    async with db.connect() as conn:
        events = (await cases.events_of(conn, [case_id]))[case_id]
    assert [e.kind for e in events] == ["filed", "replied"]
