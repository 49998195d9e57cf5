"""DCI subscriptions: subscribe and unsubscribe store ``dci_subscriptions`` rows; notifications are sent elsewhere.

A subscription belongs to the integrator who made it and carries the integrator's region scope at
subscribe time; its ``filter`` is kept as sent. Notifications go to ``notify_uri``: the request's
``sender_uri`` with its last path segment ``on-subscribe`` replaced by ``notify`` (the spec leaves
the notify address to onboarding; this keeps it to what the subscriber sent).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.dci.envelope import DciRefusal, check_id, now_ts, parse_timestamp, request_list
from core.dci.events import DCI_EVENT_TYPES, dci_name
from core.dci.transactions import REG_TYPE, Caller
from core.foundation.ids import ids
from core.models import DciSubscription

SUBSCRIPTIONS = DciSubscription.__table__
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
#: The ``reg_event_type`` names SIKS notifies (the part after the last colon, any case): the outbox's.
EVENT_TYPES = frozenset().union(*DCI_EVENT_TYPES.values())
RECORD_TYPES = frozenset({"Group", "Member", "SRPerson", "SRGroup", "SRMember", "Person"})
MAX_SUBSCRIBE_REQUESTS = 100


def notify_uri_of(sender_uri: str) -> str:
    head, _, last = sender_uri.rstrip("/").rpartition("/")
    return f"{head}/notify" if last == "on-subscribe" else sender_uri


def subscribe_requests(message: dict[str, Any]) -> list[Any]:
    return request_list(message, "subscribe_request", MAX_SUBSCRIBE_REQUESTS)


def _rejected(reference_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "reference_id": reference_id or "-",
        "timestamp": now_ts(),
        "status": "rjct",
        "status_reason_code": code,
        "status_reason_message": message[:999],
    }


async def subscribe(
    conn: AsyncConnection, caller: Caller, message: dict[str, Any], sender_uri: str
) -> tuple[dict[str, Any], str]:
    """Store a subscription for each acceptable request; the ``SubscribeResponse`` items and overall status."""
    answers: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for item in subscribe_requests(message):
        reference_id = str(item.get("reference_id", "")) if isinstance(item, dict) else ""
        try:
            check_id(reference_id, "reference_id")
            parse_timestamp(item.get("timestamp"), "timestamp")
        except DciRefusal as refusal:
            code = "rjct.reference_id.invalid" if "reference_id" in refusal.message else "rjct.timestamp.invalid"
            answers.append(_rejected(reference_id[:99], code, refusal.message))
            continue
        criteria = item.get("subscribe_criteria")
        if not isinstance(criteria, dict):
            answers.append(_rejected(reference_id, "rjct.notify_details.invalid", "subscribe_criteria is required"))
            continue
        event_type = criteria.get("reg_event_type")
        if not isinstance(event_type, str) or dci_name(event_type) not in EVENT_TYPES:
            answers.append(
                _rejected(
                    reference_id,
                    "rjct.notify_types.invalid",
                    f"reg_event_type must be one of {', '.join(sorted(EVENT_TYPES))}",
                )
            )
            continue
        record_type = criteria.get("notify_record_type", "Group")
        filter_ = criteria.get("filter")
        if record_type not in RECORD_TYPES or not isinstance(filter_, dict | list):
            answers.append(
                _rejected(
                    reference_id,
                    "rjct.notify_details.invalid",
                    "notify_record_type must be Group or Member and filter an object or list",
                )
            )
            continue
        code = f"sub-{secrets.token_hex(12)}"
        reg_type = str(criteria.get("reg_type") or REG_TYPE)[:64]
        await conn.execute(
            insert(SUBSCRIPTIONS).values(
                id=ids.next_id(),
                code=code,
                subscriber=caller.username[:64],
                scope=caller.scope,
                event_type=event_type[:64],
                reg_type=reg_type,
                filter=json.dumps(filter_),
                notify_uri=notify_uri_of(sender_uri)[:500],
                status=SUBSCRIBED,
                created_at=now,
            )
        )
        info = {
            "code": code,
            "status": "subscribe",
            "timestamp": now_ts(),
            "reg_type": reg_type,
            "reg_event_type": event_type,
            "filter": filter_,
            "notify_record_type": record_type,
        }
        answers.append({"reference_id": reference_id, "timestamp": now_ts(), "status": "succ", "subscriptions": [info]})
    status = "succ" if any(a["status"] == "succ" for a in answers) else "rjct"
    return {"subscribe_response": answers}, status


async def unsubscribe(conn: AsyncConnection, caller: Caller, message: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """End the caller's subscriptions named by ``subscription_codes``; the ``UnSubscribeResponse`` fields.

    Codes of another integrator's subscriptions are treated exactly as unknown codes.
    """
    codes = message.get("subscription_codes")
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise DciRefusal("err.request.bad", "message.subscription_codes must be a non-empty list of codes")
    for code in codes:
        check_id(code, "subscription_code")
    parse_timestamp(message.get("timestamp"), "message.timestamp")
    rows = (
        await conn.execute(
            select(SUBSCRIPTIONS.c.code, SUBSCRIPTIONS.c.status).where(
                SUBSCRIPTIONS.c.code.in_(codes), SUBSCRIPTIONS.c.subscriber == caller.username
            )
        )
    ).all()
    found = {row.code: row.status for row in rows}
    ending = [code for code, status in found.items() if status == SUBSCRIBED]
    if ending:
        await conn.execute(
            update(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.code.in_(ending))
            .values(status=UNSUBSCRIBED, ended_at=datetime.now(UTC))
        )
    answer: dict[str, Any] = {
        "timestamp": now_ts(),
        "status": "succ" if ending else "rjct",
        "subscription_status": [{"code": code, "status": "unsubscribe"} for code in codes if code in found],
    }
    unknown = [code for code in codes if code not in found]
    if unknown:
        answer["status_reason_code"] = "rjct.subscription_code.invalid"
        answer["status_reason_message"] = f"no subscription of yours has the code {', '.join(unknown)[:900]}"
    elif not ending:
        answer["status_reason_code"] = "rjct.event.already_unsubscribed"
        answer["status_reason_message"] = "these subscriptions had already ended"
    return answer, answer["status"]
