"""The DCI outbox: an event written with each change (and none with a failed one), fanned out to the
subscriptions it concerns — by event type, the integrator's region scope and its filter's region."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dci.events import EVENTS, EventKind, kinds_of
from core.dci.filters import region_filter
from core.dci.outbox import DELIVERIES, SUBSCRIPTIONS, fan_out, outbox_counts
from core.foundation.enums import HouseholdRemovalReason, RemovalReason
from core.foundation.ids import ids
from core.households import service
from core.storage.db import write_transaction
from core.verification import proposals
from core.verification.drafts import ChangeRequest, MemberRemoval
from tests import factories
from tests.test_verification_determination import determine, to_the_top
from tests.verification_support import officer, registered

EAST_JAVA_VILLAGE = factories.OTHER_VILLAGE  # 35.78.01.1001


async def subscribe(
    engine: AsyncEngine,
    code: str,
    event_type: str = "REGISTER",
    scope: str = "",
    filter_: Any = None,
    notify_uri: str = "http://127.0.0.1:9/notify",
    created_at: datetime | None = None,
) -> int:
    async with write_transaction(engine) as conn:
        result = await conn.execute(
            insert(SUBSCRIPTIONS).values(
                id=ids.next_id(),
                code=code,
                subscriber=f"integrator-{code}",
                scope=scope,
                event_type=event_type,
                reg_type="ns:org:RegistryType:Social",
                filter=json.dumps(filter_) if filter_ is not None else None,
                notify_uri=notify_uri,
                status="subscribed",
                created_at=created_at or datetime.now(UTC) - timedelta(seconds=1),
            )
        )
        return int(result.inserted_primary_key[0])


async def events(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(EVENTS).order_by(EVENTS.c.id)))


async def fanned(engine: AsyncEngine) -> dict[str, list[tuple[str, int | None]]]:
    """subscription code → (event kind, household id) of its deliveries."""
    async with write_transaction(engine) as conn:
        while await fan_out(conn, 50):
            pass
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(SUBSCRIPTIONS.c.code, EVENTS.c.kind, EVENTS.c.household_id)
            .select_from(DELIVERIES.join(SUBSCRIPTIONS).join(EVENTS))
            .order_by(DELIVERIES.c.id)
        )
        found: dict[str, list[tuple[str, int | None]]] = {}
        for code, kind, household_id in rows:
            found.setdefault(code, []).append((kind, household_id))
        return found


async def test_each_change_writes_one_event_in_its_transaction(db: AsyncEngine) -> None:
    (record,) = await registered(db)
    head = next(m for m in record.members if m.relationship == "head")
    child = next(m for m in record.members if m.relationship == "child")
    async with write_transaction(db) as conn:
        changed = await service.update_household(conn, record.id, record.version, {"rt": "004"})
        assert isinstance(changed, service.HouseholdRecord)
        removed = await service.remove_member(conn, record.id, changed.version, child.id, RemovalReason.DECEASED)
        assert isinstance(removed, service.HouseholdRecord)
    found = [(e.kind, e.household_id, e.member_id, e.identifier, e.village_code) for e in await events(db)]
    assert found == [
        ("household_registered", record.id, None, record.kk_number, factories.VILLAGE),
        ("household_changed", record.id, None, record.kk_number, factories.VILLAGE),
        ("household_changed", record.id, None, record.kk_number, factories.VILLAGE),
        ("member_deceased", record.id, child.id, child.nik, factories.VILLAGE),
    ]
    assert head.id != child.id


async def test_a_refused_or_failed_change_writes_no_event(db: AsyncEngine) -> None:
    (record,) = await registered(db)
    before = len(await events(db))
    async with write_transaction(db) as conn:  # refused: a stale version
        assert isinstance(
            await service.update_household(conn, record.id, record.version + 5, {"rt": "004"}), service.Conflict
        )
        bad = factories.household(kk_number="123")
        assert isinstance(await service.register_household(conn, bad), service.Invalid)
    with pytest.raises(RuntimeError):  # failed after the write: the transaction rolls back, event and all
        async with write_transaction(db) as conn:
            assert isinstance(
                await service.update_household(conn, record.id, record.version, {"rt": "009"}), service.HouseholdRecord
            )
            raise RuntimeError("the caller failed after the change")
    assert len(await events(db)) == before


async def test_fan_out_honours_event_type_scope_filter_and_subscription_time(db: AsyncEngine) -> None:
    await subscribe(db, "national-register", "REGISTER")
    await subscribe(db, "west-java", "spdci:common:RegistryEventType:Register", scope="32")
    await subscribe(db, "east-java", "REGISTER", scope="35")
    await subscribe(
        db,
        "bogor-filter",
        "REGISTER",
        filter_={"expression": {"collection": "Group", "query": {"$and": [{"location": {"$eq": "32.01"}}]}}},
    )
    await subscribe(db, "east-java-changes", "UPDATE", scope="35")
    await subscribe(db, "late", "REGISTER", created_at=datetime.now(UTC) + timedelta(hours=1))
    (west,) = await registered(db)
    (east,) = await registered(db, village=EAST_JAVA_VILLAGE)
    async with write_transaction(db) as conn:  # moved from West Java to East Java
        moved = await service.update_household(
            conn, west.id, west.version, {"village_code": "35.78.01.1002", "latitude": None, "longitude": None}
        )
        assert isinstance(moved, service.HouseholdRecord), moved
    found = await fanned(db)
    registered_kind = EventKind.HOUSEHOLD_REGISTERED.value
    assert found["national-register"] == [(registered_kind, west.id), (registered_kind, east.id)]
    assert found["west-java"] == [(registered_kind, west.id)]
    assert found["east-java"] == [(registered_kind, east.id)]
    assert found["bogor-filter"] == [(registered_kind, west.id)]
    assert found["east-java-changes"] == [(EventKind.HOUSEHOLD_CHANGED.value, west.id)]  # it moved in
    assert "late" not in found  # subscribed after the events happened
    async with db.connect() as conn:
        counts = await outbox_counts(conn)
    assert (counts.pending, counts.delivered, counts.events_waiting) == (6, 0, 0)
    assert await fanned(db) == found  # a second fan-out finds nothing new


def test_event_type_names_and_region_filters() -> None:
    assert kinds_of("spdci:common:RegistryEventType:Death") == {EventKind.MEMBER_DECEASED}
    assert kinds_of("deregister") == kinds_of("DELETE") == {EventKind.HOUSEHOLD_REMOVED}
    assert kinds_of("LiveBirth") == frozenset()
    predicate = [
        {
            "seq_num": 1,
            "expression1": {"attribute_name": "region_code", "operator": "eq", "attribute_value": "32.01.01"},
            "condition": "and",
            "expression2": {"attribute_name": "poverty_score", "operator": "lt", "attribute_value": "3"},
        }
    ]
    assert region_filter(predicate) == ("32.01.01",)
    assert region_filter({"query": {"location": {"$in": ["32", "35.78"]}}}) == ("32", "35.78")
    assert region_filter({"query": {"location": {"$eq": "central_region"}}}) is None
    assert region_filter(None) is None


async def test_determination_writes_the_events_of_what_it_applied(db: AsyncEngine) -> None:
    await subscribe(db, "deaths", "DEATH")
    await subscribe(db, "removals", "DEREGISTER", scope="32")
    await subscribe(db, "editions", "DTKS_EDITION", scope="35")  # editions tell no region: every scope hears
    changed, gone = await registered(db, 2)
    village = officer("village_operator")
    fresh = factories.household()
    async with write_transaction(db) as conn:
        child = next(m for m in changed.members if m.relationship == "child")
        died = [MemberRemoval(child.id, RemovalReason.DECEASED)]
        change = await proposals.propose_change(
            conn, village, changed.id, changed.version, ChangeRequest(household={"rt": "011"}, removed_members=died)
        )
        removal = await proposals.propose_removal(conn, village, gone.id, gone.version, HouseholdRemovalReason.DECEASED)
        new = await proposals.propose_new_household(conn, village, fresh)
    await to_the_top(db, [change.id, removal.id, new.id])
    before = {e.id for e in await events(db)}
    done = await determine(db, "DTKS 2026-12 outbox")
    written = [e for e in await events(db) if e.id not in before]
    kinds = sorted((e.kind, e.household_id or e.edition_id) for e in written if e.kind != "member_deceased")
    new_id = next(e.household_id for e in written if e.kind == "household_registered")
    assert kinds == sorted(
        [
            ("household_changed", changed.id),
            ("household_removed", gone.id),
            ("household_registered", new_id),
            ("edition_determined", done.edition.id),
        ]
    )
    deaths = sorted(e.member_id for e in written if e.kind == "member_deceased")
    assert deaths == sorted([child.id, *(m.id for m in gone.members)])
    found = await fanned(db)
    assert sorted(h for _, h in found["deaths"]) == sorted([changed.id, *[gone.id] * len(gone.members)])
    assert found["removals"] == [("household_removed", gone.id)]
    assert found["editions"] == [("edition_determined", None)]


async def test_a_failed_determination_writes_no_event(db: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    (kept,) = await registered(db)
    async with write_transaction(db) as conn:
        removal = await proposals.propose_removal(
            conn, officer("village_operator"), kept.id, kept.version, HouseholdRemovalReason.MOVED
        )
    await to_the_top(db, [removal.id])
    before = len(await events(db))
    from core.verification import determination

    async def broken(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(determination, "_write_steps", broken)
    with pytest.raises(RuntimeError):
        await determine(db, "DTKS broken")
    assert len(await events(db)) == before


def test_a_household_that_left_the_scope_is_notified_without_its_new_village() -> None:
    from core.dci.notify import message_id, notify_envelope
    from core.dci.outbox import Claimed

    now = datetime.now(UTC)
    moved = Claimed(
        7,
        1,
        now,
        "west-java",
        "integrator",
        "32",
        "http://127.0.0.1:9/notify",
        11,
        EventKind.HOUSEHOLD_CHANGED,
        3,
        None,
        None,
        "3201010000000001",
        "35.78.01.1002",
        "32.01.01.1001",
        now,
    )
    header, message = notify_envelope(moved, "siks", now)
    record = message["notify_event"][0]["data"]["reg_records"]
    assert header["message_id"] == message_id(7) and header["receiver_id"] == "integrator"
    assert record["moved_out_of_scope"] is True and "location" not in record
    assert "35.78" not in json.dumps(message)


async def test_a_bulk_import_writes_one_event_per_household_loaded_and_none_twice(
    db: AsyncEngine, tmp_path: Path
) -> None:
    from core.bulk.importer import ImportOptions, import_households
    from core.storage.records import HOUSEHOLDS
    from tests.bulk_files import IMPORTER, write_households

    households = [factories.household() for _ in range(5)]
    path = write_households(tmp_path / "h.csv", households)
    options = ImportOptions(workers=0, batch_households=2)
    await import_households(db, path, request=IMPORTER, options=options)
    await import_households(db, path, request=IMPORTER, options=options)  # a re-run loads nothing: no event
    async with db.connect() as conn:
        loaded = {(r.id, r.kk_number, r.village_code) for r in await conn.execute(select(HOUSEHOLDS))}
    found = await events(db)
    assert {e.kind for e in found} == {"household_registered"}
    assert {(e.household_id, e.identifier, e.village_code) for e in found} == loaded
    assert len(found) == 5
