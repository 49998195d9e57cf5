"""The public GraphQL schema: Cek Bansos and regional recaps, nothing else, no login.

Errors name the argument that was wrong and never repeat a name or NIK that was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import AddValidationRules, ParserCache
from strawberry.types import Info

from core.foundation.settings import Settings
from core.programs.registry import ProgramRegistry
from core.public import lookup, recap
from core.public.names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, normalise_name
from core.regions.codes import is_region_code, level_number, level_of
from core.regions.queries import regions_by_code
from core.runtime.ratelimit import UNAVAILABLE, LimiterUnavailable, RateLimiter
from core.schema import hardening
from core.schema.enums import RegionLevel
from core.schema.execution import PlanningExecutionContext
from core.schema.single_fields import once_per_document

_NIK = re.compile(r"\d{16}")
_ONE_DAY = timedelta(days=1)
TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
#: One look-up a request, so the per-address request limit counts look-ups (aliases cannot multiply them).
ONE_LOOKUP = once_per_document("Query", {"cekBansos": "look up one person"})


@dataclass(frozen=True, slots=True)
class PublicContext:
    engine: AsyncEngine
    settings: Settings
    recaps: recap.RecapCache
    nik_checks: RateLimiter  # look-ups with a NIK per (village, name), from all addresses
    registry: ProgramRegistry  # the application's programs, for their names


def _program_name(registry: ProgramRegistry, slug: str) -> str:
    program = registry.programs.get(slug)
    return program.name if program is not None else slug.upper()


@strawberry.type(description="A program a household received for one period (an approved enrollment).")
class AidReceived:
    program: str = strawberry.field(description="The program's short name, e.g. pkh.")
    program_name: str = strawberry.field(description="e.g. Program Keluarga Harapan.")
    period: str = strawberry.field(description="2026-03 (month), 2026-Q1 (quarter) or 2026 (year).")
    first_day: date
    last_day: date

    @classmethod
    def of(cls, aid: lookup.AidReceived, registry: ProgramRegistry) -> AidReceived:
        return cls(
            program=aid.program,
            program_name=_program_name(registry, aid.program),
            period=aid.period,
            first_day=aid.period_start,
            last_day=aid.period_end - _ONE_DAY,
        )


@strawberry.type(description="A person Cek Bansos found: the name masked, the aid their household received.")
class PersonFound:
    masked_name: str = strawberry.field(description="First two letters of each word, e.g. SI** RO****.")
    aid: list[AidReceived] = strawberry.field(description="Newest period first; empty when the household got none.")


@strawberry.type(description="The answer to a Cek Bansos lookup.")
class CekBansosAnswer:
    found: bool = strawberry.field(description="Whether anyone of that name lives in that village in the registry.")
    people: list[PersonFound]


_WITHHELD = "null when withheld (fewer than countsRoundedTo, none included)"


@strawberry.type(description="Households a program enrolled in its latest period in the region (approved cycles).")
class ProgramRecipients:
    program: str
    program_name: str
    period: str
    first_day: date
    last_day: date
    households: int = strawberry.field(description="Rounded down to a multiple of the recap's countsRoundedTo.")


@strawberry.type(
    description="Aggregates of a region and everything below it; no person is shown. As statistics offices "
    "publish them: a count below countsRoundedTo is withheld and every other count is rounded down to a multiple "
    "of countsRoundedTo, totals too, so a withheld count cannot be had by subtraction."
)
class RegionRecap:
    region_code: str
    region_name: str
    level: RegionLevel
    households: int | None = strawberry.field(description=f"Active households; {_WITHHELD}.")
    verified_households: int | None = strawberry.field(
        description="Active households found on a field visit or determined in a DTKS edition; " + _WITHHELD + "."
    )
    verified_share: float | None = strawberry.field(
        description="verifiedHouseholds / households as published, from 0 to 1; null when either is withheld."
    )
    suppressed: bool = strawberry.field(description="Whether households or verifiedHouseholds is withheld.")
    counts_rounded_to: int = strawberry.field(
        description="Every count is a multiple of this (SIKS_PUBLIC_RECAP_MIN_COUNT); 1: exact counts."
    )
    recipients: list[ProgramRecipients] = strawberry.field(
        description="Per program, its latest period only; a program with a withheld count is left out, as one "
        "with none is."
    )


def _village(code: str) -> str:
    if not is_region_code(code) or level_number(code) != 4:
        raise GraphQLError(
            "villageCode: give the dotted Kemendagri code of the village (desa/kelurahan), such as 32.01.01.2001"
        )
    return code


def _full_name(name: str) -> str:
    if not MIN_NAME_LENGTH <= len(normalise_name(name)) <= MAX_NAME_LENGTH:
        raise GraphQLError(
            f"fullName: write the full name as on the ID card (KTP), {MIN_NAME_LENGTH} to {MAX_NAME_LENGTH} characters"
        )
    return name


def _nik(nik: str | None) -> str | None:
    if nik is not None and not _NIK.fullmatch(nik):
        raise GraphQLError("nik: a NIK is the 16 digits on the ID card; leave it out to search by name only")
    return nik


async def _count_nik_check(context: PublicContext, village: str, name: str) -> None:
    """Charge a look-up with a NIK to its (village, name); refuse it when that name's budget is spent.

    Charged whether or not anyone has that name, so a refusal says nothing about who is registered.
    """
    limiter = context.nik_checks
    try:
        verdict = await limiter.hit(lookup.nik_check_key(context.settings.secret_key, village, name))
    except LimiterUnavailable:
        raise GraphQLError(
            "nik: look-ups with a NIK cannot be counted right now; look up by name only, or try again in a minute",
            extensions={"code": UNAVAILABLE, "retryAfter": 60},
        ) from None
    if not verdict.allowed:
        raise GraphQLError(
            f"nik: this name has had its {limiter.limit} look-ups with a NIK for the day, from anyone; look it up "
            f"by name only, or try again in {verdict.retry_after} s",
            extensions={"code": TOO_MANY_ATTEMPTS, "retryAfter": verdict.retry_after},
        )


@strawberry.type(name="Query", description="Public questions, answered without login; every client is rate-limited.")
class PublicQuery:
    @strawberry.field(
        description="Does someone of this village, by the full name on their ID card (KTP), receive aid? Give the "
        "NIK too for an exact match; it is never shown back (a name may be looked up with a NIK a few times a day). "
        "Answers masked names and programs only. One cekBansos a request."
    )
    async def cek_bansos(
        self, info: Info[PublicContext, None], village_code: str, full_name: str, nik: str | None = None
    ) -> CekBansosAnswer:
        village, name, exact = _village(village_code), _full_name(full_name), _nik(nik)
        context = info.context
        if exact is not None:
            await _count_nik_check(context, village, name)
        async with context.engine.connect() as conn:
            people = await lookup.cek_bansos(conn, village, name, exact, context.settings.public_max_results)
        return CekBansosAnswer(
            found=bool(people),
            people=[
                PersonFound(masked_name=p.masked_name, aid=[AidReceived.of(a, context.registry) for a in p.aid])
                for p in people
            ],
        )

    @strawberry.field(
        description="Households, the share verified and recipients per program of a region (at most a minute "
        "old; small counts withheld, the others rounded); null if no region has that code."
    )
    async def recap(self, info: Info[PublicContext, None], region_code: str) -> RegionRecap | None:
        if not is_region_code(region_code):
            raise GraphQLError("regionCode: give a dotted Kemendagri code such as 32, 32.01, 32.01.01 or 32.01.01.2001")
        context = info.context
        async with context.engine.connect() as conn:
            region = (await regions_by_code(conn, [region_code])).get(region_code)
            if region is None:
                return None
            counts = context.recaps.get(region_code)
            if counts is None:
                counts = await recap.region_recap(conn, region_code)
                context.recaps.put(region_code, counts)
        shown = recap.publish(counts, context.settings.public_recap_min_count)
        return RegionRecap(
            region_code=region.code,
            region_name=region.name,
            level=level_of(region.code),
            households=shown.households,
            verified_households=shown.verified,
            verified_share=shown.verified_share,
            suppressed=shown.suppressed,
            counts_rounded_to=shown.rounded_to,
            recipients=[
                ProgramRecipients(
                    program=r.program,
                    program_name=_program_name(context.registry, r.program),
                    period=r.period,
                    first_day=r.period_start,
                    last_day=r.period_end - _ONE_DAY,
                    households=r.households,
                )
                for r in shown.recipients
            ],
        )


def build_public_schema(settings: Settings) -> strawberry.Schema:
    """The public schema, hardened like the main one (the same limits and production switches)."""
    return hardening.Schema(
        query=PublicQuery,
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules([ONE_LOOKUP]),
            *hardening.extensions(settings),
        ],
        execution_context_class=hardening.execution_context(PlanningExecutionContext, settings),
        config=hardening.config(settings),
    )
