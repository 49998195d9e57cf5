"""Property: the lists filtered by scope in SQL hold exactly the rows Casbin allows one by one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.enforcer import AccessControl
from core.auth.principal import Principal
from core.foundation.settings import Settings
from core.http.app import create_app
from core.storage.records import HOUSEHOLDS
from tests import factories
from tests.conftest import GraphQLClient, clear_data, token_headers
from tests.test_schema_households import store

VILLAGES = ["32.01.01.1001", "32.01.01.1002", "32.01.02.2001", "32.71.01.1001", "35.78.01.1001", "11.01.01.2001"]
SCOPES = [
    "",
    "32",
    "32.01",
    "32.01.01",
    "32.01.01.1001",
    "32.01.01.1002",
    "32.01.02",
    "32.7",
    "32.71",
    "35",
    "35.78.01.1001",
    "11.01",
    "99",
    "32.01.0",
    "3",
]
ROLES = [
    "village_operator",
    "district_officer",
    "regency_office",
    "province_office",
    "data_centre",
    "program_officer",
    "integrator",
    "auditor",
]


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    await clear_data(engine)
    await store(engine, [factories.household(village) for village in VILLAGES for _ in range(2)])
    async with engine.connect() as conn:
        every = {str(row.id): row.village_code for row in await conn.execute(select(HOUSEHOLDS))}
    access = AccessControl(engine)
    await access.refresh(force=True)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http,
    ):
        yield {"every": every, "access": access, "http": http, "settings": settings}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(role=st.sampled_from(ROLES), scope=st.sampled_from(SCOPES))
async def test_sql_scope_equals_enforce_row_by_row(world: dict[str, Any], role: str, scope: str) -> None:
    principal = Principal(username="p", role=role, scope=scope)
    allowed = {
        hid
        for hid, village in world["every"].items()
        if world["access"].allows(principal, "household", "read", village)
    }
    caller = GraphQLClient(world["http"], token_headers(world["settings"], role, scope))
    body = await caller.raw("{ households(first: 100) { totalCount edges { node { id } } } }")
    if "errors" in body:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert allowed == set()
        return
    listed = {factories.key_of(edge["node"]["id"]) for edge in body["data"]["households"]["edges"]}
    assert listed == allowed
    assert body["data"]["households"]["totalCount"] == len(allowed)
