"""Determination (penetapan): conflicts are flagged, not applied; editions never change; a failure
half-way leaves the registry and the proposals as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import FloorMaterial, HouseholdRemovalReason
from core.households import service
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS
from core.verification import chain, determination, proposals
from core.verification.drafts import PROPOSALS, ChangeRequest
from core.verification.queries import edition_counts
from tests import factories
from tests.verification_support import REVIEWERS, officer, registered


async def to_the_top(engine: AsyncEngine, proposal_ids: list[int]) -> None:
    for role in REVIEWERS:
        async with write_transaction(engine) as conn:
            moved = await chain.approve(conn, officer(role), proposal_ids)
        assert all(isinstance(m, proposals.ProposalRecord) for m in moved), moved


async def determine(engine: AsyncEngine, label: str) -> determination.Determined:
    async with write_transaction(engine) as conn:
        done = await determination.determine(conn, officer("data_centre"), label, "2026-12")
    assert isinstance(done, determination.Determined), done
    return done


async def statuses(engine: AsyncEngine) -> dict[int, tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(PROPOSALS.c.id, PROPOSALS.c.status, PROPOSALS.c.conflict_reason))
        return {r.id: (r.status, r.conflict_reason) for r in rows}


async def test_changed_households_and_taken_identities_are_conflicts(db: AsyncEngine) -> None:
    edited, kept = await registered(db, 2)
    village = officer("village_operator")
    fresh = factories.household()
    async with write_transaction(db) as conn:
        stale = await proposals.propose_change(
            conn, village, edited.id, edited.version, ChangeRequest(household={"floor_material": FloorMaterial.CERAMIC})
        )
        ok = await proposals.propose_removal(conn, village, kept.id, kept.version, HouseholdRemovalReason.DECEASED)
        new = await proposals.propose_new_household(conn, village, fresh)
    await to_the_top(db, [stale.id, ok.id, new.id])
    async with write_transaction(db) as conn:  # meanwhile, online: the household is edited, the KK registered
        assert not isinstance(
            await service.update_household(conn, edited.id, edited.version, {"rt": "010"}), service.Invalid
        )
        twin = factories.household(kk_number=fresh.kk_number)
        assert not isinstance(await service.register_household(conn, twin), service.Invalid)
    done = await determine(db, "DTKS 2026-12")
    assert (done.edition.removals, done.edition.changes, done.edition.additions, done.edition.conflicts) == (1, 0, 0, 2)
    assert done.conflicts == {"changed": 1, "kk_taken": 1}
    found = await statuses(db)
    assert found[ok.id] == ("determined", None)
    assert found[stale.id] == ("conflict", determination.CONFLICT_REASONS["changed"])
    assert found[new.id] == ("conflict", determination.CONFLICT_REASONS["kk_taken"])
    async with db.connect() as conn:
        row = (await conn.execute(select(HOUSEHOLDS).where(HOUSEHOLDS.c.id == edited.id))).one()
    assert (row.rt, row.floor_material) == ("010", "cement_brick")  # the online edit stands; nothing applied blindly


async def test_counts_as_of_an_edition_stay_as_they_were(db: AsyncEngine) -> None:
    first_batch = await registered(db, 3)
    async with write_transaction(db) as conn:
        made = await proposals.propose_new_household(conn, officer("village_operator"), factories.household())
    await to_the_top(db, [made.id])
    first = await determine(db, "DTKS 2026-11")
    async with write_transaction(db) as conn:
        removal = await proposals.propose_removal(
            conn, officer("village_operator"), first_batch[0].id, first_batch[0].version, HouseholdRemovalReason.MOVED
        )
    await to_the_top(db, [removal.id])
    second = await determine(db, "DTKS 2026-12")
    async with db.connect() as conn:
        assert await edition_counts(conn, first.edition.id, "32.01", "") == (4, 12)
        assert await edition_counts(conn, second.edition.id, "32.01", "") == (3, 9)
        assert await edition_counts(conn, second.edition.id, "", "35") == (0, 0)  # outside the caller's scope
    assert (first.edition.households, second.edition.households) == (4, 3)
    with pytest.raises((IntegrityError, DBAPIError), match="immutable"):
        async with write_transaction(db) as conn:
            await conn.execute(update(determination.EDITIONS).values(additions=99))
    with pytest.raises((IntegrityError, DBAPIError), match="immutable"):
        async with write_transaction(db) as conn:
            await conn.execute(update(determination.EDITION_COUNTS).values(households=0))


async def test_a_failure_half_way_leaves_everything_as_it_was(db: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    (household,) = await registered(db)
    async with write_transaction(db) as conn:
        made = await proposals.propose_removal(
            conn, officer("village_operator"), household.id, household.version, HouseholdRemovalReason.NO_LONGER_POOR
        )
    await to_the_top(db, [made.id])

    async def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(determination, "_write_steps", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await determine(db, "DTKS 2026-12")
    monkeypatch.undo()
    async with db.connect() as conn:
        status = (await conn.execute(select(HOUSEHOLDS.c.status).where(HOUSEHOLDS.c.id == household.id))).scalar_one()
        editions = (await conn.execute(text("SELECT count(*) FROM dtks_editions"))).scalar_one()
    assert (status, editions) == ("active", 0)
    assert (await statuses(db))[made.id] == ("pending", None)
    done = await determine(db, "DTKS 2026-12")  # the same batch goes through once the fault is gone
    assert done.edition.removals == 1
