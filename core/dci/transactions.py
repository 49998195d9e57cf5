"""Accepted DCI requests: the transaction store, search answers, callbacks and transaction status.

Every accepted request is a ``dci_transactions`` row keyed by SIKS's ``correlation_id``; its answer's
message is kept with it, so ``txn/status`` can tell the sender (and only the sender) where it stands
and what it answered. An async request's answer is posted to the request's ``sender_uri``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.dci.envelope import DciRefusal, Envelope, check_id, now_ts, parse_timestamp, request_list
from core.dci.search import SearchRejected, parse_criteria, search
from core.foundation.ids import ids
from core.models import DciTransaction

TRANSACTIONS = DciTransaction.__table__
MAX_REQUESTS = 100  # search requests in one message
CALLBACK_TIMEOUT_SECONDS = 10.0
REG_TYPE = "ns:org:RegistryType:Social"
#: ``subscibe`` is the spec's own spelling (a typo) and is read as ``subscribe``.
TXN_TYPES = {"search": "search", "subscribe": "subscribe", "subscibe": "subscribe", "receipt": "receipt"}
ATTRIBUTE_TYPES = ("transaction_id", "reference_id_list", "correlation_id")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a transaction belongs to: the integrator's username and region scope, and the header's sender_id."""

    username: str
    scope: str
    sender_id: str


async def open_transaction(
    conn: AsyncConnection,
    caller: Caller,
    envelope: Envelope,
    correlation_id: str,
    reference_ids: list[str],
    status: str,
) -> None:
    """Record an accepted request (``pdng`` until answered, ``succ``/``rjct`` when answered at once)."""
    await conn.execute(
        insert(TRANSACTIONS).values(
            id=ids.next_id(),
            correlation_id=correlation_id,
            transaction_id=envelope.transaction_id,
            message_id=envelope.message_id[:99],
            sender=caller.username[:64],
            sender_id=caller.sender_id[:99],
            scope=caller.scope,
            action=str(envelope.header["action"])[:24],
            status=status,
            reference_ids=json.dumps(reference_ids),
            created_at=datetime.now(UTC),
        )
    )


async def close_transaction(conn: AsyncConnection, correlation_id: str, status: str, answer: dict[str, Any]) -> None:
    """Keep the answer's message and final status of a transaction."""
    await conn.execute(
        update(TRANSACTIONS)
        .where(TRANSACTIONS.c.correlation_id == correlation_id)
        .values(status=status, answer=json.dumps(answer, default=str), completed_at=datetime.now(UTC))
    )


# -- search -----------------------------------------------------------------------------------------------


def search_requests(message: dict[str, Any]) -> list[Any]:
    """The message's ``search_request`` list, or DciRefusal when the message has none or too many."""
    return request_list(message, "search_request", MAX_REQUESTS)


def reference_ids_of(items: list[Any]) -> list[str]:
    return [str(item.get("reference_id", ""))[:99] for item in items if isinstance(item, dict)]


def _rejected(reference_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "reference_id": reference_id or "-",
        "timestamp": now_ts(),
        "status": "rjct",
        "status_reason_code": code,
        "status_reason_message": message[:999],
        "data": {"version": "1.0.0", "reg_type": REG_TYPE, "reg_records": []},
    }


async def answer_search(
    conn: AsyncConnection, message: dict[str, Any], scope: str, today: date | None = None
) -> tuple[dict[str, Any], str]:
    """The ``SearchResponse`` items for each search request within ``scope``, and the overall status.

    Each request is answered on its own: a bad one is rejected with its reason while the others are
    answered. The overall status is ``succ`` when any request succeeded, else ``rjct``.
    """
    today = today or datetime.now(UTC).date()
    answers: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in search_requests(message):
        reference_id = str(item.get("reference_id", "")) if isinstance(item, dict) else ""
        try:
            check_id(reference_id, "reference_id")
        except DciRefusal as refusal:
            answers.append(_rejected(reference_id[:99], "rjct.reference_id.invalid", refusal.message))
            continue
        if reference_id in seen:
            answers.append(_rejected(reference_id, "rjct.reference_id.duplicate", "this reference_id came twice"))
            continue
        seen.add(reference_id)
        try:
            parse_timestamp(item.get("timestamp"), "timestamp")
        except DciRefusal as refusal:
            answers.append(_rejected(reference_id, "rjct.timestamp.invalid", refusal.message))
            continue
        try:
            criteria = parse_criteria(item.get("search_criteria"), today)
        except SearchRejected as rejected:
            answers.append(_rejected(reference_id, rejected.reason_code, rejected.message))
            continue
        page = await search(conn, criteria, scope, today)
        answer: dict[str, Any] = {
            "reference_id": reference_id,
            "timestamp": now_ts(),
            "status": "succ",
            "data": {
                "version": "1.0.0",
                "reg_type": REG_TYPE,
                "reg_record_type": criteria.entity,
                "reg_records": page.records,
            },
            "pagination": page.pagination(),
        }
        if isinstance(item.get("locale"), str):
            answer["locale"] = item["locale"]
        answers.append(answer)
    status = "succ" if any(a["status"] == "succ" for a in answers) else "rjct"
    return {"search_response": answers}, status


