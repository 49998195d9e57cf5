"""An identity check's Adminduk discrepancies become proposals at the household's village: one a
household, never twice, never over an open proposal; the chain decides, and only then the registry changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import (
    HouseholdRemovalReason,
    IdentityRunKind,
    IdentityRunStatus,
    IdentityStatus,
    Sex,
)
from core.foundation.refusals import Invalid, Missing
from core.households.identity import make_nik
from core.identity.consequences import Proposed, propose_from_run
from core.models import PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS, AuditEntry
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS, MEMBERS
from core.verification import chain, proposals
from core.verification.drafts import PROPOSALS
from tests.cli_support import siks
from tests.identity_support import CHECKS, identity_run, outcome
from tests.test_verification_determination import determine, to_the_top
from tests.verification_support import officer, registered

DECEASED, MOVED, SUGGESTED = IdentityStatus.DECEASED, IdentityStatus.MOVED, IdentityStatus.NIK_SUGGESTED
VERIFIED = IdentityStatus.VERIFIED
NEW_VILLAGE = "32.01.01.1002"  # the same district
AUDIT = AuditEntry.__table__


def corrected_nik(member: Any, serial: int = 9001) -> str:
    """A valid NIK for ``member`` other than theirs (what the civil registry knows them by)."""
    return make_nik("32.01.01", member.birth_date, Sex(member.sex), serial)


async def propose(db: AsyncEngine, run_id: int) -> Proposed:
    result = await propose_from_run(db, run_id, by="pusdatin")
    assert isinstance(result, Proposed), result
    return result


async def open_proposals(db: AsyncEngine) -> dict[int, Any]:
    """household id → its proposal row."""
    async with db.connect() as conn:
        return {row.household_id: row for row in await conn.execute(select(PROPOSALS))}


async def proposed_members(db: AsyncEngine, proposal_id: int) -> dict[int, Any]:
    async with db.connect() as conn:
        rows = await conn.execute(select(PROPOSED_MEMBERS).where(PROPOSED_MEMBERS.c.proposal_id == proposal_id))
        return {row.member_id: row for row in rows}


async def linked(db: AsyncEngine, run_id: int) -> dict[int, int | None]:
    """member id → the proposal its check of ``run_id`` became."""
    async with db.connect() as conn:
        rows = await conn.execute(select(CHECKS.c.member_id, CHECKS.c.proposal_id).where(CHECKS.c.run_id == run_id))
        return {row.member_id: row.proposal_id for row in rows}


async def test_each_kind_of_discrepancy_becomes_a_proposal_at_the_village(db: AsyncEngine) -> None:
    dead_child, corrected, moving, leaving, unsure = await registered(db, 5)
    whole_family = [outcome(m, moving, MOVED, newVillageCode=NEW_VILLAGE) for m in moving.members]
    run_id = await identity_run(
        db,
        [
            outcome(dead_child.members[2], dead_child, DECEASED, deathDate="2026-03-01"),
            outcome(
                corrected.members[1],
                corrected,
                SUGGESTED,
                suggested_nik=corrected_nik(corrected.members[1]),
                probability=0.97,
            ),  # fmt: skip
            *whole_family,
            outcome(leaving.members[2], leaving, MOVED, newVillageCode="35.78.01.1001"),
            outcome(
                unsure.members[0], unsure, SUGGESTED, suggested_nik=corrected_nik(unsure.members[0]), probability=0.6
            ),
            outcome(unsure.members[1], unsure, VERIFIED),
        ],
    )
    result = await propose(db, run_id)
    assert (result.proposals, result.deceased_removals, result.nik_corrections) == (4, 1, 1)
    assert (result.household_moves, result.moved_removals, result.below_probability) == (1, 1, 1)
    assert result.refused == 0 and result.open_proposal == 0
    made = await open_proposals(db)
    assert set(made) == {dead_child.id, corrected.id, moving.id, leaving.id}
    for proposal in made.values():
        assert (proposal.kind, proposal.stage, proposal.status) == ("change", "district", "pending")
        assert proposal.village_code == dead_child.village_code and proposal.created_by == "pusdatin"
        assert proposal.note.startswith(f"From identity check run {run_id} (Adminduk): ")
    assert made[dead_child.id].note.endswith(f"member {dead_child.members[2].id} deceased")
    removed = await proposed_members(db, made[dead_child.id].id)
    assert {m: r.status for m, r in removed.items()} == {dead_child.members[2].id: "deceased"}
    fixed = await proposed_members(db, made[corrected.id].id)
    assert fixed[corrected.members[1].id].nik == corrected_nik(corrected.members[1])
    assert corrected_nik(corrected.members[1]) not in made[corrected.id].note  # the note carries no reference values
    async with db.connect() as conn:
        moved_to = (
            await conn.execute(
                select(PROPOSED_HOUSEHOLDS.c.village_code, PROPOSED_HOUSEHOLDS.c.latitude).where(
                    PROPOSED_HOUSEHOLDS.c.proposal_id == made[moving.id].id
                )
            )
        ).one()
    assert tuple(moved_to) == (NEW_VILLAGE, None)
    assert await proposed_members(db, made[moving.id].id) == {}  # the members go with the household
    gone = await proposed_members(db, made[leaving.id].id)
    assert {m: r.status for m, r in gone.items()} == {leaving.members[2].id: "moved"}
    links = await linked(db, run_id)
    assert links[dead_child.members[2].id] == made[dead_child.id].id
    assert {links[m.id] for m in moving.members} == {made[moving.id].id}
    assert links[unsure.members[0].id] is None and links[unsure.members[1].id] is None
    async with db.connect() as conn:  # nothing changed in the registry yet
        households = {row.id: row for row in await conn.execute(select(HOUSEHOLDS))}
        statuses = set((await conn.execute(select(MEMBERS.c.status))).scalars())
    assert households[moving.id].village_code == moving.village_code and statuses == {"active"}
    assert {h.version for h in households.values()} == {1}


async def test_one_run_makes_one_proposal_a_household_combining_its_findings(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    head, spouse, child = household.members
    run_id = await identity_run(
        db,
        [
            outcome(child, household, DECEASED, deathDate="2026-01-05"),
            outcome(spouse, household, SUGGESTED, suggested_nik=corrected_nik(spouse), probability=0.92),
            outcome(head, household, VERIFIED),
        ],
    )
    result = await propose(db, run_id)
    assert (result.proposals, result.deceased_removals, result.nik_corrections) == (1, 1, 1)
    (made,) = (await open_proposals(db)).values()
    changes = await proposed_members(db, made.id)
    assert (changes[child.id].status, changes[spouse.id].nik) == ("deceased", corrected_nik(spouse))
    assert set((await linked(db, run_id)).values()) == {made.id, None}  # the verified head links to nothing


async def test_a_rerun_or_a_later_run_proposes_nothing_twice(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    dead = household.members[2]
    first = await identity_run(db, [outcome(dead, household, DECEASED, deathDate="2026-02-02")])
    assert (await propose(db, first)).proposals == 1
    again = await propose(db, first)
    assert (again.proposals, again.already_proposed) == (0, 1)
    later = await identity_run(db, [outcome(dead, household, DECEASED, deathDate="2026-02-02")])
    next_time = await propose(db, later)
    assert (next_time.proposals, next_time.already_proposed, next_time.open_proposal) == (0, 1, 0)
    (made,) = (await open_proposals(db)).values()
    assert (await linked(db, later))[dead.id] == made.id
    # Rejected by the operators: a later run does not bring it back either.
    async with write_transaction(db) as conn:
        rejected = await chain.reject(conn, officer("district_officer"), made.id, "masih hidup, sudah dicek")
    assert rejected.status == "rejected"
    third = await identity_run(db, [outcome(dead, household, DECEASED, deathDate="2026-02-02")])
    assert (await propose(db, third)).already_proposed == 1
    assert len(await open_proposals(db)) == 1


async def test_a_household_with_an_open_proposal_is_skipped_and_counted(db: AsyncEngine) -> None:
    busy, free = await registered(db, 2)
    async with write_transaction(db) as conn:
        theirs = await proposals.propose_removal(
            conn, officer("village_operator"), busy.id, busy.version, HouseholdRemovalReason.NOT_FOUND, "tidak ada"
        )
    assert isinstance(theirs, proposals.ProposalRecord)
    run_id = await identity_run(
        db,
        [
            outcome(busy.members[1], busy, DECEASED, deathDate="2026-04-04"),
            outcome(free.members[1], free, DECEASED, deathDate="2026-04-04"),
        ],
    )
    result = await propose(db, run_id)
    assert (result.proposals, result.open_proposal) == (1, 1)
    links = await linked(db, run_id)
    assert links[busy.members[1].id] is None and links[free.members[1].id] is not None
    made = await open_proposals(db)
    assert made[busy.id].id == theirs.id  # untouched


async def test_the_chain_determines_a_deceased_removal_and_the_member_becomes_deceased(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    dead = household.members[2]
    run_id = await identity_run(db, [outcome(dead, household, DECEASED, deathDate="2026-05-06")])
    await propose(db, run_id)
    (made,) = (await open_proposals(db)).values()
    async with db.connect() as conn:
        before = (await conn.execute(select(MEMBERS.c.status).where(MEMBERS.c.id == dead.id))).scalar_one()
    assert before == "active"
    await to_the_top(db, [made.id])
    await determine(db, "DTKS identity 1")
    async with db.connect() as conn:
        statuses = dict((await conn.execute(select(MEMBERS.c.id, MEMBERS.c.status))).all())
    assert statuses[dead.id] == "deceased"
    assert {statuses[m.id] for m in household.members if m.id != dead.id} == {"active"}


async def test_head_moves_the_household_and_a_deceased_head_hands_over(db: AsyncEngine) -> None:
    moving, widowed, emptied = await registered(db, 3)
    run_id = await identity_run(
        db,
        [
            outcome(moving.members[0], moving, MOVED, newVillageCode=NEW_VILLAGE),  # the head alone
            outcome(widowed.members[0], widowed, DECEASED, deathDate="2026-01-01"),
            *(outcome(m, emptied, DECEASED, deathDate="2026-01-01") for m in emptied.members),
        ],
    )
    result = await propose(db, run_id)
    assert (result.proposals, result.household_moves, result.household_removals) == (3, 1, 1)
    made = await open_proposals(db)
    async with db.connect() as conn:
        village = (
            await conn.execute(
                select(PROPOSED_HOUSEHOLDS.c.village_code).where(
                    PROPOSED_HOUSEHOLDS.c.proposal_id == made[moving.id].id
                )
            )
        ).scalar_one()
    assert village == NEW_VILLAGE
    handed = await proposed_members(db, made[widowed.id].id)
    assert handed[widowed.members[0].id].status == "deceased"
    assert handed[widowed.members[1].id].relationship == "head"  # the spouse, for the operators to confirm
    assert f"member {widowed.members[1].id} proposed as head" in made[widowed.id].note
    assert (made[emptied.id].kind, made[emptied.id].removal_reason) == ("removal", "deceased")


async def test_only_the_latest_completed_run_counts(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    child = household.members[2]
    early = await identity_run(db, [outcome(child, household, DECEASED, deathDate="2026-01-01")])
    await identity_run(db, [outcome(child, household, VERIFIED)], status=IdentityRunStatus.FAILED)
    await identity_run(db, [outcome(child, household, VERIFIED)], status=IdentityRunStatus.RUNNING)
    corrected = await identity_run(db, [outcome(child, household, VERIFIED)])  # a later completed run
    result = await propose(db, early)
    assert result.proposals == 0 and await open_proposals(db) == {}
    assert corrected > early


async def test_nik_suggestions_another_member_holds_are_not_proposed(db: AsyncEngine) -> None:
    first, second = await registered(db, 2)
    taken = second.members[0].nik
    run_id = await identity_run(
        db, [outcome(first.members[0], first, SUGGESTED, suggested_nik=taken, probability=0.99)]
    )
    result = await propose(db, run_id)
    assert (result.proposals, result.nik_taken) == (0, 1)


async def test_runs_that_cannot_propose_are_refused(db: AsyncEngine) -> None:
    assert isinstance(await propose_from_run(db, 12345, by="pusdatin"), Missing)
    running = await identity_run(db, [], status=IdentityRunStatus.RUNNING)
    refused = await propose_from_run(db, running, by="pusdatin")
    assert isinstance(refused, Invalid) and "is running" in refused.errors[0].message
    dedup = await identity_run(db, [], kind=IdentityRunKind.DEDUP)
    refused = await propose_from_run(db, dedup, by="pusdatin")
    assert isinstance(refused, Invalid) and "dedup run" in refused.errors[0].message


async def test_proposals_and_the_call_are_audited(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    run_id = await identity_run(db, [outcome(household.members[2], household, DECEASED, deathDate="2026-01-01")])
    async with db.connect() as conn:
        since = (await conn.execute(select(func.coalesce(func.max(AUDIT.c.seq), 0)))).scalar_one()
    await propose(db, run_id)
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(AUDIT.c.operation, AUDIT.c.entity_id, AUDIT.c.after, AUDIT.c.actor)
                .where(AUDIT.c.seq > since)
                .order_by(AUDIT.c.seq)
            )
        ).all()
    assert [(r.operation, r.actor) for r in rows] == [
        ("proposal:propose", "pusdatin"),
        ("identity:propose", "pusdatin"),
    ]
    assert json.loads(rows[1].after)["deceased_removals"] == 1 and rows[1].entity_id == str(run_id)


async def test_cli_proposes_from_a_run(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    run_id = await identity_run(db, [outcome(household.members[2], household, DECEASED, deathDate="2026-01-01")])
    ran = siks("identity", "propose", str(run_id))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"identity run {run_id}: proposals 1, deceased removals 1"
    again = siks("identity", "propose", str(run_id))
    assert again.stdout.strip() == f"identity run {run_id}: already proposed 1"
    missing = siks("identity", "propose", "999")
    assert missing.returncode == 2 and "no identity run 999" in missing.stderr


@pytest.mark.parametrize("probability", [0.9, 0.95])
async def test_the_probability_setting_decides(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch, probability: float
) -> None:
    from core.foundation.settings import get_settings

    monkeypatch.setenv("SIKS_IDENTITY_NIK_MIN_PROBABILITY", "0.95")
    get_settings.cache_clear()
    try:
        (household,) = await registered(db)
        spouse = household.members[1]
        run_id = await identity_run(
            db, [outcome(spouse, household, SUGGESTED, suggested_nik=corrected_nik(spouse), probability=probability)]
        )
        result = await propose(db, run_id)
    finally:
        get_settings.cache_clear()
    assert result.nik_corrections == (1 if probability >= 0.95 else 0)
    assert result.below_probability == (0 if probability >= 0.95 else 1)


async def test_a_move_to_an_unknown_village_removes_the_member(db: AsyncEngine) -> None:
    (household,) = await registered(db)
    child = household.members[2]
    run_id = await identity_run(db, [outcome(child, household, MOVED)])  # the civil registry did not say where
    result = await propose(db, run_id)
    assert (result.proposals, result.moved_removals, result.household_moves) == (1, 1, 0)
    (made,) = (await open_proposals(db)).values()
    assert {m: r.status for m, r in (await proposed_members(db, made.id)).items()} == {child.id: "moved"}
