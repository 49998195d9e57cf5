"""The DCI ``notify`` envelope of one delivery (``/registry/notify`` in registry_core_api_v1.0.0.yaml).

Notifications are thin: they say what happened to which household (KK), member (NIK) or DTKS
edition, where and when, not the record itself; the integrator fetches the current record with a
search, which applies its region scope and audits the read. A household that moved out of the
integrator's region is still notified to it (so it learns the household left), without the new
village.

``header.message_id`` is the delivery's id: unique per notification and the same on every retry, so
a subscriber that sees one twice (at-least-once delivery) can drop the copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.dci.events import DCI_EVENT_TYPES, EventKind
from core.dci.outbox import Claimed
from core.regions.codes import region_within

REG_TYPE = "ns:org:RegistryType:Social"
VERSION = "1.0.0"
#: ``reg_record_type`` per kind: the social registry's response entities, and the edition.
RECORD_TYPES = {
    EventKind.HOUSEHOLD_REGISTERED: "Group",
    EventKind.HOUSEHOLD_CHANGED: "Group",
    EventKind.HOUSEHOLD_REMOVED: "Group",
    EventKind.MEMBER_DECEASED: "Member",
    EventKind.EDITION_DETERMINED: "DtksEdition",
}

#: ``reg_records.status`` of a household's notification.
GROUP_STATUS = {
    EventKind.HOUSEHOLD_REGISTERED: "registered",
    EventKind.HOUSEHOLD_CHANGED: "changed",
    EventKind.HOUSEHOLD_REMOVED: "removed",
}


def message_id(delivery_id: int) -> str:
    """The notify message's id: stable across retries of one delivery, distinct between deliveries."""
    return f"siks-notify-{delivery_id}"


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _record(delivery: Claimed) -> dict[str, Any]:
    kind = delivery.kind
    if kind is EventKind.EDITION_DETERMINED:
        return {"@type": "DtksEdition", "edition_id": str(delivery.edition_id), "label": delivery.identifier}
    if kind is EventKind.MEMBER_DECEASED:
        record: dict[str, Any] = {
            "@type": "Member",
            "member_identifier": [{"identifier_type": "NIK", "identifier_value": delivery.identifier}],
            "group_id": str(delivery.household_id),
            "status": "deceased",
        }
    else:
        record = {
            "@type": "Group",
            "group_identifier": [{"identifier_type": "KK", "identifier_value": delivery.identifier}],
            "group_id": str(delivery.household_id),
            "status": GROUP_STATUS[kind],
        }
    village = delivery.village_code
    if village and region_within(village, delivery.scope):
        record["location"] = village
    else:
        record["moved_out_of_scope"] = True  # it left the integrator's region; where to is not theirs to know
    return record


def notify_envelope(delivery: Claimed, sender_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and message of ``delivery``'s notification (the signature is added by the caller)."""
    header = {
        "version": VERSION,
        "message_id": message_id(delivery.id),
        "message_ts": _iso(now),
        "action": "notify",
        "status": "succ",
        "total_count": 1,
        "completed_count": 1,
        "sender_id": sender_id,
        "receiver_id": delivery.subscriber,
        "is_msg_encrypted": False,
        "meta": {"event_type": sorted(DCI_EVENT_TYPES[delivery.kind])[0], "attempt": delivery.attempts},
    }
    message = {
        "transaction_id": f"siks-event-{delivery.event_id}",
        "notify_event": [
            {
                "reference_id": delivery.subscription_code,
                "timestamp": _iso(delivery.occurred_at),
                "data": {
                    "version": VERSION,
                    "reg_type": REG_TYPE,
                    "reg_record_type": RECORD_TYPES[delivery.kind],
                    "reg_records": _record(delivery),
                },
            }
        ],
    }
    return header, message
