"""GraphQL: proposals of each kind climb village → district → regency → province and are determined;
steps cannot be skipped, repeated or taken outside one's region; returns and rejections say why."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import Relationship, Sex
from core.models import DtksEdition, Proposal, ProposalStep
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.verification_support import (
    APPROVE,
    CHAIN_SCOPES,
    DETERMINE,
    PROPOSE_CHANGE,
    PROPOSE_NEW,
    PROPOSE_REMOVAL,
    REJECT,
    RETURN,
    REVIEWERS,
    registered,
    row_count,
)

PROPOSALS, STEPS = Proposal.__table__, ProposalStep.__table__


def clients(as_role: Any) -> dict[str, Any]:
    return {role: as_role(role, scope) for role, scope in CHAIN_SCOPES.items()}


async def test_each_kind_walks_from_village_to_determination(db: AsyncEngine, as_role: Any) -> None:
    chain = clients(as_role)
    changed, removed = await registered(db, 2)
    new = factories.household()
    made = [
        (await chain["village_operator"](PROPOSE_NEW, {"input": factories.household_input(new), "note": "baru"}))[
            "proposeNewHousehold"
        ],
        (
            await chain["village_operator"](
                PROPOSE_CHANGE,
                {
                    "id": str(changed.id),
                    "version": changed.version,
                    "change": {
                        "household": {"floorMaterial": "CERAMIC", "hasMotorcycle": True},
                        "memberChanges": [{"memberId": str(changed.members[2].id), "changes": {"name": "Ayu L."}}],
                        "newMembers": [
                            factories.member_input(
                                factories.member(
                                    Relationship.CHILD, Sex.MALE, name="Dimas", birth_date=date(2020, 1, 2)
                                )
                            )
                        ],
                    },
                },
            )
        )["proposeHouseholdChange"],
        (
            await chain["village_operator"](
                PROPOSE_REMOVAL, {"id": str(removed.id), "version": removed.version, "reason": "MOVED"}
            )
        )["proposeHouseholdRemoval"],
    ]
    assert [p["__typename"] for p in made] == ["Proposal"] * 3, made
    assert {p["stage"] for p in made} == {"DISTRICT"} and {p["status"] for p in made} == {"PENDING"}
    change = made[1]
    shown = {(c["nik"], c["field"]): (c["current"], c["proposed"]) for c in change["changes"]}
    assert shown[(None, "floor_material")] == ("cement_brick", "ceramic")
    assert shown[(changed.members[2].nik, "name")] == ("Ayu Lestari", "Ayu L.")
    assert shown[(None, "has_motorcycle")] == ("false", "true")
    ids = [p["id"] for p in made]
    for role, after in zip(REVIEWERS, ("REGENCY", "PROVINCE", "NATIONAL"), strict=True):
        moved = (await chain[role](APPROVE, {"ids": ids}))["approveProposals"]
        assert [(m["__typename"], m["stage"]) for m in moved] == [("Proposal", after)] * 3, moved
    done = (await chain["data_centre"](DETERMINE, {"label": "DTKS 2026-12", "period": "2026-12"}))["determineDtks"]
    assert done["__typename"] == "Determination", done
    edition = done["edition"]
    assert (edition["additions"], edition["changes"], edition["removals"], edition["conflicts"]) == (1, 1, 1, 0)
    assert edition["households"] == 2 and edition["counts"] == {"households": 2, "members": 7}
    async with db.connect() as conn:
        rows = {r.id: r for r in await conn.execute(select(HOUSEHOLDS))}
        names = set((await conn.execute(select(MEMBERS.c.name).where(MEMBERS.c.household_id == changed.id))).scalars())
    assert rows[changed.id].floor_material == "ceramic" and rows[changed.id].has_motorcycle
    assert rows[changed.id].version == changed.version + 1 and names >= {"Ayu L.", "Dimas"}
    assert rows[removed.id].status == "inactive"
    assert rows[int(factories.key_of(made[0]["householdId"]))].kk_number == new.kk_number
    assert {r.determined_edition_id for r in rows.values()} == {int(factories.key_of(edition["id"]))}
    steps = (
        await chain["village_operator"](
            f'{{ proposal(id: "{ids[1]}") {{ status household {{ determinedEditionId }} '
            "steps { action stepAction level } } }"
        )
    )["proposal"]
    assert steps["household"] == {"determinedEditionId": edition["id"]}
    assert steps["status"] == "DETERMINED"
    assert [s["action"] for s in steps["steps"]] == ["propose", "approve", "approve", "approve", "determine"]
    assert [s["stepAction"] for s in steps["steps"]] == ["PROPOSE", "APPROVE", "APPROVE", "APPROVE", "DETERMINE"]
    assert [s["level"] for s in steps["steps"]] == ["VILLAGE", "DISTRICT", "REGENCY", "PROVINCE", "NATIONAL"]


async def test_no_level_can_be_skipped_repeated_or_reach_outside_its_region(db: AsyncEngine, as_role: Any) -> None:
    chain = clients(as_role)
    (household,) = await registered(db)
    made = (
        await chain["village_operator"](
            PROPOSE_REMOVAL, {"id": str(household.id), "version": household.version, "reason": "DECEASED"}
        )
    )["proposeHouseholdRemoval"]
    ids = [made["id"]]
    skipped = (await chain["regency_office"](APPROVE, {"ids": ids}))["approveProposals"][0]
    assert skipped["__typename"] == "StepRefused" and "waits at the district level" in skipped["message"]
    assert (await chain["district_officer"](APPROVE, {"ids": ids}))["approveProposals"][0]["stage"] == "REGENCY"
    twice = (await chain["district_officer"](APPROVE, {"ids": ids}))["approveProposals"][0]
    assert twice["__typename"] == "StepRefused" and "already passed on by the district level" in twice["message"]
    sibling = as_role("regency_office", "32.02")  # another regency of the same province
    hidden = (await sibling(APPROVE, {"ids": ids}))["approveProposals"][0]
    assert hidden["__typename"] == "NotFound"
    assert (await sibling(f'{{ proposal(id: "{ids[0]}") {{ id }} }}'))["proposal"] is None
    national = (await chain["data_centre"](APPROVE, {"ids": ids}))["approveProposals"][0]
    assert national["__typename"] == "StepRefused" and "determines them" in national["message"]
    outsider = as_role("program_officer", "32")
    body = await outsider.raw(APPROVE, {"ids": ids})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (
        await row_count(db, STEPS, STEPS.c.proposal_id == int(factories.key_of(ids[0]))) == 2
    )  # propose + one approval


async def test_returned_proposal_is_revised_at_the_village_and_rejection_is_final(
    db: AsyncEngine, as_role: Any
) -> None:
    chain = clients(as_role)
    (household,) = await registered(db)
    made = (
        await chain["village_operator"](
            PROPOSE_CHANGE,
            {"id": str(household.id), "version": household.version, "change": {"household": {"rt": "004"}}},
        )
    )["proposeHouseholdChange"]
    pid = made["id"]
    assert (await chain["district_officer"](RETURN, {"id": pid, "reason": " "}))["returnProposal"][
        "__typename"
    ] == "ValidationError"
    back = (await chain["district_officer"](RETURN, {"id": pid, "reason": "RT salah, periksa lagi"}))["returnProposal"]
    assert (back["stage"], back["status"]) == ("VILLAGE", "RETURNED")
    busy = (
        await chain["village_operator"](
            PROPOSE_CHANGE,
            {"id": str(household.id), "version": household.version, "change": {"household": {"rw": "001"}}},
        )
    )["proposeHouseholdChange"]
    assert busy["__typename"] == "ValidationError" and "already has open proposal" in busy["fields"][0]["message"]
    revise = """mutation($id: ID!, $version: Int!, $change: ProposedChangeInput!) {
      reviseProposal(id: $id, version: $version, change: $change, note: "RT 005") {
        __typename ... on Proposal { stage status version changes { field proposed } }
        ... on VersionConflict { currentVersion } } }"""
    stale = await chain["village_operator"](revise, {"id": pid, "version": 1, "change": {"household": {"rt": "005"}}})
    assert stale["reviseProposal"]["__typename"] == "VersionConflict"
    revised = (
        await chain["village_operator"](
            revise, {"id": pid, "version": back["version"], "change": {"household": {"rt": "005"}}}
        )
    )["reviseProposal"]
    assert (revised["stage"], revised["status"]) == ("DISTRICT", "PENDING")
    assert revised["changes"] == [{"field": "rt", "proposed": "005"}]
    rejected = (await chain["district_officer"](REJECT, {"id": pid, "reason": "bukan warga desa ini"}))[
        "rejectProposal"
    ]
    assert rejected["status"] == "REJECTED"
    final = (await chain["district_officer"](APPROVE, {"ids": [pid]}))["approveProposals"][0]
    assert final["__typename"] == "StepRefused" and "rejected" in final["message"]


async def test_bad_proposals_are_refused_and_nothing_is_written(db: AsyncEngine, as_role: Any) -> None:
    chain = clients(as_role)
    (household,) = await registered(db)
    wrong_nik = factories.household()
    wrong_nik.members[0].nik = "3201011705800099"[:-1] + "x"
    bad_new = (
        await chain["village_operator"](PROPOSE_NEW, {"input": factories.household_input(wrong_nik), "note": ""})
    )["proposeNewHousehold"]
    assert bad_new["__typename"] == "ValidationError" and bad_new["fields"][0]["field"] == "members.0.nik"
    elsewhere = factories.household(village=factories.OTHER_VILLAGE)
    outside = (
        await chain["village_operator"](PROPOSE_NEW, {"input": factories.household_input(elsewhere), "note": ""})
    )["proposeNewHousehold"]
    assert outside["__typename"] == "ValidationError" and outside["fields"][0]["field"] == "villageCode"
    taken = factories.household()
    taken.members[0].nik = household.members[0].nik  # the same man, already registered
    twice = (await chain["village_operator"](PROPOSE_NEW, {"input": factories.household_input(taken), "note": ""}))[
        "proposeNewHousehold"
    ]
    assert "already a member of another active household" in str(twice["fields"])
    stale = (
        await chain["village_operator"](
            PROPOSE_CHANGE, {"id": str(household.id), "version": 7, "change": {"household": {"rt": "009"}}}
        )
    )["proposeHouseholdChange"]
    assert stale["__typename"] == "VersionConflict" and stale["currentVersion"] == household.version
    nothing = (
        await chain["village_operator"](
            PROPOSE_CHANGE, {"id": str(household.id), "version": 1, "change": {"household": {"rt": household.rt}}}
        )
    )["proposeHouseholdChange"]
    assert nothing["__typename"] == "ValidationError" and nothing["fields"][0]["field"] == "changes"
    headless = (
        await chain["village_operator"](
            PROPOSE_CHANGE,
            {
                "id": str(household.id),
                "version": 1,
                "change": {"removedMembers": [{"memberId": str(household.members[0].id), "reason": "DECEASED"}]},
            },
        )
    )["proposeHouseholdChange"]
    assert headless["__typename"] == "ValidationError" and "no head" in headless["fields"][0]["message"]
    hidden = as_role("village_operator", "32.01.01.1002")
    missing = (await hidden(PROPOSE_REMOVAL, {"id": str(household.id), "version": 1, "reason": "MOVED"}))[
        "proposeHouseholdRemoval"
    ]
    assert missing["__typename"] == "NotFound"
    assert await row_count(db, PROPOSALS) == 0 and await row_count(db, STEPS) == 0
    bad_period = (await chain["data_centre"](DETERMINE, {"label": "DTKS 2026-12", "period": "2026-13"}))[
        "determineDtks"
    ]
    assert [f["field"] for f in bad_period["fields"]] == ["period"]
    empty = (await chain["data_centre"](DETERMINE, {"label": "DTKS 2026-12", "period": "2026-12"}))["determineDtks"]
    assert [f["message"] for f in empty["fields"]] == [
        "nothing to determine: no proposal has been approved by a province"
    ]
    regency = await chain["regency_office"].raw(DETERMINE, {"label": "x", "period": "2026-12"})
    assert regency["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await row_count(db, DtksEdition.__table__) == 0


async def test_two_officers_approving_at_once_move_it_once(db: AsyncEngine, as_role: Any) -> None:
    chain = clients(as_role)
    (household,) = await registered(db)
    made = (
        await chain["village_operator"](
            PROPOSE_REMOVAL, {"id": str(household.id), "version": household.version, "reason": "DUPLICATE"}
        )
    )["proposeHouseholdRemoval"]
    first, second = as_role("district_officer", "32.01.01"), as_role("district_officer", "32.01.01")
    answers = await asyncio.gather(*(c(APPROVE, {"ids": [made["id"]]}) for c in (first, second)))
    kinds = sorted(a["approveProposals"][0]["__typename"] for a in answers)
    assert kinds == ["Proposal", "StepRefused"]
    assert (
        await row_count(
            db, STEPS, STEPS.c.proposal_id == int(factories.key_of(made["id"])), STEPS.c.action == "approve"
        )
        == 1
    )
