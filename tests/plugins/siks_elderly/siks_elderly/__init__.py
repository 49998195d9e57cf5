"""A third-party program plugin used by the tests: elderly assistance (Asistensi Lanjut Usia, ASLUT).

It implements every SIKS hook, and lives in its own package registered through the
``siks.programs`` entry point, to prove that a program unit needs no change to core. Setting
``SIKS_TEST_ELDERLY_CLASH`` to ``fact``, ``mutation`` or ``command`` makes it claim a name core
already owns, for the start-up collision tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import strawberry
from sqlalchemy import Column, MetaData, String, Table, func, insert, literal, select
from sqlalchemy.types import BigInteger
from strawberry.types import Info

from core.plugin_api import (
    BenefitContext,
    BenefitRule,
    EligibilityRule,
    FactContext,
    HouseholdFact,
    Include,
    Period,
    PeriodKind,
    Program,
    RuleContext,
    SchemaField,
    field_reads,
    guarded,
    hookimpl,
    household_by_id,
    parse_id,
    require,
    run_with_engine,
    write_transaction,
)

SLUG = "aslut"
CYCLES_SEEN: list[tuple[str, str, str, int]] = []
APPROVALS_SEEN: list[tuple[str, str, int, str]] = []
#: The tests set ``FAILING["events"]``: the event hooks then raise after noting what they saw, as a
#: plugin whose payment channel is down would.
FAILING = {"events": False}
CAREGIVERS = Table(
    "elderly_caregivers",
    MetaData(),
    Column("household_id", BigInteger, primary_key=True),
    Column("caregiver_name", String(120), nullable=False),
)


def _clash() -> str:
    return os.environ.get("SIKS_TEST_ELDERLY_CLASH", "")


class HasElderly70(EligibilityRule):
    code = "elderly_70"
    description = "at least one member aged 70 or more"

    def predicate(self, ctx: RuleContext) -> Any:
        return ctx.facts.c.elderly_70 > 0

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        return f"elderly 70+ ×{facts['elderly_70']}" if passed else "no member aged 70 or more"


class DecileAtMost(EligibilityRule):
    code = "decile"
    description = "welfare decile at most the program's threshold"

    def predicate(self, ctx: RuleContext) -> Any:
        return ctx.facts.c.decile <= ctx.config["max_decile"]

    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        sign = "<=" if passed else ">"
        return f"decile {facts['decile']} {sign} {config['max_decile']}"


class MonthlyPerElder(BenefitRule):
    def components(self, ctx: BenefitContext) -> Any:
        return select(
            ctx.facts.c.household_id,
            literal(None, BigInteger).label("member_id"),
            literal("elderly_allowance").label("component"),
            (ctx.facts.c.elderly_70 * ctx.config["monthly_amount"] * ctx.period.months).label("amount"),
        )


@hookimpl
def siks_register_programs() -> list[Program]:
    return [
        Program(
            slug=SLUG,
            name="Asistensi Lanjut Usia",
            description="Monthly allowance for poor households caring for members aged 70 or more.",
            period_kind=PeriodKind.MONTH,
            rules=[HasElderly70(), DecileAtMost()],
            benefit=MonthlyPerElder(),
            channel="post_office",
            settings={
                2025: {"max_decile": 3, "monthly_amount": 250_000},
                2026: {"max_decile": 3, "monthly_amount": 300_000},
            },
        )
    ]


def _elderly_70(ctx: FactContext) -> Any:
    return ctx.members.c.birth_date <= ctx.born_after(70)


@hookimpl
def siks_register_facts() -> list[HouseholdFact]:
    name = "elderly_60" if _clash() == "fact" else "elderly_70"
    return [HouseholdFact(name, "members aged 70 or more", _elderly_70)]


@hookimpl
def siks_register_migrations() -> list[str]:
    return [str(Path(__file__).parent / "migrations")]


@guarded("household", personal=("caregiver_name",), household="household_id")
@strawberry.type(description="Elderly assistance for one household.")
class ElderlyAssistance:
    caregiver_name: str | None
    household_id: strawberry.Private[int]


async def _caregivers(engine: Any, household_ids: list[int]) -> list[str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(CAREGIVERS).where(CAREGIVERS.c.household_id.in_(household_ids)))
        found = dict(rows.all())
    return [found.get(household_id) for household_id in household_ids]


async def _household_field(root: Any, info: Info) -> ElderlyAssistance:
    engine = info.context.engine
    loader = info.context.loaders.named(f"{SLUG}.caregiver", lambda keys: _caregivers(engine, keys))
    return ElderlyAssistance(caregiver_name=await loader.load(root.id), household_id=root.id)


async def _caregiver_count(info: Info) -> int:
    async with info.context.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(CAREGIVERS))).scalar_one())


async def _register_caregiver(info: Info, household_id: strawberry.ID, name: str) -> bool:
    principal = require(info.context, "household", "write")
    key = parse_id(household_id, "householdId", "Household")
    async with write_transaction(info.context.engine) as conn:
        if await household_by_id(conn, key, Include(False, False), scope=principal.scope) is None:
            return False
        await conn.execute(insert(CAREGIVERS).values(household_id=key, caregiver_name=name))
    return True


@hookimpl
def siks_extra_household_fields() -> list[SchemaField]:
    return [SchemaField("elderlyAssistance", strawberry.field(resolver=_household_field))]


@hookimpl
def siks_extra_query_fields() -> list[SchemaField]:
    return [
        SchemaField(
            "elderlyCaregiverCount", strawberry.field(resolver=_caregiver_count, metadata=field_reads("household"))
        )
    ]


@hookimpl
def siks_extra_mutation_fields() -> list[SchemaField]:
    name = "registerHousehold" if _clash() == "mutation" else "registerElderlyCaregiver"
    return [SchemaField(name, strawberry.mutation(resolver=_register_caregiver))]


@hookimpl
def siks_register_commands() -> list[Any]:
    import typer

    app = typer.Typer(name="program" if _clash() == "command" else "elderly", help="Elderly assistance.")

    @app.command("caregivers")
    def caregivers() -> None:
        """How many caregivers are registered."""

        async def work(engine: Any) -> int:
            async with engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(CAREGIVERS))).scalar_one())

        typer.echo(f"{run_with_engine(work)} caregiver(s)")

    @app.callback()
    def _group() -> None:
        """Keep this a command group even with one command."""

    return [app]


@hookimpl
def siks_extra_policies() -> list[str]:
    return ["p, aslut_officer, enrollment:aslut, read"]


@hookimpl
def siks_cycle_run(program: Program, period: Period, region_code: str, enrolled: int) -> None:
    if program.slug == SLUG:
        CYCLES_SEEN.append((program.slug, period.label, region_code, enrolled))
        if FAILING["events"]:
            raise RuntimeError("the post office's system did not answer")


@hookimpl
async def siks_cycle_approved(program: Program, period: Period, cycle_id: int, approved_by: str) -> None:
    await asyncio.sleep(0)  # an async implementation, awaited after the approval committed
    if program.slug == SLUG:
        APPROVALS_SEEN.append((program.slug, period.label, cycle_id, approved_by))
        if FAILING["events"]:
            raise RuntimeError("the post office's system did not answer")
