"""DCI sync search: the three query types, mapping, sort, pagination edges and region scope."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dci.search import parse_criteria
from core.dci.search import search as run_search
from core.foundation.enums import Relationship, Sex
from core.foundation.settings import Settings
from tests import factories
from tests.conftest import token_headers
from tests.dci_support import answers, by_id, enrol, envelope, expression, kks, predicate, search_message
from tests.programs_support import rank, register
from tests.test_schema_households import count_statements

SEARCH = "/registry/sync/search"
BOGOR = "32.01"  # Kabupaten Bogor, Jawa Barat
OTHER = factories.OTHER_VILLAGE  # Kota Surabaya, Jawa Timur


@pytest.fixture
async def population(db: AsyncEngine) -> dict[str, Any]:
    """Six households in Bogor with deciles 1..6 (the sixth with two members), one in Surabaya with decile 1."""
    bogor = [factories.household() for _ in range(5)]
    small = factories.household(
        members=[factories.member(), factories.member(Relationship.SPOUSE, Sex.FEMALE, name="Dewi")]
    )
    surabaya = factories.household(OTHER)
    found = await register(db, [*bogor, small, surabaya])
    await rank(
        db, {hid: (decile, float(decile)) for decile, hid in enumerate(found[:6], start=1)} | {found[6]: (1, 0.5)}
    )
    today = date.today()
    await enrol(db, found[0], factories.VILLAGE, "pkh", today - timedelta(days=10), today + timedelta(days=80))
    await enrol(db, found[1], factories.VILLAGE, "bpnt", today - timedelta(days=100), today - timedelta(days=10))
    return {"ids": found, "data": [*bogor, small, surabaya]}


def national(settings: Settings) -> dict[str, str]:
    return token_headers(settings, "integrator", "")


def west_java(settings: Settings) -> dict[str, str]:
    return token_headers(settings, "integrator", "32", username="dinsos-jabar")


async def search(client: httpx.AsyncClient, headers: dict[str, str], *criteria: dict[str, Any]) -> list[dict[str, Any]]:
    body = envelope("search", search_message(*criteria))
    response = await client.post(SEARCH, json=body, headers=headers)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["header"]["action"] == "on-search" and payload["signature"]
    assert payload["message"]["transaction_id"] == body["message"]["transaction_id"]
    return answers(payload)


async def test_search_by_nik_answers_the_household_as_a_group(
    client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]
) -> None:
    data = population["data"][0]
    [answer] = await search(client, national(settings), by_id("NIK", data.members[1].nik))
    assert answer["status"] == "succ" and answer["pagination"] == {"page_size": 100, "page_number": 1, "total_count": 1}
    [group] = answer["data"]["reg_records"]
    assert group["group_identifier"] == [
        {"@type": "Identifier", "identifier_type": "KK", "identifier_value": data.kk_number}
    ]
    assert group["poverty_score"] == 1 and group["poverty_score_type"] == "national_decile"
    assert group["place"]["region_code"] == factories.VILLAGE and group["group_size"] == 3
    assert [m["member_identifier"][0]["identifier_value"] for m in group["member_list"]] == [
        m.nik for m in data.members
    ]
    assert group["group_head_info"]["member_identifier"][0]["identifier_type"] == "NIK"
    [enrolment] = group["programme_enrolments"]
    assert enrolment["programme"]["programme_identifier"] == "pkh" and enrolment["enrolment_status"] == "active"


async def test_search_by_kk_and_members_as_persons(
    client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]
) -> None:
    data = population["data"][2]
    [by_kk, people] = await search(
        client,
        national(settings),
        by_id("KK", data.kk_number),
        by_id("KK", data.kk_number, response_entity="Member"),
    )
    assert kks(by_kk) == [data.kk_number]
    assert people["data"]["reg_record_type"] == "Member"
    assert [p["member_identifier"][0]["identifier_value"] for p in people["data"]["reg_records"]] == [
        m.nik for m in data.members
    ]
    assert people["data"]["reg_records"][1]["demographic_info"]["sex"] == "female"


async def test_expression_over_region_and_decile_with_sort(
    client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]
) -> None:
    query = {"$and": [{"region_code": {"$eq": BOGOR}}, {"poverty_score": {"$lte": 3}}]}
    sort = [{"attribute_name": "poverty_score", "sort_order": "desc"}]
    [answer] = await search(client, national(settings), expression(query, sort=sort))
    data = population["data"]
    assert kks(answer) == [data[2].kk_number, data[1].kk_number, data[0].kk_number]
    [small] = await search(client, national(settings), expression({"group_size": {"$lt": 3}}))
    assert kks(small) == [data[5].kk_number]
    [either] = await search(
        client, national(settings), expression({"$or": [{"programme": "pkh"}, {"enrolment_status": "ended"}]})
    )
    assert sorted(kks(either)) == sorted([data[0].kk_number, data[1].kk_number])


async def test_predicates_combine_with_and_or_not(
    client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]
) -> None:
    data = population["data"]

    def expr(name: str, op: str, value: Any) -> dict[str, Any]:
        return {"attribute_name": name, "operator": op, "attribute_value": value}

    low = {
        "seq_num": 1,
        "expression1": expr("poverty_score", "le", 2),
        "condition": "not",
        "expression2": expr("region_code", "eq", "35"),
    }
    [answer] = await search(client, national(settings), predicate(low))
    assert sorted(kks(answer)) == sorted([data[0].kk_number, data[1].kk_number])
    either = {
        "seq_num": 1,
        "expression1": expr("poverty_score", "eq", 6),
        "condition": "or",
        "expression2": expr("poverty_score", "in", [5]),
    }
    [answer] = await search(client, national(settings), predicate(either))
    assert sorted(kks(answer)) == sorted([data[4].kk_number, data[5].kk_number])


async def test_pagination_edges(client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]) -> None:
    query = {"region_code": BOGOR}
    sort = [{"attribute_name": "poverty_score", "sort_order": "asc"}]
    pages = []
    for number in (1, 2, 3, 4):
        [answer] = await search(
            client, national(settings), expression(query, sort=sort, pagination={"page_size": 2, "page_number": number})
        )
        assert answer["pagination"] == {"page_size": 2, "page_number": number, "total_count": 6}
        pages.append(kks(answer))
    assert [len(p) for p in pages] == [2, 2, 2, 0]  # past the end: an empty page, the count still right
    assert sum(pages, []) == [d.kk_number for d in population["data"][:6]]
    for bad in (
        {"page_size": 0},
        {"page_size": 1001},
        {"page_size": 2, "page_number": 0},
        {"page_size": -1},
        {"page_size": 1.5},
    ):
        [answer] = await search(client, national(settings), expression(query, pagination=bad))
        assert answer["status"] == "rjct" and answer["status_reason_code"] == "rjct.pagination.invalid", bad
    [answer] = await search(client, national(settings), expression(query, pagination={"page_size": 1000}))
    assert len(kks(answer)) == 6


async def test_an_integrator_never_sees_another_provinces_household(
    client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]
) -> None:
    surabaya = population["data"][6]
    [by_nik] = await search(client, west_java(settings), by_id("NIK", surabaya.members[0].nik))
    assert by_nik["status"] == "succ" and kks(by_nik) == [] and by_nik["pagination"]["total_count"] == 0
    [poorest] = await search(client, west_java(settings), expression({"poverty_score": 1}))
    assert kks(poorest) == [population["data"][0].kk_number]
    [named] = await search(client, west_java(settings), expression({"region_code": "35"}))
    assert kks(named) == []
    [everyone] = await search(client, national(settings), expression({"poverty_score": 1}))
    assert sorted(kks(everyone)) == sorted([population["data"][0].kk_number, surabaya.kk_number])


@pytest.mark.parametrize(
    ("criteria", "code", "says"),
    [
        (by_id("UIN", "3201010101010001"), "rjct.search_criteria.invalid", "unknown identifier type"),
        (by_id("NIK", "12"), "rjct.search_criteria.invalid", "16 digits"),
        (expression({"location": "central_region"}), "rjct.search_criteria.invalid", "unknown attribute 'location'"),
        (expression({"poverty_score": {"$lt": 11.5}}), "rjct.search_criteria.invalid", "whole number"),
        (expression({"region_code": "Jawa"}), "rjct.search_criteria.invalid", "not a Kemendagri code"),
        (
            predicate({"expression1": {"attribute_name": "group_size", "operator": "like", "attribute_value": 1}}),
            "rjct.search_criteria.invalid",
            "unknown operator",
        ),
        (expression({"group_size": 1}, sort=[{"attribute_name": "name"}]), "rjct.sort.invalid", "sort by one of"),
        ({"query_type": "graphql", "query": {}}, "rjct.search_criteria.invalid", "query_type must be"),
    ],
)
async def test_bad_criteria_are_rejected_with_the_reason(
    client: httpx.AsyncClient, settings: Settings, db: AsyncEngine, criteria: dict[str, Any], code: str, says: str
) -> None:
    [answer, fine] = await search(client, national(settings), criteria, expression({"group_size": {"$gt": 0}}))
    assert answer["status"] == "rjct" and answer["status_reason_code"] == code
    assert says in answer["status_reason_message"]
    assert answer["data"]["reg_records"] == []
    assert fine["status"] == "succ"  # the other request of the batch is still answered


async def test_registration_dates(client: httpx.AsyncClient, settings: Settings, population: dict[str, Any]) -> None:
    today = date.today().isoformat()
    [answer] = await search(
        client, national(settings), expression({"registration_date": {"$gte": today}}, pagination={"page_size": 10})
    )
    assert answer["pagination"]["total_count"] == 7
    [answer] = await search(client, national(settings), expression({"last_updated": {"$lt": today}}))
    assert answer["pagination"]["total_count"] == 0


async def test_a_page_costs_three_statements_whatever_its_size(db: AsyncEngine, population: dict[str, Any]) -> None:
    counts = []
    for size in (1, 6):
        criteria = parse_criteria(expression({"region_code": BOGOR}, pagination={"page_size": size}), date.today())
        with count_statements(db) as statements:
            async with db.connect() as conn:
                page = await run_search(conn, criteria, "")
        assert len(page.records) == size
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts == [3, 3], counts
