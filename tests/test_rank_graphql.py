"""GraphQL: a household's welfare rank with its reasons, the model registry and model activation."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.records import HOUSEHOLDS
from core.welfare.apply import apply_ranking
from core.welfare.explain import explain
from core.welfare.model import ModelKind
from core.welfare.registry import load_registered
from tests.conftest import GraphQLClient
from tests.rank_support import ranks, registry_state, train_kind

WELFARE = """query($id: ID!, $limit: Int!) { household(id: $id) { welfare {
  score decile regencyDecile modelVersion rankedAt estimatedConsumption
  factors(limit: $limit) { feature name value effect size percent sentence } } } }"""
MODELS = """{ welfareModels { version kind modelKind active author trainingRows trainingChecksum features parameters
  holdout { rows spearman targeting { coverage exclusionError inclusionError } }
  baselinePmt { spearman } } }"""
ACTIVATE = """mutation($version: String!) { activateWelfareModel(version: $version) {
  __typename ... on WelfareModel { version active activatedBy }
  ... on NotFound { message } ... on ValidationError { message fields { field message } } } }"""


async def poorest(engine: AsyncEngine) -> int:
    stored = await ranks(engine)
    return min(stored, key=lambda household: stored[household][0])


async def test_household_welfare_with_factors(population: AsyncEngine, model_dir: Path, gql: GraphQLClient) -> None:
    model = (await train_kind(population, model_dir, ModelKind.CATBOOST, activate=True)).record
    await apply_ranking(population, model_dir)
    household = await poorest(population)
    welfare = (await gql(WELFARE, {"id": str(household), "limit": 40}))["household"]["welfare"]
    assert welfare["decile"] == 1 and welfare["modelVersion"] == model.version
    assert 1 <= welfare["regencyDecile"] <= 10
    assert welfare["estimatedConsumption"] == round(math.exp(welfare["score"]))
    factors = welfare["factors"]
    assert factors and all(f["effect"] == ("RAISED" if f["size"] > 0 else "LOWERED") for f in factors)
    sizes = [abs(f["size"]) for f in factors]
    assert sizes == sorted(sizes, reverse=True)
    assert factors[0]["effect"] == "LOWERED"  # the poorest household's strongest reason pulls it down
    assert factors[0]["sentence"].startswith(factors[0]["feature"][0].upper())
    assert "lowered the welfare score" in factors[0]["sentence"]
    names = {f["name"] for f in factors}
    assert names <= set(model.features)
    top3 = (await gql(WELFARE, {"id": str(household), "limit": 3}))["household"]["welfare"]["factors"]
    assert top3 == factors[:3]

    # The SHAP effects add up, with the model's average, to the stored score.
    async with population.connect() as conn:
        explained = (await explain(conn, load_registered(model_dir, model), [household], datetime.now(UTC).date()))[
            household
        ]
    assert explained.average + sum(f.effect for f in explained.factors) == pytest.approx(welfare["score"], abs=1e-3)


async def test_pmt_factors_and_unranked_households(
    population: AsyncEngine, model_dir: Path, gql: GraphQLClient
) -> None:
    await train_kind(population, model_dir, ModelKind.PMT)
    async with population.connect() as conn:
        first = (await conn.execute(select(HOUSEHOLDS.c.id).order_by(HOUSEHOLDS.c.id).limit(1))).scalar_one()
    assert (await gql(WELFARE, {"id": str(first), "limit": 5}))["household"]["welfare"] is None
    await apply_ranking(population, model_dir)
    welfare = (await gql(WELFARE, {"id": str(first), "limit": 5}))["household"]["welfare"]
    assert len(welfare["factors"]) == 5 and {f["effect"] for f in welfare["factors"]} <= {"RAISED", "LOWERED"}
    page = await gql(
        "{ households(first: 20) { edges { node { id welfare { decile factors(limit: 2) { name } } } } } }"
    )
    assert all(len(edge["node"]["welfare"]["factors"]) == 2 for edge in page["households"]["edges"])
    body = await gql.raw(WELFARE, {"id": str(first), "limit": 99})
    assert "limit: must be between 0 and 40" in body["errors"][0]["message"]


async def test_model_list_and_activation(population: AsyncEngine, model_dir: Path, gql: GraphQLClient) -> None:
    pmt = (await train_kind(population, model_dir, ModelKind.PMT)).record
    boosted = (await train_kind(population, model_dir, ModelKind.CATBOOST)).record
    listed = (await gql(MODELS))["welfareModels"]
    assert [m["version"] for m in listed] == [boosted.version, pmt.version]
    assert [m["active"] for m in listed] == [False, True]
    assert listed[0]["kind"] == "catboost" and listed[0]["modelKind"] == "CATBOOST"
    assert listed[1]["modelKind"] == "PMT" and listed[0]["baselinePmt"] is not None and listed[1]["baselinePmt"] is None
    assert [t["coverage"] for t in listed[0]["holdout"]["targeting"]] == [0.1, 0.2, 0.3, 0.4]
    assert listed[0]["parameters"]["iterations"] == 40 and "floor_material" in listed[0]["features"]

    switched = (await gql(ACTIVATE, {"version": boosted.version}))["activateWelfareModel"]
    assert switched == {
        "__typename": "WelfareModel",
        "version": boosted.version,
        "active": True,
        "activatedBy": "test-data_centre",
    }
    missing = (await gql(ACTIVATE, {"version": "pmt-unknown"}))["activateWelfareModel"]
    assert missing["__typename"] == "NotFound" and "pmt-unknown" in missing["message"]
    garbage = (await gql(ACTIVATE, {"version": "pmt-\t'; DROP TABLE welfare_models; --"}))["activateWelfareModel"]
    assert garbage["__typename"] == "NotFound" and "pmt-\\t'; DROP" in garbage["message"]  # shown escaped
    (model_dir / pmt.file_name).write_text("{}")  # damaged: the rollback is refused, nothing changes
    refused = (await gql(ACTIVATE, {"version": pmt.version}))["activateWelfareModel"]
    assert refused["__typename"] == "ValidationError" and "sha256 mismatch" in refused["fields"][0]["message"]
    assert (await registry_state(population))[0] == boosted.version
