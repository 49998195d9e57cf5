"""The plugin system: discovery, allowlist, strictness, collisions, order, and one test per hook.

The hooks are exercised through tests/plugins/siks_elderly, a third-party package installed into
the test environment with its own entry point: it adds a program with no change to core.
"""

from __future__ import annotations

import logging
import os
import sys
import types
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import AUDIT
from core.foundation.enums import Relationship, Sex
from core.programs import hookspecs
from core.programs.facts import WELFARE, facts_select
from core.programs.hookspecs import hookimpl
from core.programs.periods import PeriodKind, parse_period
from core.programs.registry import PluginConflict, build_registry, make_manager, registry_from_settings
from core.storage.records import HOUSEHOLDS
from tests import factories
from tests.cli_support import siks
from tests.conftest import GraphQLClient
from tests.programs_support import CYCLES, DISBURSEMENTS
from tests.test_schema_mutations import register

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("siks_"))


def elderly_household() -> factories.HouseholdData:
    district = factories.VILLAGE.rsplit(".", 1)[0]
    return factories.household(
        members=[
            factories.member(birth_date=date(1980, 1, 5), district=district),
            factories.member(Relationship.PARENT, Sex.FEMALE, date(1945, 6, 1), district, "Mbah Sarinah"),
        ],
        floor_material=factories.FloorMaterial.EARTH,
    )


def test_every_hook_has_a_test() -> None:
    tests = {name for name in globals() if name.startswith("test_hook_")}
    assert {f"test_hook_{hook}" for hook in HOOKS} <= tests


def test_the_fixture_plugin_is_found_through_its_entry_point() -> None:
    registry = registry_from_settings()
    assert "elderly" in registry.plugins and "core-facts" in registry.plugins
    assert registry.owner[("program", "aslut")] == "plugin 'elderly'"


def test_allowlist_limits_what_loads() -> None:
    assert "elderly" not in build_registry(make_manager(allowlist=[])).plugins
    assert "aslut" in build_registry(make_manager(allowlist=["elderly"])).programs
    with pytest.raises(PluginConflict, match="not installed: nosuch"):
        make_manager(allowlist=["nosuch"])


def test_a_misspelt_hook_stops_start_up() -> None:
    plugin = types.ModuleType("typo_plugin")

    @hookimpl
    def siks_register_program() -> list[object]:  # missing "s"
        return []

    plugin.siks_register_program = siks_register_program  # type: ignore[attr-defined]
    manager = make_manager(allowlist=[])
    manager.register(plugin, name="typo")
    with pytest.raises(Exception, match="siks_register_program"):
        manager.check_pending()


def test_results_do_not_depend_on_registration_order() -> None:
    def plugin(name: str, slug: str) -> types.ModuleType:
        module = types.ModuleType(name)
        elderly = registry_from_settings().programs["aslut"]

        @hookimpl
        def siks_register_programs() -> list[object]:
            from dataclasses import replace

            return [replace(elderly, slug=slug)]

        module.siks_register_programs = siks_register_programs  # type: ignore[attr-defined]
        return module

    first, second = plugin("p_one", "one"), plugin("p_two", "two")
    orders = []
    for pair in ((first, second), (second, first)):
        manager = make_manager(allowlist=[])
        for module in pair:
            manager.register(module, name=module.__name__)
        orders.append(list(build_registry(manager).programs))
    assert orders[0] == orders[1] == ["one", "two"]


def test_two_plugins_claiming_one_slug_stop_start_up_naming_both() -> None:
    elderly = registry_from_settings().programs["aslut"]
    manager = make_manager(allowlist=["elderly"])
    copycat = types.ModuleType("copycat")

    @hookimpl
    def siks_register_programs() -> list[object]:
        return [elderly]

    copycat.siks_register_programs = siks_register_programs  # type: ignore[attr-defined]
    manager.register(copycat, name="copycat")
    with pytest.raises(
        PluginConflict, match="program 'aslut' is registered by both plugin 'copycat' and plugin 'elderly'"
    ):
        build_registry(manager)


