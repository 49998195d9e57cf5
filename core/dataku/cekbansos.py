"""Cek Bansos from a form: the same checks, rate limits, look-up and masking as ``/public/graphql``.

The look-up is ``core.public.lookup.cek_bansos`` (its single statement, its masked names); the limits
are the application's own limiters (``core.runtime.guards``): every posted look-up counts against the
address's ``SIKS_PUBLIC_REQUESTS_PER_MINUTE``, shared with the public GraphQL endpoint, and a look-up
with a NIK against that name's ``SIKS_PUBLIC_NIK_CHECKS_PER_DAY``, keyed by ``lookup.nik_check_key``.
Nothing is stored. Messages are message ids (``N_``) with parameters, translated when rendered; they
never repeat the name or NIK sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.cascade import RegionLists, chosen_village
from core.dataku.i18n import N_, Message
from core.dataku.limits import Refused, charge
from core.foundation.settings import Settings
from core.programs.registry import ProgramRegistry
from core.public import lookup
from core.public.names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, normalise_name
from core.runtime.guards import Guards
from core.runtime.ratelimit import LimiterUnavailable
from core.storage.records import RegionRecord

_NIK = re.compile(r"\d{16}")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Problem:
    """What was wrong with one field of the form."""

    field: str
    message: Message


@dataclass(frozen=True, slots=True)
class Question:
    village: RegionRecord
    full_name: str
    nik: str | None


@dataclass(frozen=True, slots=True)
class Aid:
    program: str
    program_name: str
    period: str
    first_day: date
    last_day: date


@dataclass(frozen=True, slots=True)
class Person:
    masked_name: str
    aid: list[Aid]


@dataclass(frozen=True, slots=True)
class Answer:
    village: RegionRecord
    people: list[Person]


async def read_question(
    engine: AsyncEngine, form: dict[str, str], regions: RegionLists | None = None
) -> Question | list[Problem]:
    """The question the form asks, or every problem with it (as the public GraphQL endpoint checks it)."""
    problems: list[Problem] = []
    village = await chosen_village(engine, form, regions)
    if village is None:
        problems.append(Problem("desa", Message(N_("Choose the village from the list, level by level."))))
    name = form.get("nama", "")
    if not MIN_NAME_LENGTH <= len(normalise_name(name)) <= MAX_NAME_LENGTH:
        limits = {"min": MIN_NAME_LENGTH, "max": MAX_NAME_LENGTH}
        text = N_("Write the full name as on the ID card (KTP), %(min)s to %(max)s characters.")
        problems.append(Problem("nama", Message(text, limits)))
    nik = form.get("nik", "").strip() or None
    if nik is not None and not _NIK.fullmatch(nik):
        text = N_("A NIK is the 16 digits on the ID card; leave it empty to search by name only.")
        problems.append(Problem("nik", Message(text)))
    if problems or village is None:
        return problems
    return Question(village, name, nik)


async def count_request(
    guards: Guards,
    address: str,
    unavailable: str = N_("Look-ups cannot be counted right now; try again in a minute."),
    too_many: str = N_("Too many look-ups from your address: at most %(limit)s a minute; try again in %(seconds)s s."),
) -> Refused | None:
    """Charge one request to the address's public limit (the one ``/public/graphql`` uses); the refusals
    say ``unavailable`` (the limiter cannot count) or ``too_many`` (with ``limit`` and ``seconds``)."""
    return await charge(guards.public, address, unavailable, too_many)


async def count_nik_check(guards: Guards, settings: Settings, question: Question) -> Refused | None:
    """Charge a look-up with a NIK to its (village, name), from all addresses, as the public endpoint does."""
    key = lookup.nik_check_key(settings.secret_key, question.village.code, question.full_name)
    try:
        verdict = await guards.nik_checks.hit(key)
    except LimiterUnavailable:
        return Refused(503, Message(N_("Look-ups with a NIK cannot be counted right now; search by name only.")), 60)
    if not verdict.allowed:
        text = N_(
            "This name has had its %(limit)s look-ups with a NIK for the day; search by name only, "
            "or try again in %(seconds)s s."
        )
        return Refused(
            429, Message(text, {"limit": guards.nik_checks.limit, "seconds": verdict.retry_after}), verdict.retry_after
        )
    return None


async def answer(engine: AsyncEngine, settings: Settings, registry: ProgramRegistry, question: Question) -> Answer:
    """The people of the village with that name (and NIK), masked, with the programmes their household received."""
    async with engine.connect() as conn:
        found = await lookup.cek_bansos(
            conn, question.village.code, question.full_name, question.nik, settings.public_max_results
        )
    people = [
        Person(
            p.masked_name,
            [
                Aid(a.program, _program_name(registry, a.program), a.period, a.period_start, a.period_end - _ONE_DAY)
                for a in p.aid
            ],
        )
        for p in found
    ]
    return Answer(question.village, people)


def _program_name(registry: ProgramRegistry, slug: str) -> str:
    program = registry.programs.get(slug)
    return program.name if program is not None else slug.upper()
