"""The DCI envelope: what a request header must carry, and the answers SIKS builds."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.dci.envelope import DciRefusal, ack, answer_header, err, parse_envelope
from core.dci.mapping import enrolment_status
from tests.dci_support import envelope


def good() -> dict[str, Any]:
    return envelope("search", {"transaction_id": "t-1"}, "https://spmis.example.org/registry/on-search")


def test_a_complete_envelope_is_read() -> None:
    parsed = parse_envelope(good(), "search")
    assert parsed.transaction_id == "t-1" and parsed.sender_id == "dinsos.example.go.id"
    assert parsed.sender_uri == "https://spmis.example.org/registry/on-search" and parsed.signature == "unsigned"


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"total_count": True}, "err.request.bad", "total_count"),
        ({"total_count": -1}, "err.request.bad", "total_count"),
        ({"is_msg_encrypted": True}, "err.encryption.invalid", "encrypted"),
        ({"sender_id": ""}, "err.request.bad", "sender_id"),
        ({"message_id": None}, "err.request.bad", "message_id"),
        ({"sender_uri": "/relative"}, "err.sender_uri.invalid", "absolute"),
    ],
)
def test_header_refusals_name_the_field(change: dict[str, Any], code: str, says: str) -> None:
    body = good()
    body["header"].update(change)
    with pytest.raises(DciRefusal) as refused:
        parse_envelope(body, "search")
    assert refused.value.code == code and says in refused.value.message


def test_a_signature_must_be_text() -> None:
    with pytest.raises(DciRefusal) as refused:
        parse_envelope({**good(), "signature": 7}, "search")
    assert refused.value.code == "err.signature.invalid"


def test_answers_carry_the_spec_fields() -> None:
    assert set(ack("c-1")["message"]) == {"ack_status", "timestamp", "correlation_id"}
    refused = err("c-1", "err.request.bad", "x" * 2000)
    assert refused["message"]["ack_status"] == "ERR" and len(refused["message"]["error"]["message"]) == 999
    assert refused["errors"] == [refused["message"]["error"]]
    header = answer_header("on-search", "spmis", status="rjct", total_count=3, reason_code="rjct.errors.too_many")
    assert header["completed_count"] == 3 and header["status_reason_code"] == "rjct.errors.too_many"
    assert header["sender_id"] == "siks" and header["receiver_id"] == "spmis" and header["message_ts"].endswith("Z")


def test_enrolment_status_follows_the_period() -> None:
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    assert enrolment_status(start, end, date(2025, 12, 31)) == "planned"
    assert enrolment_status(start, end, date(2026, 3, 31)) == "active"
    assert enrolment_status(start, end, date(2026, 4, 1)) == "ended"
