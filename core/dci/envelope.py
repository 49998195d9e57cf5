"""The DCI message envelope: ``signature``, ``header``, ``message``; ACK/ERR answers and callback headers.

A request's header must carry ``message_id``, ``message_ts`` (ISO 8601 with a time zone), ``action``
(the endpoint's own), ``sender_id`` and ``total_count``; the version, when sent, must be ``1.0.0``.
A refused request raises ``DciRefusal`` with one of the spec's error codes (``Error.code``) and a
sentence saying what was wrong.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

SPEC_VERSION = "1.0.0"
#: SIKS's ``sender_id`` on its answers and callbacks.
REGISTRY_ID = "siks"
MAX_ID_LENGTH = 99
REQUIRED_HEADER = ("message_id", "message_ts", "action", "sender_id", "total_count")


class DciRefusal(Exception):
    """A request refused before any work: ``code`` from the spec's ``Error`` codes, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed request: its header and message as sent, and its signature (None when absent)."""

    signature: str | None
    header: dict[str, Any]
    message: dict[str, Any]

    @property
    def sender_id(self) -> str:
        return str(self.header["sender_id"])

    @property
    def message_id(self) -> str:
        return str(self.header["message_id"])

    @property
    def sender_uri(self) -> str | None:
        uri = self.header.get("sender_uri")
        return str(uri) if uri else None

    @property
    def transaction_id(self) -> str:
        return str(self.message["transaction_id"])

    def as_dict(self) -> dict[str, Any]:
        envelope: dict[str, Any] = {"header": self.header, "message": self.message}
        if self.signature is not None:
            envelope["signature"] = self.signature
        return envelope


def now_ts() -> str:
    """The current time as the spec writes timestamps (ISO 8601, UTC, with a zone)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_correlation_id() -> str:
    return f"siks-{secrets.token_hex(12)}"


def parse_timestamp(value: Any, field: str) -> datetime:
    """An ISO 8601 timestamp with a time zone, or DciRefusal naming the field."""
    if not isinstance(value, str):
        raise DciRefusal("err.request.bad", f"{field} must be an ISO 8601 timestamp with a time zone")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DciRefusal(
            "err.request.bad", f"{field} '{value[:40]}' is not an ISO 8601 timestamp such as 2026-12-07T10:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise DciRefusal("err.request.bad", f"{field} '{value[:40]}' has no time zone; add Z or an offset")
    return parsed


def check_id(value: Any, field: str) -> str:
    """A non-empty identifier of at most 99 characters (the spec's limit on transaction and reference ids)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise DciRefusal("err.request.bad", f"{field} is required and must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise DciRefusal("err.request.bad", f"{field} is longer than {MAX_ID_LENGTH} characters")
    return value


def request_list(message: dict[str, Any], field: str, limit: int) -> list[Any]:
    """The message's list of requests under ``field`` (search_request, subscribe_request): non-empty, at
    most ``limit``; else DciRefusal."""
    requests = message.get(field)
    if not isinstance(requests, list) or not requests:
        raise DciRefusal("err.request.bad", f"message.{field} must be a non-empty list")
    if len(requests) > limit:
        raise DciRefusal("err.request.bad", f"at most {limit} {field.replace('_', ' ')}s a message; split the batch")
    return requests


def check_callback_uri(uri: str) -> str:
    """An absolute http(s) URI a callback can be sent to."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DciRefusal("err.sender_uri.invalid", f"sender_uri '{uri[:80]}' is not an absolute http(s) URI")
    return uri


def parse_envelope(body: Any, action: str) -> Envelope:
    """The envelope of a request to an endpoint of ``action``, checked as the spec's ``MsgHeader`` requires."""
    if not isinstance(body, dict):
        raise DciRefusal("err.request.bad", "the body must be a JSON object with header and message")
    header = body.get("header")
    message = body.get("message")
    if not isinstance(header, dict):
        raise DciRefusal("err.request.bad", "the request has no header object")
    if not isinstance(message, dict):
        raise DciRefusal("err.request.bad", "the request has no message object")
    missing = [name for name in REQUIRED_HEADER if header.get(name) in (None, "")]
    if missing:
        raise DciRefusal("err.request.bad", f"the header lacks {', '.join(missing)}")
    version = header.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise DciRefusal("err.version.not_supported", f"version '{str(version)[:20]}' is not supported; send 1.0.0")
    if header["action"] != action:
        raise DciRefusal(
            "err.request.bad", f"action '{str(header['action'])[:30]}' does not belong here; send {action}"
        )
    parse_timestamp(header["message_ts"], "header.message_ts")
    check_id(header["message_id"], "header.message_id")
    check_id(header["sender_id"], "header.sender_id")
    total = header["total_count"]
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise DciRefusal("err.request.bad", "header.total_count must be a whole number")
    if header.get("is_msg_encrypted") is True:
        raise DciRefusal("err.encryption.invalid", "encrypted messages are not accepted; send the message in clear")
    sender_uri = header.get("sender_uri")
    if sender_uri not in (None, ""):
        if not isinstance(sender_uri, str):
            raise DciRefusal("err.sender_uri.invalid", "sender_uri must be a URI")
        check_callback_uri(sender_uri)
    check_id(message.get("transaction_id"), "message.transaction_id")
    signature = body.get("signature")
    if signature is not None and not isinstance(signature, str):
        raise DciRefusal("err.signature.invalid", "signature must be a string")
    return Envelope(signature=signature, header=header, message=message)


def ack(correlation_id: str) -> dict[str, Any]:
    """The ``Response`` of an accepted async request (its answer follows at ``sender_uri``)."""
    return {"message": {"ack_status": "ACK", "timestamp": now_ts(), "correlation_id": correlation_id}}


def err(correlation_id: str, code: str, message: str) -> dict[str, Any]:
    """The ``Response`` of a refused request; ``errors`` repeats it as the spec's ``HttpErrorResponse``."""
    error = {"code": code, "message": message[:999]}
    return {
        "message": {"ack_status": "ERR", "timestamp": now_ts(), "correlation_id": correlation_id, "error": error},
        "errors": [error],
    }


def answer_header(
    action: str,
    receiver_id: str,
    *,
    status: str = "succ",
    total_count: int = 1,
    completed_count: int | None = None,
    reason_code: str | None = None,
    reason_message: str | None = None,
) -> dict[str, Any]:
    """The ``MsgCallbackHeader`` of an answer or callback from SIKS (``on-search``, ``txn-on-status``, ...)."""
    header: dict[str, Any] = {
        "version": SPEC_VERSION,
        "message_id": secrets.token_hex(16),
        "message_ts": now_ts(),
        "action": action,
        "status": status,
        "total_count": total_count,
        "completed_count": total_count if completed_count is None else completed_count,
        "sender_id": REGISTRY_ID,
        "receiver_id": receiver_id,
        "is_msg_encrypted": False,
    }
    if reason_code:
        header["status_reason_code"] = reason_code
    if reason_message:
        header["status_reason_message"] = reason_message[:999]
    return header
