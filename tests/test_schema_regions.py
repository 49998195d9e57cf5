"""GraphQL: the regional hierarchy over the full Kemendagri list."""

from __future__ import annotations

from tests.conftest import GraphQLClient


async def test_provinces_are_the_38_of_today(gql: GraphQLClient) -> None:
    data = await gql("{ regions(level: PROVINCE) { code name level } }")
    assert len(data["regions"]) == 38
    assert {"code": "32", "name": "Jawa Barat", "level": "PROVINCE"} in data["regions"]


async def test_no_arguments_lists_provinces(gql: GraphQLClient) -> None:
    data = await gql("{ regions { code } }")
    assert len(data["regions"]) == 38


async def test_counts_per_level_match_the_official_list(gql: GraphQLClient) -> None:
    data = await gql("{ regencies: regions(level: REGENCY) { code } districts: regions(level: DISTRICT) { code } }")
    assert len(data["regencies"]) == 514
    assert len(data["districts"]) == 7285


async def test_children_of_a_regency_and_villages_below_it(gql: GraphQLClient) -> None:
    data = await gql(
        """{ kids: regions(parentCode: "32.01") { code level }
             villages: regions(parentCode: "32.01", level: VILLAGE) { code } }"""
    )
    assert data["kids"] and all(r["code"].startswith("32.01.") and r["level"] == "DISTRICT" for r in data["kids"])
    assert len(data["villages"]) > 400
    assert all(v["code"].startswith("32.01.") and v["code"].count(".") == 3 for v in data["villages"])


async def test_region_with_parent_chain_and_children(gql: GraphQLClient) -> None:
    data = await gql(
        """{ region(code: "32.01.01.1001") { name level parent { code name parent { code parent { name } } } }
             district: region(code: "32.01.01") { children { code } } }"""
    )
    village = data["region"]
    assert village["name"] == "Pondok Rajeg" and village["level"] == "VILLAGE"
    assert village["parent"]["code"] == "32.01.01"
    assert village["parent"]["parent"]["code"] == "32.01"
    assert village["parent"]["parent"]["parent"]["name"] == "Jawa Barat"
    assert {"code": "32.01.01.1001"} in data["district"]["children"]


async def test_unknown_region_is_null(gql: GraphQLClient) -> None:
    assert (await gql('{ region(code: "32.99.99") { name } }'))["region"] is None


async def test_malformed_code_is_a_clear_error(gql: GraphQLClient) -> None:
    body = await gql.raw('{ region(code: "3201") { name } }')
    assert "not a Kemendagri region code" in body["errors"][0]["message"]
    body = await gql.raw("{ regions(level: VILLAGE) { code } }")
    assert "needs a parentCode" in body["errors"][0]["message"]
