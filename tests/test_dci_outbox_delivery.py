"""Delivering DCI notifications to a real HTTP receiver that refuses (503), then accepts: nothing is
lost, retries keep their message id, a new worker on a new engine resumes what an old one left,
concurrent workers deliver each notification once, and the server's own worker delivers too."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dci.delivery import Deliverer, backoff
from core.dci.notify import message_id
from core.dci.outbox import DELIVERIES, DeliveryStatus, outbox_counts
from core.foundation.settings import Settings
from core.http.app import create_app
from core.storage.db import create_engine, write_transaction
from tests.cli_support import siks
from tests.dci_receiver import receiving
from tests.test_dci_outbox import subscribe
from tests.verification_support import registered


def quick(settings: Settings, **changes: object) -> Settings:
    """Retries within a test's patience; no worker in the server unless asked."""
    update_ = {
        "dci_delivery_backoff_seconds": 0.05,
        "dci_delivery_backoff_cap_seconds": 0.2,
        "dci_delivery_in_server": False,
        "dci_delivery_poll_seconds": 0.05,
    }
    return settings.model_copy(update={**update_, **changes})


async def statuses(engine: AsyncEngine) -> dict[int, tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(DELIVERIES.c.id, DELIVERIES.c.status, DELIVERIES.c.attempts))
        return {r.id: (r.status, r.attempts) for r in rows}