@pytest.mark.parametrize(
    ("clash", "message"),
    [
        ("fact", "fact 'elderly_60' is registered by both plugin 'core-facts' and plugin 'elderly'"),
        ("mutation", "mutation field 'registerHousehold' is defined by core and by plugin 'elderly'"),
    ],
)
def test_collisions_stop_the_server_at_start_up(clash: str, message: str, empty_database: dict[str, str]) -> None:
    env = {**os.environ, **empty_database, "SIKS_TEST_ELDERLY_CLASH": clash, "SIKS_DEMO_HOUSEHOLDS": "0"}
    result = siks("serve", "--port", "1", env=env, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout


ELIGIBILITY = """query($nik: String!) { eligibility(nik: $nik, asOf: "2026-03-15") {
  found programs { program period eligible summary reasons } } }"""


async def test_hook_siks_register_programs(db: AsyncEngine, gql: GraphQLClient) -> None:
    installed = (await gql("{ programs { installed { slug periodKind rules { code } } } }"))["programs"]["installed"]
    aslut = next(p for p in installed if p["slug"] == "aslut")
    assert aslut["periodKind"] == "month" and [r["code"] for r in aslut["rules"]] == ["elderly_70", "decile"]
    household = await register(gql, elderly_household())
    elder = household["members"][1]["nik"]
    before = next(
        p for p in (await gql(ELIGIBILITY, {"nik": elder}))["eligibility"]["programs"] if p["program"] == "aslut"
    )
    assert before["period"] == "2026-03" and not before["eligible"]
    assert before["reasons"][0] == "✓ elderly 70+ ×1" and before["reasons"][1].startswith("✗ decile ")
    async with db.begin() as conn:
        await conn.execute(
            WELFARE.insert().values(
                household_id=int(factories.key_of(household["id"])),
                model_version="test",
                score=-2.0,
                decile=2,
                regency_decile=2,
                ranked_at=datetime.now(UTC),
            )
        )
    after = next(
        p for p in (await gql(ELIGIBILITY, {"nik": elder}))["eligibility"]["programs"] if p["program"] == "aslut"
    )
    assert after["eligible"] and after["summary"] == "eligible: elderly 70+ ×1; decile 2 <= 3"
    async with db.begin() as conn:
        await conn.execute(WELFARE.delete())


async def test_hook_siks_register_facts(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql, elderly_household())
    period = parse_period("2026-03", PeriodKind.MONTH)
    query = facts_select(
        registry_from_settings(), period, where=[HOUSEHOLDS.c.id == int(factories.key_of(household["id"]))]
    )
    async with db.connect() as conn:
        row = (await conn.execute(query)).one()._mapping
    assert row["elderly_70"] == 1 and row["elderly_60"] == 1 and row["members"] == 2


async def test_hook_siks_register_migrations(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    assert "elderly_caregivers" in tables
    assert str(Path(sys.modules["siks_elderly"].__file__).parent / "migrations") in registry_from_settings().migrations


async def test_hook_siks_extra_mutation_fields(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    data = await gql(
        'mutation($id: ID!) { registerElderlyCaregiver(householdId: $id, name: "Rina") }', {"id": household["id"]}
    )
    assert data == {"registerElderlyCaregiver": True}
    from siks_elderly import CAREGIVERS

    async with db.connect() as conn:
        assert (await conn.execute(select(CAREGIVERS.c.caregiver_name))).scalars().all() == ["Rina"]
    async with db.begin() as conn:
        await conn.execute(CAREGIVERS.delete())


async def test_hook_siks_extra_household_fields(db: AsyncEngine, gql: GraphQLClient) -> None:
    first, second = await register(gql), await register(gql)
    await gql('mutation($id: ID!) { registerElderlyCaregiver(householdId: $id, name: "Rina") }', {"id": first["id"]})
    data = await gql("{ households { edges { node { id programs { elderlyAssistance { caregiverName } } } } } }")
    names = {
        e["node"]["id"]: e["node"]["programs"]["elderlyAssistance"]["caregiverName"]
        for e in data["households"]["edges"]
    }
    assert names == {first["id"]: "Rina", second["id"]: None}
    from siks_elderly import CAREGIVERS

    async with db.begin() as conn:
        await conn.execute(CAREGIVERS.delete())


async def test_hook_siks_extra_query_fields(db: AsyncEngine, gql: GraphQLClient) -> None:
    assert (await gql("{ programs { elderlyCaregiverCount } }")) == {"programs": {"elderlyCaregiverCount": 0}}


def test_a_plugin_command_named_as_a_core_command_stops_the_command_line() -> None:
    ran = siks("--help", env={"SIKS_TEST_ELDERLY_CLASH": "command"})
    assert ran.returncode == 2
    assert "command 'program' is registered by both core and plugin 'elderly'" in ran.stderr


async def test_hook_siks_register_commands(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    await gql(
        'mutation($id: ID!) { registerElderlyCaregiver(householdId: $id, name: "Rina") }', {"id": household["id"]}
    )
    listed = siks("--help")
    assert listed.returncode == 0 and "elderly" in listed.stdout
    ran = siks("elderly", "caregivers")
    assert (ran.returncode, ran.stdout) == (0, "1 caregiver(s)\n"), ran.stderr
    assert siks("elderly", "caregivers", env={"SIKS_PLUGINS": "pkh"}).returncode != 0  # not allowed: not there
    from siks_elderly import CAREGIVERS

    async with db.begin() as conn:
        await conn.execute(CAREGIVERS.delete())


def test_hook_siks_extra_policies() -> None:
    assert "p, aslut_officer, enrollment:aslut, read" in registry_from_settings().policies


async def elderly_poor_household(db: AsyncEngine, gql: GraphQLClient) -> dict[str, Any]:
    """A household the elderly plugin enrols in 2026-03 (a member aged 70+, welfare decile 2)."""
    household = await register(gql, elderly_household())
    async with db.begin() as conn:
        await conn.execute(
            WELFARE.insert().values(
                household_id=int(factories.key_of(household["id"])),
                model_version="test",
                score=-2.0,
                decile=2,
                regency_decile=2,
                ranked_at=datetime.now(UTC),
            )
        )
    return household


RUN = """mutation { runProgramCycle(program: "aslut", period: "2026-03", regionCode: "32") {
  __typename ... on ProgramCycle { id status enrolled } } }"""
APPROVE = """mutation($id: ID!) { approveProgramCycle(cycleId: $id) {
  __typename ... on ProgramCycle { id status approvedBy } } }"""


async def test_hook_siks_cycle_run(db: AsyncEngine, gql: GraphQLClient) -> None:
    from siks_elderly import CYCLES_SEEN

    from core.programs.cycles import run_cycle

    household = await elderly_poor_household(db, gql)
    CYCLES_SEEN.clear()
    record = await run_cycle(db, registry_from_settings(), "aslut", "2026-03", "32", "test")
    assert getattr(record, "enrolled", None) == 1, record
    assert CYCLES_SEEN == [("aslut", "2026-03", "32", 1)]
    enrollments = await gql(
        "query($id: ID!) { household(id: $id) { programs { enrollments { program period amount "
        "components { component amount } } } } }",
        {"id": household["id"]},
    )
    assert enrollments["household"]["programs"]["enrollments"] == [
        {
            "program": "aslut",
            "period": "2026-03",
            "amount": 300000,
            "components": [{"component": "elderly_allowance", "amount": 300000}],
        }
    ]


async def test_hook_siks_cycle_approved(db: AsyncEngine, gql: GraphQLClient) -> None:
    from siks_elderly import APPROVALS_SEEN

    await elderly_poor_household(db, gql)
    cycle = (await gql(RUN))["runProgramCycle"]
    APPROVALS_SEEN.clear()
    approved = (await gql(APPROVE, {"id": cycle["id"]}))["approveProgramCycle"]
    assert approved["status"] == "approved"
    assert [
        ("aslut", "2026-03", int(factories.key_of(cycle["id"])), "test-data_centre")
    ] == APPROVALS_SEEN  # the async hook ran


async def test_a_plugin_failing_after_commit_never_fails_or_undoes_the_change(
    db: AsyncEngine, gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The elderly plugin raises in both event hooks: the run and the approval stand and are answered as
    usual; the failures are logged and audited."""
    import siks_elderly

    await elderly_poor_household(db, gql)
    siks_elderly.FAILING["events"] = True
    try:
        with caplog.at_level(logging.ERROR, logger="siks.plugins"):
            cycle = (await gql(RUN))["runProgramCycle"]
            approved = (await gql(APPROVE, {"id": cycle["id"]}))["approveProgramCycle"]
    finally:
        siks_elderly.FAILING["events"] = False
    assert cycle["__typename"] == "ProgramCycle" and cycle["enrolled"] == 1
    assert approved["__typename"] == "ProgramCycle" and approved["status"] == "approved"
    async with db.connect() as conn:
        status = (
            await conn.execute(select(CYCLES.c.status).where(CYCLES.c.id == int(factories.key_of(cycle["id"]))))
        ).scalar_one()
        released = (await conn.execute(select(DISBURSEMENTS.c.status))).scalars().all()
        failures = (
            await conn.execute(
                select(AUDIT.c.operation, AUDIT.c.entity, AUDIT.c.entity_id, AUDIT.c.outcome, AUDIT.c.actor)
                .where(AUDIT.c.entity == "plugin")
                .order_by(AUDIT.c.seq.desc())
                .limit(2)
            )
        ).all()
    assert status == "approved" and released == ["released"]
    assert sorted(tuple(row) for row in failures) == [
        ("siks_cycle_approved", "plugin", "elderly", "error", "test-data_centre"),
        ("siks_cycle_run", "plugin", "elderly", "error", "test-data_centre"),
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "siks.plugins"]
    assert any("plugin elderly failed in siks_cycle_run" in m and "post office" in m for m in logged), logged
    assert any("plugin elderly failed in siks_cycle_approved" in m for m in logged), logged


async def test_a_failing_plugin_does_not_keep_the_others_from_being_told(db: AsyncEngine, gql: GraphQLClient) -> None:
    import siks_elderly

    from core.programs.cycles import run_cycle

    class Watcher:
        seen: list[int] = []

        @hookimpl
        def siks_cycle_run(self, cycle_id: int) -> None:
            self.seen.append(cycle_id)

    await elderly_poor_household(db, gql)
    manager = make_manager(["elderly"])
    manager.register(Watcher(), name="zz-watcher")  # told after the elderly plugin, which fails
    siks_elderly.FAILING["events"] = True
    try:
        record = await run_cycle(db, build_registry(manager), "aslut", "2026-03", "32", "test")
    finally:
        siks_elderly.FAILING["events"] = False
    assert Watcher.seen == [record.id]  # type: ignore[union-attr]
