"""Cek Bansos: does a person of this village, by the full name on their ID card, receive aid?

One statement answers a lookup, found or not, so a miss costs what a hit costs: the active members
of active households in the village whose name matches (at most ``limit`` of them), each with the
programs their household was enrolled in by an approved cycle. Names are compared without case
(letters A–Z) and spacing; with a NIK, the NIK must match exactly too. The answer holds masked
names, programs and periods only: never a NIK, KK number, address or amount.

A NIK encodes its holder's birth date, so a found/not-found answer to a guessed NIK is an oracle
for the birth date of a person whose name and village are known. Look-ups with a NIK are therefore
counted per (village, name) from all addresses together (``nik_check_key``, budget
``SIKS_PUBLIC_NIK_CHECKS_PER_DAY``): trying many NIKs for one name costs what trying many names
does, whatever the number of addresses used.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus, RecordStatus
from core.models import Enrollment, ProgramCycle
from core.public.names import mask_name, normalise_name, search_key
from core.storage.records import HOUSEHOLDS, MEMBERS

ENROLLMENTS = Enrollment.__table__
CYCLES = ProgramCycle.__table__
APPROVED = "approved"
ENROLLED = "enrolled"


@dataclass(frozen=True, slots=True)
class AidReceived:
    """A program a household was enrolled in for a period, by an approved cycle."""

    program: str
    period: str
    period_start: date
    period_end: date


@dataclass(slots=True)
class PublicPerson:
    """A person found by Cek Bansos, as the public may see them."""

    masked_name: str
    aid: list[AidReceived] = field(default_factory=list)


def received() -> ColumnElement[bool]:
    """SQL: the enrollment counts as received: enrolled, by a cycle that was approved.

    A correlated EXISTS (one primary-key probe a row) rather than a join, so SQLite keeps using
    the household index of the enrollments instead of materialising their join with the cycles.
    """
    approved = exists().where(CYCLES.c.id == ENROLLMENTS.c.cycle_id, CYCLES.c.status == APPROVED)
    return and_(ENROLLMENTS.c.status == ENROLLED, approved)


def _lookup_statement(by_nik: bool) -> Select[Any]:
    """The one statement of a lookup, built once (by name, or by name and NIK); values are bound per call."""
    conditions = [
        HOUSEHOLDS.c.village_code == bindparam("village_code"),
        HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value,
        MEMBERS.c.status == MemberStatus.ACTIVE.value,
        func.upper(func.replace(MEMBERS.c.name, " ", "")) == bindparam("search_key"),
    ]
    if by_nik:
        conditions.append(MEMBERS.c.nik == bindparam("nik"))
    found = (
        select(MEMBERS.c.id, MEMBERS.c.name, MEMBERS.c.household_id)
        .join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
        .where(*conditions)
        .order_by(MEMBERS.c.id)
        .limit(bindparam("limit", type_=Integer))
        .subquery("found")
    )
    return (
        select(
            found.c.id,
            found.c.name,
            ENROLLMENTS.c.program,
            ENROLLMENTS.c.period,
            ENROLLMENTS.c.period_start,
            ENROLLMENTS.c.period_end,
        )
        .select_from(found.outerjoin(ENROLLMENTS, and_(ENROLLMENTS.c.household_id == found.c.household_id, received())))
        .order_by(found.c.id, ENROLLMENTS.c.period_start.desc(), ENROLLMENTS.c.program)
    )


_BY_NAME, _BY_NAME_AND_NIK = _lookup_statement(by_nik=False), _lookup_statement(by_nik=True)


def nik_check_key(secret: str, village_code: str, full_name: str) -> str:
    """The key look-ups with a NIK of one (village, name) are counted under: names compare as in a
    look-up (``search_key``), and the key is a keyed hash, so the counter store holds no names."""
    material = f"cek-bansos-nik\x1f{village_code}\x1f{search_key(full_name)}".encode()
    return hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()[:32]


async def cek_bansos(
    conn: AsyncConnection, village_code: str, full_name: str, nik: str | None, limit: int
) -> list[PublicPerson]:
    """The people of the village with this name (and NIK, when given), at most ``limit``, with their aid."""
    values: dict[str, object] = {"village_code": village_code, "search_key": search_key(full_name), "limit": limit}
    if nik is not None:
        values["nik"] = nik
    rows = await conn.execute(_BY_NAME if nik is None else _BY_NAME_AND_NIK, values)
    wanted = normalise_name(full_name)
    people: dict[int, PublicPerson] = {}
    for member_id, name, program, period, start, end in rows:
        if normalise_name(name) != wanted:
            continue  # same letters, other spacing ("BUDIS ANTOSO"): not the name asked for
        person = people.setdefault(member_id, PublicPerson(mask_name(name)))
        if program is not None:
            person.aid.append(AidReceived(program, period, start, end))
    return list(people.values())
