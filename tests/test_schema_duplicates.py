"""GraphQL: duplicateCandidates and resolveDuplicate (core/schema/duplicates.py), over pairs written directly.

Scope (a pair is seen when one side's village is in the caller's region; the other side shows only
what a decision needs), SAME through the verification chain until the member is ``duplicate``,
DIFFERENT, typed errors, audit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import DuplicateKind, Relationship
from core.identity.duplicates import CANDIDATES, Candidate, store_candidates
from core.models import AuditEntry, IdentityRun
from core.schema.global_ids import encode
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_verification_determination import determine, to_the_top
from tests.verification_support import registered

AUDIT = AuditEntry.__table__
VILLAGE, OTHER = factories.VILLAGE, factories.OTHER_VILLAGE

LIST = """query($status: DuplicateStatus, $kind: DuplicateKind, $region: String) {
  duplicateCandidates(status: $status, kind: $kind, regionCode: $region, first: 10) {
    totalCount
    edges { node { id kind status probability agreeing version decidedBy
      first { memberId householdId villageCode name nik sex birthDate relationship kkNumber activeMembers inYourRegion
              household { id kkNumber } }
      second { memberId householdId villageCode name nik sex birthDate relationship kkNumber activeMembers inYourRegion
               household { id kkNumber } }
      memberPairs { id }
      proposal { id kind status villageCode } } } } }"""
RESOLVE = """mutation($id: ID!, $decision: DuplicateDecision!, $keep: ID, $version: Int!, $reason: String) {
  resolveDuplicate(id: $id, decision: $decision, keep: $keep, version: $version, reason: $reason) {
    __typename
    ... on DuplicateCandidate { id status version decidedBy proposal { id kind status villageCode removalReason } }
    ... on Error { message code }
    ... on ValidationError { fields { field message } }
    ... on DecisionRefused { status }
    ... on VersionConflict { currentVersion } } }"""


async def child_of(engine: AsyncEngine, household_id: int) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(MEMBERS).where(
                    MEMBERS.c.household_id == household_id, MEMBERS.c.relationship == Relationship.CHILD.value
                )
            )
        ).one()


async def write_pairs(engine: AsyncEngine, pairs: list[Candidate]) -> list[str]:
    at = datetime.now(UTC)
    runs = IdentityRun.__table__
    async with write_transaction(engine) as conn:
        if await conn.scalar(select(runs.c.id).where(runs.c.id == 7)) is None:
            await conn.execute(
                runs.insert().values(id=7, kind="dedup", status="completed", started_by="t", started_at=at, summary={})
            )
        await store_candidates(conn, 7, pairs, "32.01.01.2001", at)  # a region with no pairs: withdraws nothing
        rows = await conn.execute(select(CANDIDATES.c.id, CANDIDATES.c.first_id, CANDIDATES.c.second_id))
        found = {(row.first_id, row.second_id): row.id for row in rows}
    return [encode("DuplicateCandidate", found[(pair.first_id, pair.second_id)]) for pair in pairs]


async def person_pair(engine: AsyncEngine, second_village: str = OTHER) -> tuple[str, Any, Any]:
    """A child of a VILLAGE household paired with a child of a ``second_village`` household."""
    (here,) = await registered(engine, 1)
    (there,) = await registered(engine, 1, village=second_village)
    a, b = await child_of(engine, here.id), await child_of(engine, there.id)
    (first, second) = sorted((a, b), key=lambda m: m.id)
    pair = Candidate(
        DuplicateKind.SAME_PERSON, first.id, second.id, first.household_id, second.household_id,
        VILLAGE if first is a else second_village, second_village if first is a else VILLAGE,
        0.97, ("birth_date", "name", "sex"),
    )  # fmt: skip
    (candidate,) = await write_pairs(engine, [pair])
    return candidate, a, b


async def test_operators_see_pairs_touching_their_region_and_only_what_a_decision_needs_of_the_other_side(
    db: AsyncEngine, as_role: Any, gql: GraphQLClient
) -> None:
    candidate, here, there = await person_pair(db)
    national = (await gql(LIST, {"status": "OPEN"}))["duplicateCandidates"]
    assert national["totalCount"] == 1
    node = national["edges"][0]["node"]
    assert node["id"] == candidate and node["kind"] == "SAME_PERSON" and node["status"] == "OPEN"
    assert node["agreeing"] == ["birth_date", "name", "sex"] and node["version"] == 1 and node["memberPairs"] == []
    village = as_role("village_operator", VILLAGE)
    seen = (await village(LIST))["duplicateCandidates"]["edges"][0]["node"]
    mine, other = (
        (seen["first"], seen["second"]) if seen["first"]["villageCode"] == VILLAGE else (seen["second"], seen["first"])
    )
    assert mine["inYourRegion"] and mine["household"] is not None and mine["memberId"] == encode("Member", here.id)
    assert not other["inYourRegion"] and other["household"] is None  # the full household only in one's region
    assert other["name"] == there.name and other["nik"] == there.nik and other["activeMembers"] == 3
    assert other["relationship"] == "CHILD" and other["kkNumber"]
    for role, scope in (("village_operator", "32.01.01.2001"), ("regency_office", "33.01")):
        assert (await as_role(role, scope)(LIST))["duplicateCandidates"] == {"totalCount": 0, "edges": []}
    assert (await gql(LIST, {"region": "35"}))["duplicateCandidates"]["totalCount"] == 1
    assert (await gql(LIST, {"region": "33"}))["duplicateCandidates"]["totalCount"] == 0
    assert (await gql(LIST, {"status": "DIFFERENT"}))["duplicateCandidates"]["totalCount"] == 0
    assert (await gql(LIST, {"kind": "SAME_FAMILY"}))["duplicateCandidates"]["totalCount"] == 0
    refused = await as_role("program_officer", "32").raw(LIST)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_same_proposes_removing_the_duplicate_and_the_chain_makes_the_member_duplicate(
    db: AsyncEngine, as_role: Any, gql: GraphQLClient
) -> None:
    candidate, here, there = await person_pair(db, second_village="32.01.01.1002")
    district = as_role("district_officer", "32.01.01")
    answer = (
        await district(
            RESOLVE,
            {"id": candidate, "decision": "SAME", "keep": encode("Member", here.id), "version": 1, "reason": "sama"},
        )
    )["resolveDuplicate"]
    assert answer["__typename"] == "DuplicateCandidate", answer
    assert answer["status"] == "SAME" and answer["version"] == 2 and answer["decidedBy"] == "test-district_officer"
    proposal = answer["proposal"]
    assert (
        proposal["kind"] == "CHANGE" and proposal["status"] == "PENDING" and proposal["villageCode"] == "32.01.01.1002"
    )
    async with db.connect() as conn:  # nothing changes in the registry until the chain determines it
        assert (await conn.execute(select(MEMBERS.c.status).where(MEMBERS.c.id == there.id))).scalar_one() == "active"
    from core.schema.global_ids import decode

    await to_the_top(db, [int(decode(proposal["id"])[1])])  # type: ignore[index]
    await determine(db, "dedup")
    async with db.connect() as conn:
        status = (await conn.execute(select(MEMBERS.c.status).where(MEMBERS.c.id == there.id))).scalar_one()
        kept = (await conn.execute(select(MEMBERS.c.status).where(MEMBERS.c.id == here.id))).scalar_one()
        audit = (  # the audit log is kept between tests: this test's row is the latest
            await conn.execute(
                select(AUDIT).where(AUDIT.c.operation == "resolveDuplicate").order_by(AUDIT.c.seq.desc()).limit(1)
            )
        ).one()
    assert (status, kept) == ("duplicate", "active")
    assert audit.actor == "test-district_officer" and audit.outcome == "ok" and '"same"' in audit.after
    again = (await district(RESOLVE, {"id": candidate, "decision": "DIFFERENT", "version": 2}))["resolveDuplicate"]
    assert again["__typename"] == "DecisionRefused" and again["status"] == "SAME" and again["code"] == "ALREADY_DECIDED"


async def test_a_family_registered_twice_is_removed_whole_and_different_closes_a_pair(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    one, two = await registered(db, 2)
    family = Candidate(DuplicateKind.SAME_FAMILY, one.id, two.id, one.id, two.id, VILLAGE, VILLAGE, 0.9, ("members",))
    (candidate,) = await write_pairs(db, [family])
    node = (await gql(LIST, {"kind": "SAME_FAMILY"}))["duplicateCandidates"]["edges"][0]["node"]
    assert node["first"]["memberId"] is None and node["first"]["relationship"] == "HEAD"
    assert node["first"]["activeMembers"] == 3
    wrong = (await gql(RESOLVE, {"id": candidate, "decision": "SAME", "keep": encode("Member", 5), "version": 1}))[
        "resolveDuplicate"
    ]
    assert wrong["__typename"] == "ValidationError" and wrong["fields"][0]["field"] == "keep", wrong
    answer = (
        await gql(RESOLVE, {"id": candidate, "decision": "SAME", "keep": encode("Household", two.id), "version": 1})
    )["resolveDuplicate"]
    assert answer["proposal"]["kind"] == "REMOVAL" and answer["proposal"]["removalReason"] == "DUPLICATE", answer
    async with db.connect() as conn:
        assert (
            await conn.execute(select(HOUSEHOLDS.c.status).where(HOUSEHOLDS.c.id == one.id))
        ).scalar_one() == "active"
    other, _, _ = await person_pair(db)
    closed = (await gql(RESOLVE, {"id": other, "decision": "DIFFERENT", "version": 1, "reason": "kembar"}))[
        "resolveDuplicate"
    ]
    assert (
        closed["__typename"] == "DuplicateCandidate" and closed["status"] == "DIFFERENT" and closed["proposal"] is None
    )


async def test_bad_input_and_records_out_of_reach_are_typed_errors_and_change_nothing(
    db: AsyncEngine, as_role: Any, gql: GraphQLClient
) -> None:
    async with db.connect() as conn:  # the audit log is kept between tests: count only this test's rows
        first_seq = await conn.scalar(select(func.coalesce(func.max(AUDIT.c.seq), 0)))
    candidate, here, there = await person_pair(db)
    cases = [
        ({"decision": "SAME", "version": 1}, "ValidationError", "keep"),
        ({"decision": "SAME", "keep": encode("Member", 12345), "version": 1}, "ValidationError", "keep"),
        ({"decision": "DIFFERENT", "keep": encode("Member", here.id), "version": 1}, "ValidationError", "keep"),
        ({"decision": "SAME", "keep": encode("Region", VILLAGE), "version": 1}, "ValidationError", "keep"),
        ({"decision": "DIFFERENT", "version": 1, "reason": "x" * 501}, "ValidationError", "reason"),
        ({"decision": "DIFFERENT", "version": 3}, "VersionConflict", None),
    ]
    for arguments, typename, field in cases:
        answer = (await gql(RESOLVE, {"id": candidate, **arguments}))["resolveDuplicate"]
        assert answer["__typename"] == typename, (arguments, answer)
        if field:
            assert answer["fields"][0]["field"] == field, answer
    garbage = (await gql(RESOLVE, {"id": "nonsense", "decision": "DIFFERENT", "version": 1}))["resolveDuplicate"]
    assert garbage["__typename"] == "ValidationError" and garbage["fields"][0]["field"] == "id"
    # Outside the caller's region: as if it did not exist (audited as denied).
    stranger = as_role("village_operator", "32.01.01.2001")
    missing = (await stranger(RESOLVE, {"id": candidate, "decision": "DIFFERENT", "version": 1}))["resolveDuplicate"]
    assert missing["__typename"] == "NotFound", missing
    # One side in the region, but removing the other would reach outside it.
    village = as_role("village_operator", VILLAGE)
    outside = (
        await village(RESOLVE, {"id": candidate, "decision": "SAME", "keep": encode("Member", here.id), "version": 1})
    )["resolveDuplicate"]
    assert outside["__typename"] == "ValidationError" and "outside your region" in outside["fields"][0]["message"]
    # Removing a head with other members is refused with what to do instead.
    async with db.connect() as conn:
        head = (
            await conn.execute(
                select(MEMBERS).where(MEMBERS.c.household_id == here.household_id, MEMBERS.c.relationship == "head")
            )
        ).one()
    (head_pair,) = [c for c in await write_pairs_again(db, head.id, head.household_id, there)]
    headed = (
        await gql(RESOLVE, {"id": head_pair, "decision": "SAME", "keep": encode("Member", there.id), "version": 1})
    )["resolveDuplicate"]
    assert headed["__typename"] == "ValidationError" and "new head" in headed["fields"][0]["message"], headed
    async with db.connect() as conn:
        rows = list(await conn.execute(select(CANDIDATES.c.status, CANDIDATES.c.version)))
        denied = list(
            await conn.execute(
                select(AUDIT.c.entity_id).where(
                    AUDIT.c.outcome == "denied", AUDIT.c.operation == "resolveDuplicate", AUDIT.c.seq > first_seq
                )
            )
        )
    assert {(r.status, r.version) for r in rows} == {("open", 1)}
    assert len(denied) == 2
    forbidden = await as_role("program_officer", "32").raw(
        RESOLVE, {"id": candidate, "decision": "DIFFERENT", "version": 1}
    )
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def write_pairs_again(engine: AsyncEngine, member_id: int, household_id: int, other: Any) -> list[str]:
    mine, theirs = (member_id, household_id, VILLAGE), (other.id, other.household_id, OTHER)
    low, high = sorted((mine, theirs))
    pair = Candidate(DuplicateKind.SAME_PERSON, low[0], high[0], low[1], high[1], low[2], high[2], 0.9, ("name",))
    return await write_pairs(engine, [pair])


async def test_a_pair_whose_same_proposal_was_rejected_may_be_decided_again(db: AsyncEngine, as_role: Any) -> None:
    from tests.verification_support import REJECT

    candidate, here, _there = await person_pair(db, second_village="32.01.01.1002")
    district = as_role("district_officer", "32.01.01")
    same = {"id": candidate, "decision": "SAME", "keep": encode("Member", here.id), "version": 1}
    proposal = (await district(RESOLVE, same))["resolveDuplicate"]["proposal"]
    refused = (await district(RESOLVE, {"id": candidate, "decision": "DIFFERENT", "version": 2}))["resolveDuplicate"]
    assert refused["__typename"] == "DecisionRefused", refused  # the proposal is still in the chain
    rejected = (await district(REJECT, {"id": proposal["id"], "reason": "bukan orang yang sama"}))["rejectProposal"]
    assert rejected["status"] == "REJECTED", rejected

    again = (await district(RESOLVE, {"id": candidate, "decision": "DIFFERENT", "version": 2}))["resolveDuplicate"]

    assert again["__typename"] == "DuplicateCandidate", again
    assert again["status"] == "DIFFERENT" and again["version"] == 3 and again["proposal"] is None
