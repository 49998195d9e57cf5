"""core/schema/global_ids.py: opaque global ids, their round trip, and what id arguments refuse."""

from __future__ import annotations

import base64

import pytest
from graphql import GraphQLError

from core.schema.arguments import parse_id
from core.schema.global_ids import InvalidId, decode, encode


def test_a_global_id_round_trips_and_reads_as_opaque_text() -> None:
    text = encode("Household", 917813000415339520)
    assert "Household" not in text and "917813000415339520" not in text  # opaque to a casual reader
    assert decode(text) == ("Household", "917813000415339520")
    assert decode(encode("Region", "32.01.01.2001")) == ("Region", "32.01.01.2001")


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "!!!", "SG91c2Vob2xk", base64.urlsafe_b64encode(b"no separator").decode(), "\u0663\u0663", "a:b"],
)
def test_text_that_is_no_global_id_decodes_to_none(garbage: str) -> None:
    assert decode(garbage) is None


def test_an_id_argument_takes_the_global_id_of_its_type_and_the_legacy_raw_id() -> None:
    assert parse_id(encode("Member", 42), "memberId", "Member") == 42
    assert parse_id("42", "memberId", "Member") == 42  # the published contract's raw ids, while deprecated


def test_an_id_argument_refuses_another_types_id_naming_the_argument() -> None:
    with pytest.raises(InvalidId) as refused:
        parse_id(encode("Proposal", 42), "householdId", "Household")
    assert refused.value.argument == "householdId"
    assert str(refused.value) == "householdId: expected the id of a Household, got the id of a Proposal"
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "argument": "householdId"}


@pytest.mark.parametrize("garbage", ["abc", "-1", "1.5", encode("Household", "x1"), "9" * 40, ""])
def test_an_id_argument_refuses_garbage_naming_the_argument(garbage: str) -> None:
    with pytest.raises(GraphQLError, match=r"^id: .* is not an id returned by this API$"):
        parse_id(garbage, "id", "Household")


def test_without_a_type_an_id_argument_takes_raw_ids_only_as_before_global_ids() -> None:
    assert parse_id("42", "groupId") == 42  # a plugin written before global ids keeps working unchanged
    with pytest.raises(InvalidId, match="^groupId: .* is not a whole-number id$"):
        parse_id(encode("KubeGroup", 42), "groupId")
