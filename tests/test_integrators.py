"""Integrators ask who is eligible for what by NIK: in order, without names, in fixed statements."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.programs.registry import registry_from_settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_schema_households import count_statements, store

BATCH = """query($niks: [String!]!) { eligibilityBatch(niks: $niks, asOf: "2026-05-02") {
  nik found programs { program period eligible summary reasons enrolledPeriods } } }"""


async def test_answers_come_in_the_order_asked_and_unknown_niks_are_not_found(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    data = factories.household()
    await store(db, [data])
    niks = [data.members[2].nik, "3201010101010001", data.members[0].nik, data.members[2].nik]
    answers = (await gql(BATCH, {"niks": niks}))["eligibilityBatch"]
    assert [a["nik"] for a in answers] == niks
    assert [a["found"] for a in answers] == [True, False, True, True]
    assert answers[1]["programs"] == []
    programs = {p["program"]: p for p in answers[0]["programs"]}
    assert set(programs) == set(registry_from_settings().programs)
    kube = programs["kube"]
    assert kube["period"] == "2026" and not kube["eligible"]
    assert kube["summary"].startswith("not eligible: not in any KUBe group")
    assert kube["enrolledPeriods"] == []
    assert "name" not in str(answers)  # no names or addresses


async def test_statement_count_does_not_grow_with_the_batch(db: AsyncEngine, gql: GraphQLClient) -> None:
    households = [factories.household() for _ in range(40)]
    await store(db, households)
    niks = [m.nik for h in households for m in h.members]
    counts = []
    for size in (3, len(niks)):
        with count_statements(db) as statements:
            answers = (await gql(BATCH, {"niks": niks[:size]}))["eligibilityBatch"]
        assert len(answers) == size and all(a["found"] for a in answers)
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 2 + len(registry_from_settings().programs), counts


async def test_batches_over_ten_thousand_are_refused(db: AsyncEngine, gql: GraphQLClient) -> None:
    body = await gql.raw(BATCH, {"niks": ["3201010101010001"] * 10_001})
    assert "at most 10,000 NIKs a request" in body["errors"][0]["message"]
