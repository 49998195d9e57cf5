"""docs/identity.md's GraphQL examples on the demo after a check: the demo, its extracts, the three loads, a run."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from graphql import print_ast
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.users import cli_request
from core.demo import seed_demo
from core.demo.reference import DEFAULT_RATES, write_reference
from core.identity.checks import run_check
from core.models import IdentityCheck
from core.reference.formats import Source
from core.reference.loader import load_reference
from core.runtime.bootstrap import DEMO_SEED
from core.storage.records import MEMBERS
from tests.conftest import GraphQLClient
from tests.graphql_examples import blocks, examples
from tests.test_docs_examples import FIRST_START_HOUSEHOLDS

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "identity.md"


async def test_the_identity_examples_find_what_they_name_after_a_check(
    db: AsyncEngine, gql: GraphQLClient, tmp_path: Path
) -> None:
    await seed_demo(db, FIRST_START_HOUSEHOLDS, DEMO_SEED, progress=False)
    await write_reference(db, tmp_path, DEMO_SEED, DEFAULT_RATES, date.today())
    for source in Source:
        await load_reference(db, source, tmp_path / f"{source.value}.csv", request=cli_request())
    summary = await run_check(db, region_code=None, started_by="cli:test")
    assert summary.counts["adminduk"]["deceased"] and summary.counts["dapodik"] and summary.counts["bpjs"]
    checks = IdentityCheck.__table__
    async with db.connect() as conn:
        nik = await conn.scalar(
            select(MEMBERS.c.nik)
            .join(checks, checks.c.member_id == MEMBERS.c.id)
            .where(checks.c.status == "deceased")
            .limit(1)
        )
    found = [example for block in blocks((DOCUMENT,)) for example in examples(block)]
    assert len(found) == 3
    for example in found:
        body = await gql.raw(print_ast(example.document), {"nik": nik})
        assert "errors" not in body, (example.where, body["errors"])
        data: dict[str, Any] = body["data"]
        if "person" in data:
            assert data["person"]["identityCheck"]["status"] == "DECEASED"
            assert data["person"]["identityCheck"]["details"]["deathDate"]
            assert {c["source"] for c in data["person"]["identityChecks"]} >= {"ADMINDUK", "BPJS"}
        if "identityRunSummary" in data:
            assert data["identityRunSummary"]["regions"], example.where
        if "identityDiscrepancies" in data:
            page = data["identityDiscrepancies"]
            assert page["totalCount"] > 0 and page["edges"][0]["node"]["member"]["nik"], example.where
