"""Sanggah from a form: a citizen objects that a named recipient of the village does not qualify; it
becomes a grievance case for the village's operators (``core.grievances``), tracked by a ticket code.

The recipient is found as Cek Bansos finds people (the name as on the KTP, case and spacing aside)
among the village's members whose household currently receives aid; with several of that name the
citizen adds the RT. Nothing about the recipient is shown back but the masked name Cek Bansos shows.
A repeated objection — an unresolved case about the same household, for the same reason, from the
same address — is folded: its ticket is shown again and nothing is stored. Every posted sanggah
counts against the address's public request limit (``usul.count_request``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal, Role
from core.dataku.cascade import RegionLists, chosen_village
from core.dataku.cekbansos import Problem
from core.dataku.i18n import N_, Message
from core.dataku.usul import TICKETS, Ticket, new_ticket_code
from core.foundation.enums import GrievanceReason
from core.foundation.settings import Settings
from core.foundation.text import line_problem
from core.grievances.filing import Objection, file_grievance, open_case_of, recipients_named, reporter_key
from core.public.names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, normalise_name
from core.storage.db import write_transaction
from core.verification.proposals import CITIZEN_PROPOSER

#: The fields shown again after a refusal.
KEPT_FIELDS = ("nama", "rt", "jenis", "keterangan", "telepon")
TEXT_LENGTHS = (10, 400)
_RT = re.compile(r"[0-9]{1,3}")
_PHONE = re.compile(r"(\+62|0)[0-9]{8,13}")
_SEPARATORS = re.compile(r"[\s\-.()]")

#: The reasons a citizen chooses from, in the order shown.
REASONS: dict[str, str] = {
    GrievanceReason.NO_LONGER_POOR.value: N_("Already well-off (no longer poor)"),
    GrievanceReason.DECEASED.value: N_("Has died"),
    GrievanceReason.MOVED.value: N_("Has moved away"),
    GrievanceReason.DUPLICATE.value: N_("Registered twice"),
    GrievanceReason.CIVIL_SERVANT.value: N_("Civil servant, soldier or police officer (ASN, TNI, Polri)"),
    GrievanceReason.OTHER.value: N_("Another reason"),
}


@dataclass(frozen=True, slots=True)
class Sanggah:
    village_code: str
    name: str
    rt: str | None
    reason: GrievanceReason
    text: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class Filed:
    ticket: Ticket
    masked_name: str


async def read_sanggah(
    engine: AsyncEngine, form: dict[str, str], regions: RegionLists | None = None
) -> Sanggah | list[Problem]:
    """The objection the form makes, or every problem with its fields."""
    problems: list[Problem] = []
    village = await chosen_village(engine, form, regions)
    if village is None:
        problems.append(Problem("desa", Message(N_("Choose the village from the list, level by level."))))
    name = " ".join(form.get("nama", "").split())
    if not MIN_NAME_LENGTH <= len(normalise_name(name)) <= MAX_NAME_LENGTH:
        text = N_("Write the recipient's full name as on the ID card (KTP), %(min)s to %(max)s characters.")
        problems.append(Problem("nama", Message(text, {"min": MIN_NAME_LENGTH, "max": MAX_NAME_LENGTH})))
    rt = form.get("rt", "").strip() or None
    if rt is not None and not _RT.fullmatch(rt):
        problems.append(Problem("rt", Message(N_("RT is 1 to 3 digits, such as 003; leave it empty if unsure."))))
    chosen = form.get("jenis", "")
    if chosen not in REASONS:
        problems.append(Problem("jenis", Message(N_("Choose the reason from the list."))))
    text = " ".join(form.get("keterangan", "").split())
    if not (TEXT_LENGTHS[0] <= len(text) <= TEXT_LENGTHS[1] and line_problem(text) is None):
        said = N_("Say in %(min)s to %(max)s characters why the recipient does not qualify.")
        problems.append(Problem("keterangan", Message(said, {"min": TEXT_LENGTHS[0], "max": TEXT_LENGTHS[1]})))
    phone = _SEPARATORS.sub("", form.get("telepon", "")) or None
    if phone is not None and not _PHONE.fullmatch(phone):
        said = N_("Write a telephone number such as 081234567890, or leave it empty.")
        problems.append(Problem("telepon", Message(said)))
    if problems or village is None:
        return problems
    return Sanggah(village.code, name, rt, GrievanceReason(chosen), text, phone)


NOBODY = Message(
    N_("Nobody of that name receives aid in this village now. Check the name as on the ID card (KTP) with Cek Bansos.")
)
SEVERAL = Message(
    N_("More than one recipient in this village has that name; write the RT where the one you mean lives.")
)


async def submit(engine: AsyncEngine, settings: Settings, sanggah: Sanggah, client: str) -> Filed | list[Problem]:
    """Find the recipient, fold onto an open case of the same objection, or file the case and its ticket."""
    at = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        found = await recipients_named(conn, sanggah.village_code, sanggah.name, sanggah.rt, at.date())
        if not found:
            return [Problem("nama", NOBODY)]
        if len(found) > 1:
            return [Problem("rt", SEVERAL)]
        [recipient] = found
        reporter = reporter_key(settings.secret_key, client)
        kept = await open_case_of(conn, recipient.household_id, sanggah.reason, reporter)
        if kept is not None:
            code = (await conn.execute(select(TICKETS.c.code).where(TICKETS.c.grievance_id == kept))).scalar_one()
            return Filed(Ticket(code, folded=True), recipient.masked_name)
        principal = Principal(CITIZEN_PROPOSER, Role.PUBLIC.value, sanggah.village_code, via="dataku")
        request = RequestInfo(principal, client=client[:64])
        objection = Objection(sanggah.village_code, recipient, sanggah.reason, sanggah.text, sanggah.phone)
        case = await file_grievance(conn, request, objection, reporter, settings.grievance_deadline_days, at)
        code = new_ticket_code()
        await conn.execute(insert(TICKETS).values(code=code, grievance_id=case.id, created_at=at))
        return Filed(Ticket(code, folded=False), recipient.masked_name)
