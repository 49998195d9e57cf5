"""ProposedValue (core/schema/proposed_values.py): a proposal's values in the API's words — a target enum, the
camelCase field name, enum member names, numbers, booleans and ISO dates — beside the deprecated stored ones."""

from __future__ import annotations

from typing import Any

import pytest

from core.foundation.enums import Education
from core.foundation.ids import encode_global
from core.schema.proposed_values import api_value
from tests.conftest import GraphQLClient
from tests.verification_support import CHAIN_SCOPES, PROPOSE_CHANGE, registered

CHANGES = """query($id: ID!) { proposal(id: $id) { changes {
  target fieldName currentValue proposedValue memberId entity field current proposed } } }"""


@pytest.mark.parametrize(
    ("target", "name", "stored", "shown"),
    [
        ("household", "floor_material", "ceramic", "CERAMIC"),
        ("household", "has_motorcycle", "true", True),
        ("household", "has_car", "false", False),
        ("household", "livestock_count", "3", 3),
        ("household", "floor_area", "36.5", 36.5),
        ("household", "latitude", "-6.48", -6.48),
        ("household", "rt", "007", "007"),
        ("member", "birth_date", "1990-01-31", "1990-01-31"),
        ("member", "relationship", "head", "HEAD"),
        ("member", "status", "deceased", "DECEASED"),
        ("member", "pregnant", "true", True),
        ("household", "floor_material", None, None),
        ("household", "floor_material", "retired_code", "retired_code"),  # an old proposal's code: as stored
    ],
)
def test_a_stored_value_is_shown_as_the_api_shows_it(target: str, name: str, stored: str | None, shown: Any) -> None:
    assert api_value(target, name, stored) == shown


async def test_a_proposals_changes_read_in_camel_case_and_enums(db: Any, as_role: Any) -> None:
    [household] = await registered(db, 1)
    member = household.members[1]
    operator: GraphQLClient = as_role("village_operator", CHAIN_SCOPES["village_operator"])
    change = {
        "household": {"floorMaterial": "CERAMIC", "hasMotorcycle": True, "livestockCount": 4},
        "memberChanges": [
            {"memberId": encode_global("Member", member.id), "changes": {"education": "POSTGRADUATE", "inSchool": True}}
        ],
    }
    made = (
        await operator(PROPOSE_CHANGE, {"id": encode_global("Household", household.id), "version": 1, "change": change})
    )["proposeHouseholdChange"]
    assert made["__typename"] == "Proposal", made
    changes = (await operator(CHANGES, {"id": made["id"]}))["proposal"]["changes"]
    by_name = {(c["target"], c["fieldName"]): c for c in changes}
    floor = by_name[("HOUSEHOLD", "floorMaterial")]
    assert (floor["currentValue"], floor["proposedValue"]) == ("CEMENT_BRICK", "CERAMIC")
    assert (floor["entity"], floor["field"], floor["proposed"]) == ("household", "floor_material", "ceramic")
    assert (
        by_name[("HOUSEHOLD", "hasMotorcycle")]["currentValue"],
        by_name[("HOUSEHOLD", "hasMotorcycle")]["proposedValue"],
    ) == (False, True)
    assert by_name[("HOUSEHOLD", "livestockCount")]["proposedValue"] == 4
    school = by_name[("MEMBER", "education")]
    assert (school["currentValue"], school["proposedValue"]) == (Education(member.education).name, "POSTGRADUATE")
    assert (school["entity"], school["field"], school["proposed"]) == ("member", "education", "postgraduate")
    assert by_name[("MEMBER", "inSchool")]["proposedValue"] is True
    assert school["memberId"] == encode_global("Member", member.id)
