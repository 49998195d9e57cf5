"""DCI endpoints: callers, envelopes and their refusals, async search with its callback, txn status, audit."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth.users import create_api_key, create_user
from core.foundation.settings import Settings
from core.models import AuditEntry, DciTransaction
from core.storage.db import write_transaction
from tests import factories
from tests.conftest import token_headers
from tests.dci_support import answers, by_id, envelope, expression, kks, receiver, search_body, search_message
from tests.programs_support import register
from tests.serving import serve

AUDIT = AuditEntry.__table__
TRANSACTIONS = DciTransaction.__table__
CONSENT = {"@type": "Consent", "ts": "2026-12-07T10:00:00Z", "purpose": {"text": "PKH verification", "code": "pkh-01"}}


def integrator(settings: Settings, scope: str = "", username: str = "dinsos") -> dict[str, str]:
    return token_headers(settings, "integrator", scope, username=username)


async def test_requests_without_credentials_are_refused_with_401(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    for path in ("/registry/sync/search", "/registry/search", "/registry/sync/txn/status", "/registry/txn/status"):
        response = await client.post(path, json=search_body(by_id("NIK", "3201010101010001")))
        assert response.status_code == 401 and response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["message"]["ack_status"] == "ERR" and body["message"]["error"]["code"] == "err.request.unauthorized"
        assert body["errors"][0]["code"] == "err.request.unauthorized"
    bad = await client.post(
        "/registry/sync/search", json=search_body(by_id("NIK", "1")), headers={"Authorization": "Bearer nonsense"}
    )
    assert bad.status_code == 401


async def test_an_integrator_api_key_is_a_caller(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    [data] = [factories.household()]
    await register(db, [data])
    async with write_transaction(db) as conn:
        await create_user(conn, "bpjs", "a-long-password-for-bpjs", "integrator", "32")
        key, _prefix = await create_api_key(conn, "bpjs", "dci")
    response = await client.post(
        "/registry/sync/search", json=search_body(by_id("KK", data.kk_number)), headers={"X-API-Key": key}
    )
    assert response.status_code == 200 and kks(answers(response.json())[0]) == [data.kk_number]


async def test_malformed_envelopes_are_refused_with_the_reason(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    good = search_body(by_id("NIK", "3201010101010001"))
    cases: list[tuple[Any, str, str]] = [
        ({k: v for k, v in good.items() if k != "message"}, "err.request.bad", "no message"),
        ({**good, "header": {**good["header"], "message_ts": "yesterday"}}, "err.request.bad", "message_ts"),
        ({**good, "header": {**good["header"], "message_ts": "2026-12-07T10:00:00"}}, "err.request.bad", "time zone"),
        ({**good, "header": {**good["header"], "version": "2.0.0"}}, "err.version.not_supported", "1.0.0"),
        ({**good, "header": {**good["header"], "action": "subscribe"}}, "err.request.bad", "action"),
        ({**good, "header": {**good["header"], "sender_uri": "ftp://x"}}, "err.sender_uri.invalid", "http"),
        ({**good, "message": {**good["message"], "transaction_id": "x" * 100}}, "err.request.bad", "99"),
        ({**good, "message": {"transaction_id": "t"}}, "err.request.bad", "search_request"),
        ([], "err.request.bad", "JSON object"),
    ]
    for body, code, says in cases:
        response = await client.post("/registry/sync/search", json=body, headers=integrator(settings))
        assert response.status_code == 400, body
        error = response.json()["message"]["error"]
        assert error["code"] == code and says in error["message"], (error, body)
    async with db.connect() as conn:
        assert (await conn.execute(select(TRANSACTIONS))).all() == []  # refused requests change nothing
    no_uri = await client.post("/registry/search", json=good, headers=integrator(settings))
    assert no_uri.status_code == 400 and no_uri.json()["message"]["error"]["code"] == "err.sender_uri.invalid"


async def test_search_is_audited_with_consent_and_purpose(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    data = factories.household()
    await register(db, [data])
    body = search_body(by_id("NIK", data.members[0].nik, consent=CONSENT, authorize={"purpose": {"code": "a1"}}))
    response = await client.post("/registry/sync/search", json=body, headers=integrator(settings, "32"))
    correlation_id = response.json()["message"]["correlation_id"]
    async with db.connect() as conn:
        row = (await conn.execute(select(AUDIT).where(AUDIT.c.entity_id == correlation_id))).one()
    assert row.operation == "dciSearch" and row.actor == "dinsos" and row.scope == "32"
    after = json.loads(row.after)
    assert after["transaction_id"] == body["message"]["transaction_id"]
    assert after["requests"][0]["consent"] == CONSENT and after["requests"][0]["authorize"]["purpose"]["code"] == "a1"
    assert after["returned"] == {"ref-1": 1}


async def test_async_search_acks_and_posts_the_answer_to_sender_uri(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    data = factories.household()
    await register(db, [data])
    with receiver() as integrator_system:
        body = search_body(by_id("KK", data.kk_number), sender_uri=f"{integrator_system.url}/registry/on-search")
        response = await client.post("/registry/search", json=body, headers=integrator(settings))
        assert response.status_code == 200
        acked = response.json()["message"]
        assert acked["ack_status"] == "ACK" and acked["correlation_id"]
        [(path, callback)] = await integrator_system.await_count(1)
    assert path == "/registry/on-search"
    assert callback["header"]["action"] == "on-search" and callback["header"]["status"] == "succ"
    assert callback["header"]["receiver_id"] == "dinsos.example.go.id" and callback["signature"]
    assert callback["message"]["transaction_id"] == body["message"]["transaction_id"]
    assert callback["message"]["correlation_id"] == acked["correlation_id"]
    assert kks(callback["message"]["search_response"][0]) == [data.kk_number]


def status_body(attribute_type: str, value: Any, sender_uri: str | None = None) -> dict[str, Any]:
    message = {
        "transaction_id": "status-1",
        "txnstatus_request": {
            "reference_id": "ref-status",
            "txn_type": "search",
            "attribute_type": attribute_type,
            "attribute_value": value,
        },
    }
    return envelope("txn-status", message, sender_uri)


async def test_txn_status_answers_the_senders_own_transactions_only(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    data = factories.household()
    await register(db, [data])
    message = search_message(by_id("KK", data.kk_number), transaction_id="txn-42")
    searched = await client.post(
        "/registry/sync/search", json=envelope("search", message), headers=integrator(settings)
    )
    correlation_id = searched.json()["message"]["correlation_id"]
    for attribute_type, value in (
        ("transaction_id", "txn-42"),
        ("correlation_id", correlation_id),
        ("reference_id_list", ["ref-1"]),
    ):
        response = await client.post(
            "/registry/sync/txn/status", json=status_body(attribute_type, value), headers=integrator(settings)
        )
        assert response.status_code == 200
        payload = response.json()
        assert payload["header"]["action"] == "txn-on-status"
        status = payload["message"]["txnstatus_response"]["txn_status"]
        assert status["correlation_id"] == correlation_id and status["transaction_id"] == "txn-42"
        assert kks(status["search_response"][0]) == [data.kk_number]
    other = await client.post(
        "/registry/sync/txn/status",
        json=status_body("transaction_id", "txn-42"),
        headers=integrator(settings, username="someone-else"),
    )
    [unknown] = other.json()["message"]["txnstatus_response"]["txn_status"]["search_response"]
    assert unknown["status"] == "rjct" and unknown["status_reason_code"] == "rjct.reference_id.invalid"
    bad = await client.post("/registry/sync/txn/status", json=status_body("name", "x"), headers=integrator(settings))
    assert bad.status_code == 400 and "attribute_type" in bad.json()["message"]["error"]["message"]


async def test_async_txn_status_posts_to_sender_uri(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    with receiver() as integrator_system:
        uri = f"{integrator_system.url}/registry/txn/on-status"
        response = await client.post(
            "/registry/txn/status", json=status_body("transaction_id", "never-sent", uri), headers=integrator(settings)
        )
        assert response.json()["message"]["ack_status"] == "ACK"
        [(path, callback)] = await integrator_system.await_count(1)
    assert path == "/registry/txn/on-status" and callback["header"]["action"] == "txn-on-status"
    assert callback["message"]["correlation_id"] == response.json()["message"]["correlation_id"]
    assert callback["message"]["txnstatus_response"]["txn_status"]["search_response"][0]["status"] == "rjct"


async def test_pending_async_search_shows_in_txn_status_with_its_answer(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    data = factories.household()
    await register(db, [data])
    with receiver() as integrator_system:
        message = search_message(expression({"region_code": "32.01"}), transaction_id="txn-async")
        body = envelope("search", message, f"{integrator_system.url}/registry/on-search")
        await client.post("/registry/search", json=body, headers=integrator(settings))
        await integrator_system.await_count(1)
    async with db.connect() as conn:
        row = (await conn.execute(select(TRANSACTIONS).where(TRANSACTIONS.c.transaction_id == "txn-async"))).one()
    assert row.status == "succ" and row.action == "search" and row.sender == "dinsos"
    response = await client.post(
        "/registry/sync/txn/status", json=status_body("transaction_id", "txn-async"), headers=integrator(settings)
    )
    status = response.json()["message"]["txnstatus_response"]["txn_status"]
    assert kks(status["search_response"][0]) == [data.kk_number]


async def test_roles_without_the_dci_permission_are_forbidden_and_audited(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    headers = token_headers(settings, "village_operator", factories.VILLAGE, username="operator")
    response = await client.post("/registry/sync/search", json=search_body(by_id("NIK", "1")), headers=headers)
    assert response.status_code == 403
    message = response.json()["message"]
    assert message["error"]["code"] == "err.request.forbidden"
    async with db.connect() as conn:
        row = (await conn.execute(select(AUDIT).where(AUDIT.c.entity_id == message["correlation_id"]))).one()
    assert row.outcome == "denied" and row.operation == "dciSearch" and row.actor == "operator"


async def test_requests_without_valid_credentials_are_rate_limited_per_address(
    settings: Settings, db: AsyncEngine
) -> None:
    async with serve(settings.model_copy(update={"anonymous_requests_per_minute": 2}), "192.0.2.7") as http:
        codes = [
            (await http.post("/registry/sync/search", json=search_body(by_id("NIK", "1")))).status_code
            for _ in range(3)
        ]
        refused = await http.post("/registry/sync/search", json=search_body(by_id("NIK", "1")))
    assert codes == [401, 401, 429] and refused.status_code == 429
    assert refused.json()["message"]["error"]["code"] == "err.request.too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0
