"""Usul from a form: a citizen proposes a family for the registry; it becomes a real proposal at the village.

The form's fields are checked here first (messages from the catalogs), then the proposal is made by
``core.verification.proposals.propose_new_household`` (the rules every proposal obeys: NIK and KK
valid and not already registered or proposed, the village existing) on behalf of the principal
``dataku`` (role village operator, scope the village): it enters the verification chain like an
operator's proposal, ``created_by = "dataku"``. The head's sex and birth date are read from the NIK;
the house's variables are not asked on the page and carry placeholders (``HOUSE_PLACEHOLDERS``) that
the village replaces after its visit (``returnProposal`` / ``reviseProposal``). The phone number and
the reason go into the proposal's note, for the operators.

A usul whose NIK or KK is already in an open usul of the pages is folded: the existing ticket is
shown again, nothing is stored. Every posted usul counts against the address's public request limit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal, Role
from core.dataku import cekbansos
from core.dataku.cascade import RegionLists, chosen_village
from core.dataku.cekbansos import Problem, Refused
from core.dataku.i18n import N_, Message
from core.foundation.enums import (
    CookingFuel,
    DrinkingWater,
    FloorMaterial,
    HomeOwnership,
    LightingSource,
    MemberStatus,
    Relationship,
    RoofMaterial,
    ToiletFacility,
    WallMaterial,
)
from core.foundation.refusals import Invalid
from core.foundation.text import line_problem
from core.households.data import HouseholdData, MemberData
from core.households.identity import kk_problem, nik_facts, nik_problem
from core.models import PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS, DatakuTicket
from core.runtime.guards import Guards
from core.storage.db import write_transaction
from core.storage.records import RegionRecord
from core.verification.drafts import OPEN, PROPOSALS
from core.verification.proposals import CITIZEN_PROPOSER, propose_new_household

TICKETS = DatakuTicket.__table__
#: The fields shown again after a refusal (the NIK and KK are not: typed again, never echoed).
KEPT_FIELDS = ("nama", "alamat", "rt", "rw", "telepon", "alasan")
USERNAME = CITIZEN_PROPOSER
TICKET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32: no 0/1/8/9 to mistake for O/I/B/g
TICKET_LENGTH = 10  # 50 random bits
NAME_LENGTHS = (3, 120)
ADDRESS_LENGTHS = (5, 200)
REASON_LENGTHS = (10, 400)
_DIGITS_3 = re.compile(r"[0-9]{1,3}")
_PHONE = re.compile(r"(\+62|0)[0-9]{8,13}")
_SEPARATORS = re.compile(r"[\s\-.()]")

#: What the page does not ask about the house; the village replaces it after its visit.
HOUSE_PLACEHOLDERS: dict[str, Any] = {
    "floor_material": FloorMaterial.EARTH,
    "wall_material": WallMaterial.OTHER,
    "roof_material": RoofMaterial.OTHER,
    "toilet": ToiletFacility.NONE,
    "drinking_water": DrinkingWater.RAIN_WATER,
    "lighting": LightingSource.NONE,
    "cooking_fuel": CookingFuel.NONE,
    "ownership": HomeOwnership.OTHER,
    "floor_area": 1.0,
}

#: Where the proposal rules' fields are on the form.
_FORM_FIELD = {
    "kkNumber": "kk",
    "members.0.nik": "nik",
    "members.0.birthDate": "nik",
    "members.0.name": "nama",
    "members": "nama",
    "villageCode": "desa",
    "address": "alamat",
    "rt": "rt",
    "rw": "rw",
    "note": "alasan",
}


@dataclass(frozen=True, slots=True)
class Usul:
    village: RegionRecord
    head_name: str
    nik: str
    kk: str
    address: str
    rt: str
    rw: str
    phone: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ticket:
    code: str
    folded: bool  # True: an open usul of the same NIK or KK was already there; nothing new was stored


def _text_ok(value: str, lengths: tuple[int, int]) -> bool:
    return lengths[0] <= len(value) <= lengths[1] and line_problem(value) is None


def _phone(value: str) -> str:
    return _SEPARATORS.sub("", value)


async def read_usul(
    engine: AsyncEngine, form: dict[str, str], regions: RegionLists | None = None
) -> Usul | list[Problem]:
    """The usul the form makes, or every problem with its fields."""
    problems: list[Problem] = []
    village = await chosen_village(engine, form, regions)
    if village is None:
        problems.append(Problem("desa", Message(N_("Choose the village from the list, level by level."))))
    name = " ".join(form.get("nama", "").split())
    if not _text_ok(name, NAME_LENGTHS):
        text = N_(
            "Write the full name of the head of the family as on the ID card (KTP), %(min)s to %(max)s characters."
        )
        problems.append(Problem("nama", Message(text, {"min": NAME_LENGTHS[0], "max": NAME_LENGTHS[1]})))
    nik = form.get("nik", "").strip()
    if nik_problem(nik) is not None:
        text = N_("The NIK of the head is the 16 digits on the ID card (KTP); this one is not a valid NIK.")
        problems.append(Problem("nik", Message(text)))
    kk = form.get("kk", "").strip()
    if kk_problem(kk) is not None:
        problems.append(Problem("kk", Message(N_("The family card (KK) number is the 16 digits on the card."))))
    address = " ".join(form.get("alamat", "").split())
    if not _text_ok(address, ADDRESS_LENGTHS):
        text = N_("Write the address (street, house number or hamlet), %(min)s to %(max)s characters.")
        problems.append(Problem("alamat", Message(text, {"min": ADDRESS_LENGTHS[0], "max": ADDRESS_LENGTHS[1]})))
    rt, rw = form.get("rt", "").strip(), form.get("rw", "").strip()
    if not _DIGITS_3.fullmatch(rt):
        problems.append(Problem("rt", Message(N_("RT is 1 to 3 digits, such as 003."))))
    if not _DIGITS_3.fullmatch(rw):
        problems.append(Problem("rw", Message(N_("RW is 1 to 3 digits, such as 005."))))
    phone = _phone(form.get("telepon", ""))
    if not _PHONE.fullmatch(phone):
        problems.append(
            Problem("telepon", Message(N_("Write a telephone number such as 081234567890 or +6281234567890.")))
        )
    reason = " ".join(form.get("alasan", "").split())
    if not _text_ok(reason, REASON_LENGTHS):
        text = N_("Say in %(min)s to %(max)s characters why the family needs to be registered.")
        problems.append(Problem("alasan", Message(text, {"min": REASON_LENGTHS[0], "max": REASON_LENGTHS[1]})))
    if problems or village is None:
        return problems
    return Usul(village, name, nik, kk, address, rt, rw, phone, reason)


def birth_date_of(nik: str, today: date) -> date:
    """The birth date a valid NIK states (its two-digit year read as the latest not in the future)."""
    facts = nik_facts(nik)
    year = 2000 + facts.year_2digit
    if date(year, facts.month, facts.day) > today:
        year -= 100
    return date(year, facts.month, facts.day)


def household_of(usul: Usul, today: date) -> HouseholdData:
    head = MemberData(
        nik=usul.nik,
        name=usul.head_name,
        sex=nik_facts(usul.nik).sex,
        birth_date=birth_date_of(usul.nik, today),
        relationship=Relationship.HEAD,
    )
    return HouseholdData(
        kk_number=usul.kk,
        village_code=usul.village.code,
        address=usul.address,
        rt=usul.rt,
        rw=usul.rw,
        members=[head],
        **HOUSE_PLACEHOLDERS,
    )


def new_ticket_code() -> str:
    return "".join(secrets.choice(TICKET_ALPHABET) for _ in range(TICKET_LENGTH))


def note_of(usul: Usul) -> str:
    return f"Usul warga (SIKS-Dataku); data rumah belum disurvei. Telepon: {usul.phone}. Alasan: {usul.reason}"


async def open_ticket_of(conn: AsyncConnection, nik: str, kk: str) -> str | None:
    """The ticket of an open usul of the pages proposing this NIK (as an active member) or this KK."""
    by_nik = select(PROPOSED_MEMBERS.c.proposal_id).where(
        PROPOSED_MEMBERS.c.nik == nik, PROPOSED_MEMBERS.c.status == MemberStatus.ACTIVE.value
    )
    by_kk = select(PROPOSED_HOUSEHOLDS.c.proposal_id).where(PROPOSED_HOUSEHOLDS.c.kk_number == kk)
    query = (
        select(TICKETS.c.code)
        .join(PROPOSALS, PROPOSALS.c.id == TICKETS.c.proposal_id)
        .where(PROPOSALS.c.status.in_(OPEN), or_(PROPOSALS.c.id.in_(by_nik), PROPOSALS.c.id.in_(by_kk)))
        .order_by(TICKETS.c.created_at)
        .limit(1)
    )
    return (await conn.execute(query)).scalar()


_KNOWN_REFUSALS = (
    ("already a member of another active household", N_("This NIK is already in a registered family; see Cek Bansos.")),
    ("already registered to an active household", N_("This family card (KK) is already registered.")),
    ("already proposed by another open proposal", N_("This is already in a proposal being verified by the village.")),
)


def problems_of(refusal: Invalid) -> list[Problem]:
    """The proposal rules' refusals as the form's problems, in the catalogs' words."""
    problems: list[Problem] = []
    for error in refusal.errors:
        field = _FORM_FIELD.get(error.field, "nama")
        text = next(
            (said for known, said in _KNOWN_REFUSALS if known in error.message),
            N_("This value was not accepted; check it against the ID card (KTP) and family card (KK)."),
        )
        problem = Problem(field, Message(text))
        if problem not in problems:
            problems.append(problem)
    return problems


