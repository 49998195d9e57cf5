"""The audit log: every write, denial and full-record read; hash-chained; tampering found."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import record
from core.audit.verify import verify_chain
from core.auth.users import create_user
from core.cli.users import cli_request
from core.foundation.settings import Settings
from core.storage import migrate
from core.storage.db import create_engine, write_transaction
from tests import factories
from tests.cli_support import siks
from tests.conftest import GraphQLClient
from tests.test_schema_mutations import UPDATE, register

LOG = """query($op: String, $outcome: String, $id: String) {
  auditLog(operation: $op, outcome: $outcome, entityId: $id) {
    seq actor role operation entity entityId outcome before after } }"""


async def test_changes_reads_and_denials_are_audited(db: AsyncEngine, gql: GraphQLClient, as_role) -> None:  # type: ignore[no-untyped-def]
    household = await register(gql)
    await gql(UPDATE, {"id": household["id"], "version": 1, "changes": {"address": "Jl. Kenanga 1"}})
    bad = await gql(UPDATE, {"id": household["id"], "version": 2, "changes": {"floorArea": -1}})
    assert bad["updateHousehold"]["__typename"] == "ValidationError"
    await gql("query($id: ID!) { household(id: $id) { id floorMaterial } }", {"id": household["id"]})  # not personal
    await gql("query($id: ID!) { household(id: $id) { kkNumber members { name } } }", {"id": household["id"]})
    operator = as_role("village_operator", "35.78.01.1001")
    outside = await operator(UPDATE, {"id": household["id"], "version": 2, "changes": {"address": "x"}})
    assert outside["updateHousehold"]["__typename"] == "NotFound"
    auditor = as_role("auditor")
    entries = (await auditor(LOG, {"id": factories.key_of(household["id"])}))["auditLog"]  # the log keeps row ids
    kinds = [(e["operation"], e["outcome"]) for e in entries]
    # every answer carrying names or NIKs adds a read row, the mutations' answers included
    assert kinds == [
        ("updateHousehold", "denied"),
        ("read:personal", "read"),
        ("read:personal", "read"),
        ("updateHousehold", "ok"),
        ("read:personal", "read"),
        ("registerHousehold", "ok"),
    ]
    assert entries[1]["after"] == {
        "households": [int(factories.key_of(household["id"]))],
        "people": len(household["members"]),
        "fields": ["Household.kkNumber", "Member.name"],
    }
    update = entries[3]
    assert update["actor"] == "test-data_centre" and update["role"] == "data_centre"
    assert update["before"]["address"] == "Jl. Melati No. 5" and update["before"]["version"] == 1
    assert update["after"]["address"] == "Jl. Kenanga 1" and update["after"]["version"] == 2
    forbidden = await gql.raw(LOG, {})
    assert forbidden["errors"][0]["message"] == "not allowed: role data_centre may not read audit"


async def chain_of_three(settings: Settings) -> AsyncEngine:
    """A fresh database whose audit log holds three rows written the way the CLI writes them."""
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    async with write_transaction(engine) as conn:
        for name in ("auditor.satu", "auditor.dua", "auditor.tiga"):
            user = await create_user(conn, name, "rahasia-sekali-123", "auditor", "")
            await record(conn, cli_request(), operation="createUser", entity="user", entity_id=user.id)
    return engine


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            'UPDATE audit_log SET after = \'{"role":"data_centre"}\' WHERE seq = 2',
            "row 2 was changed after it was written",
        ),
        ("DELETE FROM audit_log WHERE seq = 2", "row 2 is missing (deleted)"),
        ("DELETE FROM audit_log WHERE seq = 3", "rows at the end were deleted"),
        ("UPDATE audit_log SET prev_hash = hash WHERE seq = 3", "row 3 does not follow row 2"),
    ],
)
async def test_verify_finds_tampering(empty_database: dict[str, str], tamper: str, message: str) -> None:
    settings = Settings(
        database_url=empty_database["SIKS_DATABASE_URL"], database_schema=empty_database.get("SIKS_DATABASE_SCHEMA")
    )
    engine = await chain_of_three(settings)
    try:
        intact = await verify_chain(engine)
        assert intact.ok and intact.checked == 3
        async with engine.begin() as conn:
            await conn.execute(text(tamper))
        broken = await verify_chain(engine)
        assert not broken.ok and message in broken.problems[0], broken.problems
    finally:
        await engine.dispose()


def test_siks_audit_verify_command(empty_database: dict[str, str]) -> None:
    env = {**os.environ, **empty_database}
    settings = Settings(database_url=env["SIKS_DATABASE_URL"], database_schema=env.get("SIKS_DATABASE_SCHEMA"))

    async def prepare() -> None:
        await (await chain_of_three(settings)).dispose()

    async def tamper() -> None:
        engine = create_engine(settings)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET actor = 'someone.else' WHERE seq = 2"))
        await engine.dispose()

    asyncio.run(prepare())
    intact = siks("audit", "verify", env=env)
    assert intact.returncode == 0 and "audit log intact: 3 rows" in intact.stdout
    asyncio.run(tamper())
    broken = siks("audit", "verify", env=env)
    assert broken.returncode == 1 and "TAMPERED: row 2 was changed after it was written" in broken.stderr


async def test_refused_documents_are_audited(db: AsyncEngine, gql: GraphQLClient, as_role) -> None:  # type: ignore[no-untyped-def]
    aliases = " ".join(f"a{n}: me {{ username }}" for n in range(25))
    body = await gql.raw(f"{{ {aliases} }}")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert (await gql.raw("{ households(")).get("errors")
    entries = (await as_role("auditor")(LOG, {"op": "refusedDocument", "outcome": "denied"}))["auditLog"]
    assert len(entries) >= 2
    assert entries[0]["actor"] == "test-data_centre" and entries[0]["after"]["errors"]
