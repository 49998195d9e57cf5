"""DCI subscribe / unsubscribe: rows in dci_subscriptions with the subscriber's scope, callbacks to sender_uri."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dci.envelope import now_ts
from core.foundation.settings import Settings
from core.models import AuditEntry, DciSubscription
from tests.conftest import token_headers
from tests.dci_support import envelope, receiver

SUBSCRIPTIONS = DciSubscription.__table__
FILTER = {"collection": "Group", "query": {"region_code": "32.01"}}


def subscribe_body(event_type: str, sender_uri: str, filter_: Any = FILTER) -> dict[str, Any]:
    request = {
        "reference_id": "ref-sub-1",
        "timestamp": now_ts(),
        "subscribe_criteria": {
            "reg_event_type": event_type,
            "filter_type": "expression",
            "filter": filter_,
            "notify_record_type": "Group",
            "authorize": {"purpose": {"code": "pkh-monitoring"}},
        },
    }
    return envelope("subscribe", {"transaction_id": "sub-txn", "subscribe_request": [request]}, sender_uri)


def unsubscribe_body(codes: list[str], sender_uri: str | None) -> dict[str, Any]:
    message = {"transaction_id": "unsub-txn", "timestamp": now_ts(), "subscription_codes": codes}
    return envelope("unsubscribe", message, sender_uri)


async def test_subscribe_stores_the_subscription_and_calls_back(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    headers = token_headers(settings, "integrator", "32", username="dinsos-jabar")
    with receiver() as subscriber:
        response = await client.post(
            "/registry/subscribe",
            json=subscribe_body("REGISTER", f"{subscriber.url}/registry/on-subscribe"),
            headers=headers,
        )
        acked = response.json()["message"]
        assert response.status_code == 200 and acked["ack_status"] == "ACK"
        [(path, callback)] = await subscriber.await_count(1)
    assert path == "/registry/on-subscribe" and callback["header"]["action"] == "on-subscribe"
    assert callback["message"]["correlation_id"] == acked["correlation_id"]
    assert callback["message"]["transaction_id"] == "sub-txn"
    [answer] = callback["message"]["subscribe_response"]
    [info] = answer["subscriptions"]
    assert answer["status"] == "succ" and info["status"] == "subscribe" and info["code"].startswith("sub-")
    async with db.connect() as conn:
        row = (await conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.code == info["code"]))).one()
        audit = (
            await conn.execute(
                select(AuditEntry.__table__).where(AuditEntry.__table__.c.entity_id == acked["correlation_id"])
            )
        ).one()
    assert row.subscriber == "dinsos-jabar" and row.scope == "32" and row.status == "subscribed"
    assert row.event_type == "REGISTER" and json.loads(row.filter) == FILTER
    assert row.notify_uri == f"{subscriber.url}/registry/notify" and row.ended_at is None
    assert json.loads(audit.after)["requests"][0]["authorize"] == {"purpose": {"code": "pkh-monitoring"}}


async def test_unknown_event_types_are_rejected_and_store_nothing(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    with receiver() as subscriber:
        await client.post(
            "/registry/subscribe",
            json=subscribe_body("LiveBirth", f"{subscriber.url}/registry/on-subscribe"),
            headers=token_headers(settings, "integrator", ""),
        )
        [(_path, callback)] = await subscriber.await_count(1)
    [answer] = callback["message"]["subscribe_response"]
    assert answer["status"] == "rjct" and answer["status_reason_code"] == "rjct.notify_types.invalid"
    assert callback["header"]["status"] == "rjct"
    async with db.connect() as conn:
        assert (await conn.execute(select(SUBSCRIPTIONS))).all() == []


async def test_unsubscribe_ends_only_the_callers_own_subscriptions(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    owner = token_headers(settings, "integrator", "32", username="dinsos-jabar")
    stranger = token_headers(settings, "integrator", "35", username="dinsos-jatim")
    with receiver() as subscriber:
        await client.post(
            "/registry/subscribe",
            json=subscribe_body("DEATH", f"{subscriber.url}/registry/on-subscribe"),
            headers=owner,
        )
        [(_path, subscribed)] = await subscriber.await_count(1)
        code = subscribed["message"]["subscribe_response"][0]["subscriptions"][0]["code"]
        uri = f"{subscriber.url}/registry/on-unsubscribe"
        await client.post("/registry/unsubscribe", json=unsubscribe_body([code], uri), headers=stranger)
        await client.post("/registry/unsubscribe", json=unsubscribe_body([code, "sub-nothing"], uri), headers=owner)
        await client.post("/registry/unsubscribe", json=unsubscribe_body([code], uri), headers=owner)
        received = await subscriber.await_count(4)
    by_stranger, by_owner, again = (body["message"] for _path, body in received[1:4])
    assert by_stranger["status"] == "rjct" and by_stranger["status_reason_code"] == "rjct.subscription_code.invalid"
    assert by_stranger["subscription_status"] == []
    assert by_owner["status"] == "succ" and by_owner["subscription_status"] == [{"code": code, "status": "unsubscribe"}]
    assert "sub-nothing" in by_owner["status_reason_message"]
    assert again["status"] == "rjct" and again["status_reason_code"] == "rjct.event.already_unsubscribed"
    async with db.connect() as conn:
        row = (await conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.code == code))).one()
    assert row.status == "unsubscribed" and row.ended_at is not None


async def test_unsubscribe_without_sender_uri_answers_nack(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    response = await client.post(
        "/registry/unsubscribe",
        json=unsubscribe_body(["sub-x"], None),
        headers=token_headers(settings, "integrator", ""),
    )
    assert response.status_code == 200 and response.json()["message"]["ack_status"] == "NACK"
    missing = await client.post(
        "/registry/subscribe",
        json={
            **subscribe_body("REGISTER", "http://x"),
            "header": {**subscribe_body("REGISTER", "http://x")["header"], "sender_uri": None},
        },
        headers=token_headers(settings, "integrator", ""),
    )
    assert missing.status_code == 400 and missing.json()["message"]["error"]["code"] == "err.sender_uri.invalid"