async def submit(engine: AsyncEngine, usul: Usul, client: str) -> Ticket | list[Problem]:
    """Fold onto an open usul of the same NIK or KK, or make the proposal and its ticket (one transaction)."""
    async with write_transaction(engine) as conn:
        kept = await open_ticket_of(conn, usul.nik, usul.kk)
        if kept is not None:
            return Ticket(kept, folded=True)
        principal = Principal(USERNAME, Role.VILLAGE_OPERATOR.value, usul.village.code, via="dataku")
        request = RequestInfo(principal, client=client[:64])
        today = datetime.now(UTC).date()
        made = await propose_new_household(conn, request, household_of(usul, today), note_of(usul))
        if isinstance(made, Invalid):
            return problems_of(made)
        code = new_ticket_code()
        await conn.execute(insert(TICKETS).values(code=code, proposal_id=made.id, created_at=datetime.now(UTC)))
        return Ticket(code, folded=False)


async def count_request(guards: Guards, address: str) -> Refused | None:
    """Charge one request to the address's public limit (shared with Cek Bansos and ``/public/graphql``)."""
    return await cekbansos.count_request(
        guards,
        address,
        N_("Requests cannot be counted right now; try again in a minute."),
        N_("Too many requests from your address: at most %(limit)s a minute; try again in %(seconds)s s."),
    )
