"""GraphQL: verification rounds, prelists, field visits with GPS and photos, and progress."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.models import Visit, VisitPhoto
from tests.conftest import token_headers
from tests.photo_files import gps_of, jpeg_with_gps, png
from tests.verification_support import APPROVE, CHAIN_SCOPES, registered, row_count

CREATE_ROUND = """mutation($codes: [String!]!, $period: String!) {
  createVerificationRound(period: $period, label: "Verivali Q4", regionCodes: $codes) {
    __typename ... on VerificationRound { id households regions status roundStatus }
    ... on ValidationError { fields { field message } } } }"""
RECORD = """mutation($input: VisitInput!) { recordVisit(input: $input) {
  __typename
  ... on VisitRecorded { visit { id outcome latitude photos { kind } } proposal { id kind stage removalReason } }
  ... on ValidationError { fields { field message } }
  ... on VersionConflict { currentVersion }
  ... on NotFound { message } } }"""
UPLOAD = """mutation($visit: ID!, $kind: PhotoKind!, $file: Upload!) {
  uploadVisitPhoto(visitId: $visit, kind: $kind, file: $file) {
    __typename ... on VisitPhoto { id kind contentType size sha256 url }
    ... on ValidationError { fields { field message } } ... on NotFound { message } } }"""
NEAR = {"latitude": -6.4805, "longitude": 106.8502}  # beside the factory households (-6.48, 106.85)


def visit_input(round_id: str, household: Any, **extra: Any) -> dict[str, Any]:
    values = {
        "roundId": round_id,
        "householdId": str(household.id),
        "outcome": "FOUND",
        "visitedAt": datetime.now(UTC).isoformat(),
        "householdVersion": household.version,
        **NEAR,
    }
    return values | extra


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    visit_id: str,
    kind: str,
    content: bytes,
    name: str,
    kind_type: str,
) -> httpx.Response:
    operations = {"query": UPLOAD, "variables": {"visit": visit_id, "kind": kind, "file": None}}
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, kind_type)},
        headers=headers,
    )


async def open_round(as_role: Any, db: AsyncEngine, households: int = 3) -> tuple[str, list[Any]]:
    made = await registered(db, households)
    created = (await as_role("regency_office", "32.01")(CREATE_ROUND, {"codes": ["32.01.01"], "period": "2026-Q4"}))[
        "createVerificationRound"
    ]
    assert created["__typename"] == "VerificationRound" and created["households"] == households, created
    assert (created["status"], created["roundStatus"]) == ("open", "OPEN")
    return created["id"], made


async def test_round_prelist_and_visits_become_proposals(db: AsyncEngine, as_role: Any) -> None:
    round_id, (changed, gone, untouched) = await open_round(as_role, db)
    village = as_role("village_operator", CHAIN_SCOPES["village_operator"])
    prelist = (
        await village(
            f'{{ verificationRound(id: "{round_id}") {{ prelist(villageCode: "32.01.01.1001", first: 2) {{'
            " totalCount pageInfo { hasNextPage }"
            " entries { householdVersion household { kkNumber } visit { id } } } } }"
        )
    )["verificationRound"]["prelist"]
    assert prelist["totalCount"] == 3 and prelist["pageInfo"]["hasNextPage"] and len(prelist["entries"]) == 2
    assert all(e["visit"] is None and e["household"]["kkNumber"] for e in prelist["entries"])
    found = (
        await village(
            RECORD,
            {
                "input": visit_input(
                    round_id, changed, changes={"household": {"roofMaterial": "ASBESTOS"}}, note="atap bocor"
                )
            },
        )
    )["recordVisit"]
    assert found["__typename"] == "VisitRecorded", found
    assert (found["proposal"]["kind"], found["proposal"]["stage"]) == ("CHANGE", "DISTRICT")
    deceased = (await village(RECORD, {"input": visit_input(round_id, gone, outcome="DECEASED")}))["recordVisit"]
    assert (deceased["proposal"]["kind"], deceased["proposal"]["removalReason"]) == ("REMOVAL", "DECEASED")
    plain = (await village(RECORD, {"input": visit_input(round_id, untouched)}))["recordVisit"]
    assert plain["proposal"] is None
    again = (await village(RECORD, {"input": visit_input(round_id, untouched)}))["recordVisit"]
    assert again["__typename"] == "ValidationError" and "already visited" in again["fields"][0]["message"]
    await as_role("district_officer", "32.01.01")(APPROVE, {"ids": [found["proposal"]["id"]]})
    progress = (
        await as_role("regency_office", "32.01")(
            f'{{ verificationRound(id: "{round_id}") {{ progress {{ total {{ due visited proposed approvedByDistrict '
            f"approvedByRegency determined }} regions {{ regionCode due }} }} }} }}"
        )
    )["verificationRound"]["progress"]
    assert progress["total"] == {
        "due": 3,
        "visited": 3,
        "proposed": 2,
        "approvedByDistrict": 1,
        "approvedByRegency": 0,
        "determined": 0,
    }
    assert progress["regions"] == [{"regionCode": "32.01.01", "due": 3}]


async def test_bad_visits_are_refused_and_nothing_is_recorded(db: AsyncEngine, as_role: Any) -> None:
    round_id, (household, other, _third) = await open_round(as_role, db)
    village = as_role("village_operator", CHAIN_SCOPES["village_operator"])
    cases = {
        "outside Indonesia": visit_input(round_id, household, latitude=35.68, longitude=139.69),
        "implausible": visit_input(round_id, household, latitude=-7.25, longitude=112.75),  # Surabaya
        "future": visit_input(round_id, household, visitedAt=(datetime.now(UTC) + timedelta(days=2)).isoformat()),
    }
    messages = {}
    for name, values in cases.items():
        result = (await village(RECORD, {"input": values}))["recordVisit"]
        assert result["__typename"] == "ValidationError", (name, result)
        messages[name] = " ".join(f["message"] for f in result["fields"])
    assert "outside Indonesia" in messages["outside Indonesia"]
    assert "km from village" in messages["implausible"] and "in the future" in messages["future"]
    stale = (
        await village(
            RECORD,
            {"input": visit_input(round_id, household, householdVersion=9, changes={"household": {"rt": "009"}})},
        )
    )["recordVisit"]
    assert stale == {"__typename": "VersionConflict", "currentVersion": household.version}
    hidden = as_role("village_operator", "32.01.01.1002")
    assert (await hidden(RECORD, {"input": visit_input(round_id, other)}))["recordVisit"]["__typename"] == "NotFound"
    regency = await as_role("regency_office", "32.01").raw(RECORD, {"input": visit_input(round_id, other)})
    assert regency["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    outside = (await as_role("regency_office", "32.01")(CREATE_ROUND, {"codes": ["35.78"], "period": "2026-13"}))[
        "createVerificationRound"
    ]
    assert {f["field"] for f in outside["fields"]} == {"period", "regionCodes.0"}
    assert await row_count(db, Visit.__table__) == 0


async def test_photos_are_checked_stored_and_served_by_role(
    db: AsyncEngine, as_role: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    round_id, (household, *_rest) = await open_round(as_role, db, households=1)
    village = as_role("village_operator", CHAIN_SCOPES["village_operator"])
    visit = (await village(RECORD, {"input": visit_input(round_id, household)}))["recordVisit"]["visit"]
    officer = token_headers(settings, "village_operator", CHAIN_SCOPES["village_operator"])
    original = jpeg_with_gps()
    stored = (await upload(client, officer, visit["id"], "ROOF", original, "atap.jpg", "image/jpeg")).json()
    photo = stored["data"]["uploadVisitPhoto"]
    assert photo["__typename"] == "VisitPhoto" and (photo["contentType"], photo["size"]) == (
        "image/jpeg",
        len(original),
    )
    refusals = {
        "not an image": (b"%PDF-1.4 not a photo" * 10, "wall.jpg", "image/jpeg"),
        "lies": (png(), "floor.jpg", "image/jpeg"),
        "truncated": (original[: len(original) // 2], "floor.jpg", "image/jpeg"),
    }
    for name, (content, filename, kind_type) in refusals.items():
        answer = (await upload(client, officer, visit["id"], "FLOOR", content, filename, kind_type)).json()
        assert answer["data"]["uploadVisitPhoto"]["__typename"] == "ValidationError", (name, answer)
    twice = (await upload(client, officer, visit["id"], "ROOF", original, "atap.jpg", "image/jpeg")).json()
    assert "already has a roof photo" in twice["data"]["uploadVisitPhoto"]["fields"][0]["message"]
    huge = await upload(
        client, officer, visit["id"], "WALL", b"\xff\xd8\xff" + bytes(50 * 1024 * 1024), "w.jpg", "image/jpeg"
    )
    assert huge.status_code == 413 and "one photo per request" in huge.json()["errors"][0]["message"]
    assert await row_count(db, VisitPhoto.__table__) == 1
    as_officer = await client.get(photo["url"], headers=officer)
    assert as_officer.status_code == 200 and as_officer.content == original and gps_of(as_officer.content)
    program = await client.get(photo["url"], headers=token_headers(settings, "program_officer", "32"))
    assert program.status_code == 200 and program.headers["content-type"] == "image/jpeg"
    assert gps_of(program.content) == {} and program.content != original
    elsewhere = await client.get(photo["url"], headers=token_headers(settings, "village_operator", "35.78.01.1001"))
    assert elsewhere.status_code == 404
    assert (await client.get(photo["url"])).status_code == 401
    assert (await client.get(photo["url"], headers=token_headers(settings, "auditor", ""))).status_code == 403
    assert (await client.get("/photos/12345", headers=officer)).status_code == 404
    listed = (await village(f'{{ visit(id: "{visit["id"]}") {{ photos {{ kind sha256 }} }} }}'))["visit"]["photos"]
    assert listed == [{"kind": "ROOF", "sha256": photo["sha256"]}]