# -- transaction status -----------------------------------------------------------------------------------


def parse_status_request(message: dict[str, Any]) -> dict[str, Any]:
    """The ``txnstatus_request`` of a message, checked; DciRefusal says what was wrong."""
    request = message.get("txnstatus_request")
    if not isinstance(request, dict):
        raise DciRefusal("err.request.bad", "message.txnstatus_request must be an object")
    for name in ("reference_id", "txn_type", "attribute_type", "attribute_value"):
        if name not in request:
            raise DciRefusal("err.request.bad", f"txnstatus_request lacks {name}")
    if request["txn_type"] not in TXN_TYPES:
        raise DciRefusal("err.request.bad", f"txn_type must be one of {', '.join(TXN_TYPES)}")
    if request["attribute_type"] not in ATTRIBUTE_TYPES:
        raise DciRefusal("err.request.bad", f"attribute_type must be one of {', '.join(ATTRIBUTE_TYPES)}")
    value = request["attribute_value"]
    if request["attribute_type"] == "reference_id_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DciRefusal("err.request.bad", "attribute_value of reference_id_list is a list of reference ids")
    elif not isinstance(value, str | int):
        raise DciRefusal("err.request.bad", "attribute_value must be an id")
    return request


async def transaction_status(conn: AsyncConnection, sender: str, request: dict[str, Any]) -> dict[str, Any]:
    """The ``txn_status`` of the sender's transaction named by ``request``: its kept answer, or a rejection.

    Only the sender's own transactions are found; another integrator's look exactly like none.
    """
    attribute, value = request["attribute_type"], request["attribute_value"]
    query = select(TRANSACTIONS).where(TRANSACTIONS.c.sender == sender)
    if attribute == "transaction_id":
        query = query.where(TRANSACTIONS.c.transaction_id == str(value))
    elif attribute == "correlation_id":
        query = query.where(TRANSACTIONS.c.correlation_id == str(value))
    rows = (await conn.execute(query.order_by(TRANSACTIONS.c.created_at.desc()))).all()
    if attribute == "reference_id_list":
        wanted = set(value)
        rows = [row for row in rows if wanted & set(json.loads(row.reference_ids))]
    rows = [row for row in rows if TXN_TYPES[request["txn_type"]] == row.action]
    if not rows:
        return {
            "transaction_id": str(value) if attribute != "reference_id_list" else "-",
            "correlation_id": "-",
            "search_response": [
                {
                    "reference_id": str(request["reference_id"])[:99],
                    "timestamp": now_ts(),
                    "status": "rjct",
                    "status_reason_code": "rjct.reference_id.invalid",
                    "status_reason_message": f"no {request['txn_type']} transaction of yours has this {attribute}",
                }
            ],
        }
    row = rows[0]
    kept = json.loads(row.answer) if row.answer else None
    if kept is not None and "search_response" in kept:
        responses = kept["search_response"]
    else:
        responses = [
            {"reference_id": reference_id, "timestamp": now_ts(), "status": row.status}
            for reference_id in json.loads(row.reference_ids) or ["-"]
        ]
    return {"transaction_id": row.transaction_id, "correlation_id": row.correlation_id, "search_response": responses}


# -- callbacks --------------------------------------------------------------------------------------------


async def post_callback(uri: str, envelope: dict[str, Any]) -> bool:
    """POST an answer envelope to the sender's callback URI; True when it answered 2xx."""
    try:
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_SECONDS) as client:
            response = await client.post(uri, json=envelope)
    except httpx.HTTPError as exc:
        log.warning("DCI callback to %s failed: %s", uri, exc)
        return False
    if response.status_code >= 300:
        log.warning("DCI callback to %s answered HTTP %s", uri, response.status_code)
        return False
    return True