async def deliver_until_done(deliverer: Deliverer, seconds: float = 20.0) -> None:
    """Rounds until no delivery is pending (refused ones are retried as they fall due)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await deliverer.drain()
        async with deliverer.engine.connect() as conn:
            if (await outbox_counts(conn)).pending == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries still pending")


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    assert [backoff(n, 2.0, 300.0, 1.0) for n in (1, 2, 3, 9, 10, 40)] == [2, 4, 8, 300, 300, 300]
    assert backoff(3, 2.0, 300.0, 0.5) == 4.0


async def test_a_refusing_subscriber_loses_nothing_and_a_new_worker_resumes(
    db: AsyncEngine, settings: Settings
) -> None:
    fast = quick(settings)
    with receiving() as receiver:
        await subscribe(db, "west-java", scope="32", notify_uri=receiver.url)
        households = await registered(db, 5)
        receiver.down = True
        first = Deliverer(db, fast)
        try:
            done = await first.run_round()
        finally:
            await first.aclose()
        assert (done.fanned_out, done.attempted, done.delivered, done.refused) == (5, 5, 0, 5)
        async with db.connect() as conn:
            rows = list(await conn.execute(select(DELIVERIES)))
        assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
        assert all(r.last_error.startswith("HTTP 503") for r in rows)
        assert all(r.next_attempt_at.replace(tzinfo=UTC) > datetime.now(UTC) - timedelta(seconds=1) for r in rows)

        # A restart: a new engine and a new worker; the subscriber comes back after two more refusals.
        receiver.down, receiver.refuse_next = False, 2
        engine = create_engine(fast)
        second = Deliverer(engine, fast)
        try:
            await deliver_until_done(second)
        finally:
            await second.aclose()
            await engine.dispose()
    delivered = receiver.message_ids()
    assert sorted(delivered) == sorted(message_id(r.id) for r in rows)  # each once, none lost
    refused_ids = [body["header"]["message_id"] for body in receiver.received[:7]]
    assert set(refused_ids) <= set(delivered)  # retries carried the same message id
    assert len(receiver.received) == 5 + 2 + 5
    kks = {
        body["message"]["notify_event"][0]["data"]["reg_records"]["group_identifier"][0]["identifier_value"]
        for body in receiver.accepted
    }
    assert kks == {h.kk_number for h in households}
    body = receiver.accepted[0]
    assert body["header"]["action"] == "notify" and body["signature"]
    event = body["message"]["notify_event"][0]
    assert event["reference_id"] == "west-java"
    assert event["data"]["reg_record_type"] == "Group" and event["data"]["reg_records"]["location"] == "32.01.01.1001"
    assert set((await statuses(db)).values()) <= {("delivered", 1), ("delivered", 2), ("delivered", 3)}
    async with db.connect() as conn:
        counts = await outbox_counts(conn)
    assert (counts.pending, counts.delivered, counts.failed, counts.attempts) == (0, 5, 0, 12)


async def test_concurrent_workers_deliver_each_notification_once(db: AsyncEngine, settings: Settings) -> None:
    fast = quick(settings, dci_delivery_batch=7)
    with receiving() as receiver:
        await subscribe(db, "national", notify_uri=receiver.url)
        await subscribe(db, "national-2", notify_uri=receiver.url)
        await registered(db, 20)
        engines = [create_engine(fast) for _ in range(3)]
        workers = [Deliverer(engine, fast) for engine in engines]
        try:
            await asyncio.gather(*(deliver_until_done(worker) for worker in workers))
        finally:
            for worker, engine in zip(workers, engines, strict=True):
                await worker.aclose()
                await engine.dispose()
    delivered = receiver.message_ids()
    assert len(delivered) == 40 and len(set(delivered)) == 40
    assert len(receiver.received) == 40  # nobody posted a claimed notification twice


async def test_a_delivery_refused_past_its_window_fails_and_an_operator_retries_it(
    db: AsyncEngine, settings: Settings
) -> None:
    fast = quick(settings, dci_delivery_retry_hours=0.5 / 3600)  # half a second
    with receiving() as receiver:
        await subscribe(db, "regency", scope="32.01", notify_uri=receiver.url)
        await registered(db)
        receiver.down = True
        worker = Deliverer(db, fast)
        try:
            deadline = time.monotonic() + 20
            while {s for s, _ in (await statuses(db)).values()} != {"failed"}:
                assert time.monotonic() < deadline, await statuses(db)
                await worker.drain()
                await asyncio.sleep(0.05)
            (delivery_id,) = await statuses(db)
            listed = siks("dci", "outbox", "--status", "failed")
            assert listed.returncode == 0, listed.stderr
            assert f"{delivery_id}  failed" in listed.stdout and "gave up after" in listed.stdout
            shown = siks("dci", "outbox", "show", str(delivery_id))
            assert shown.returncode == 0, shown.stderr
            assert f'"message_id": "{message_id(delivery_id)}"' in shown.stdout and receiver.url in shown.stdout
            assert '"action": "notify"' in shown.stdout and '"reference_id": "regency"' in shown.stdout
            receiver.down = False
            retried = siks("dci", "outbox", "retry", str(delivery_id))
            assert retried.returncode == 0, retried.stderr
            assert "pending" in retried.stdout
            await deliver_until_done(worker)
        finally:
            await worker.aclose()
        again = siks("dci", "outbox", "retry", str(delivery_id))
        assert again.returncode == 2 and "is delivered" in again.stderr
        missing = siks("dci", "outbox", "show", "12345")
        assert missing.returncode == 2 and "no delivery 12345" in missing.stderr
        unknown = siks("dci", "outbox", "--status", "lost")
        assert unknown.returncode == 2 and "--status must be one of" in unknown.stderr
    assert receiver.message_ids() == [message_id(delivery_id)]
    assert (await statuses(db))[delivery_id][0] == "delivered"


async def test_an_ended_subscription_is_not_notified(db: AsyncEngine, settings: Settings) -> None:
    with receiving() as receiver:
        subscription = await subscribe(db, "ending", notify_uri=receiver.url)
        await registered(db, 2)
        from core.dci.outbox import SUBSCRIPTIONS

        async with write_transaction(db) as conn:
            await conn.execute(
                update(SUBSCRIPTIONS)
                .where(SUBSCRIPTIONS.c.id == subscription)
                .values(status="unsubscribed", ended_at=datetime.now(UTC))
            )
        worker = Deliverer(db, quick(settings))
        try:
            await worker.drain()
        finally:
            await worker.aclose()
    assert receiver.received == []
    assert {s for s, _ in (await statuses(db)).values()} == {DeliveryStatus.CANCELLED.value}


async def test_the_server_delivers_in_its_lifespan_and_shows_counters(db: AsyncEngine, settings: Settings) -> None:
    serving = quick(settings, dci_delivery_in_server=True)
    with receiving() as receiver:
        await subscribe(db, "served", notify_uri=receiver.url)
        app = create_app(serving)
        async with app.router.lifespan_context(app):
            await registered(db, 3)
            deadline = time.monotonic() + 20
            while True:  # delivered, and the outcome recorded
                async with db.connect() as conn:
                    if (await outbox_counts(conn)).delivered == 3:
                        break
                assert time.monotonic() < deadline, "the server's worker did not deliver"
                await asyncio.sleep(0.05)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http:
                metrics = await http.get("/metrics")
        # The lifespan has ended: its worker stopped with it, and a later event waits for the next one.
        await registered(db)
        await asyncio.sleep(0.3)
    assert len(receiver.accepted) == 3
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'siks_dci_outbox_deliveries{status="delivered"} 3.0' in metrics.text
    assert "siks_dci_outbox_attempts 3.0" in metrics.text
    async with db.connect() as conn:
        assert (await outbox_counts(conn)).events_waiting == 1


async def test_prune_keeps_what_is_not_finished(db: AsyncEngine, settings: Settings) -> None:
    from core.dci.events import EVENTS
    from core.dci.outbox import prune
    from tests.verification_support import officer

    with receiving() as receiver:
        await subscribe(db, "pruned", notify_uri=receiver.url)
        await registered(db, 3)
        worker = Deliverer(db, quick(settings))
        try:
            await worker.drain()
        finally:
            await worker.aclose()
    kept = min(await statuses(db))
    async with write_transaction(db) as conn:
        await conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == kept).values(status="failed"))
    young = siks("dci", "outbox", "prune", "--days", "1")
    assert young.returncode == 0 and "deleted 0 deliveries and 0 events" in young.stdout
    async with write_transaction(db) as conn:
        pruned = await prune(conn, officer("data_centre"), timedelta(0))
    assert (pruned.deliveries, pruned.events) == (2, 2)
    assert list(await statuses(db)) == [kept]
    async with db.connect() as conn:
        assert len((await conn.execute(select(EVENTS.c.id))).all()) == 1


def _spec_validator(name: str) -> Any:
    """A validator for the schema ``name`` of registry_core_api_v1.0.0.yaml (shared/ beside the clone)."""
    root = Path(__file__).resolve().parent.parent
    found = [
        p / "dci/standards/registry_core_api_v1.0.0.yaml"
        for p in (root.parent / "shared", root.parent.parent / "shared")
    ]
    spec = next((path for path in found if path.exists()), None)
    if spec is None:
        pytest.skip("the DCI specification (shared/dci/standards) is not beside this checkout")
    components = yaml.safe_load(spec.read_text(encoding="utf-8"))["components"]
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}", "components": components})


async def test_the_notify_message_follows_the_specification(db: AsyncEngine, settings: Settings) -> None:
    header_schema, message_schema = _spec_validator("MsgCallbackHeader_V1.0.0"), _spec_validator("NotifyEventRequest")
    with receiving() as receiver:
        await subscribe(db, "spec", event_type="DEATH", notify_uri=receiver.url)
        await subscribe(db, "spec-editions", event_type="DTKS_EDITION", notify_uri=receiver.url)
        (record,) = await registered(db)
        child = next(m for m in record.members if m.relationship == "child")
        async with write_transaction(db) as conn:
            from core.foundation.enums import RemovalReason
            from core.households import service

            await service.remove_member(conn, record.id, record.version, child.id, RemovalReason.DECEASED)
        worker = Deliverer(db, quick(settings))
        try:
            await worker.drain()
        finally:
            await worker.aclose()
    (body,) = receiver.accepted
    header_schema.validate(body["header"])
    message_schema.validate(body["message"])
    record_sent = body["message"]["notify_event"][0]["data"]["reg_records"]
    assert record_sent["member_identifier"] == [{"identifier_type": "NIK", "identifier_value": child.nik}]
    assert body["message"]["notify_event"][0]["data"]["reg_record_type"] == "Member"
    assert body["header"]["meta"]["event_type"] == "DEATH"


async def test_a_subscriber_down_for_an_hour_is_still_retried_within_the_cap(
    db: AsyncEngine, settings: Settings
) -> None:
    from core.dci.events import EventKind
    from core.dci.outbox import Claimed

    now = datetime.now(UTC)
    hour_old = Claimed(
        1,
        14,
        now - timedelta(hours=1),
        "sub",
        "integrator",
        "",
        "http://127.0.0.1:9/notify",
        2,
        EventKind.HOUSEHOLD_CHANGED,
        3,
        None,
        None,
        "3201010000000001",
        "32.01.01.1001",
        None,
        now,
    )
    worker = Deliverer(db, settings)  # the defaults: 2 s doubling, capped at 300 s, retried for 72 h
    try:
        refusal = worker._refusal(hour_old, "HTTP 503: down", now)
        assert refusal.retry_at is not None and timedelta(seconds=150) <= refusal.retry_at - now <= timedelta(
            seconds=300
        )
        expired = replace(hour_old, created_at=now - timedelta(hours=73))
        assert worker._refusal(expired, "HTTP 503: down", now).retry_at is None
    finally:
        await worker.aclose()
