"""Usul from a form: a citizen proposes a family for the registry; it becomes a real proposal at the village.

The form's fields are checked here first (messages from the catalogs), then the proposal is made by
``core.verification.proposals.propose_new_household`` (the rules every proposal obeys: NIK and KK
valid and not already registered or proposed, one head, no NIK twice, the village existing) on
behalf of the principal ``dataku`` (role village operator, scope the village): it enters the
verification chain like an operator's proposal, ``created_by = "dataku"``. Beside the head, up to
``MEMBER_ROWS`` other members may be given (name, NIK, relationship to the head); empty rows are
ignored and every refusal names its row. Each person's sex and birth date are read from the NIK;
the house's variables are not asked on the page and carry placeholders (``HOUSE_PLACEHOLDERS``) that
the village replaces after its visit (``returnProposal`` / ``reviseProposal``). The phone number and
the reason go into the proposal's note, for the operators.

An optional photo of the house is checked as field-visit photos are (``core.verification.photos``:
its type read from its content, its size limited, its metadata stripped) and kept, without its
metadata only, with the proposal (``Proposal.photos``). A refused photo, a refused form or a folded
usul leave no photo behind.

A usul whose NIK or KK is already in an open usul of the pages is folded: the existing ticket is
shown again, nothing is stored. Every posted usul counts against the address's public request limit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

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
    PhotoKind,
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
from core.verification.photos import (
    KeptPhoto,
    PhotoProblem,
    PhotoRefused,
    attach_to_proposal,
    discard_files,
    keep_checked,
)
from core.verification.proposals import CITIZEN_PROPOSER, propose_new_household
from core.verification.storage import PhotoStore

TICKETS = DatakuTicket.__table__
#: Rows of the form for the family's other members (name, NIK, relationship to the head); the rows
#: after the first ``SHOWN_ROWS`` are folded under "More members" (an HTML ``details``, no script).
MEMBER_ROWS = 9
SHOWN_ROWS = 3
#: The relationships a member's row offers (the head is the person above the rows), with their labels.
RELATIONSHIPS: tuple[tuple[Relationship, str], ...] = (
    (Relationship.SPOUSE, N_("Wife or husband")),
    (Relationship.CHILD, N_("Child")),
    (Relationship.CHILD_IN_LAW, N_("Son- or daughter-in-law")),
    (Relationship.GRANDCHILD, N_("Grandchild")),
    (Relationship.PARENT, N_("Parent")),
    (Relationship.PARENT_IN_LAW, N_("Parent-in-law")),
    (Relationship.OTHER_RELATIVE, N_("Other relative")),
    (Relationship.OTHER, N_("Other")),
)
#: The form's field of the photo of the house, and the kind it is kept as.
PHOTO_FIELD = "foto"
PHOTO_KIND = PhotoKind.HOUSE_FRONT
#: Room in the form's body beside the photo (every text field and the multipart framing).
FORM_BYTES = 64 * 1024
#: The most fields a posted form may have (the head's, the rows', the guards').
MAX_FIELDS = 16 + 3 * MEMBER_ROWS


def row_field(row: int, name: str = "") -> str:
    """The form's name of a member row's field (``anggota3_nik``), or of the row (``anggota3``)."""
    return f"anggota{row}_{name}" if name else f"anggota{row}"


#: The fields shown again after a refusal (the NIKs and KK are not: typed again, never echoed).
KEPT_FIELDS = (
    "nama",
    "alamat",
    "rt",
    "rw",
    "telepon",
    "alasan",
    *(row_field(row, name) for row in range(1, MEMBER_ROWS + 1) for name in ("nama", "hubungan")),
)
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
class MemberRow:
    """A family member given in row ``row`` of the form."""

    row: int
    name: str
    nik: str
    relationship: Relationship


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
    members: tuple[MemberRow, ...] = ()


@dataclass(frozen=True, slots=True)
class PhotoRefusal:
    """The photo's problem for the form, and the status it answers with (413 when too large)."""

    problem: Problem
    status: int


class UploadedFile(Protocol):
    """A file posted with the form (starlette's UploadFile)."""

    filename: str | None
    content_type: str | None
    size: int | None

    async def read(self, size: int = -1) -> bytes: ...


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
    members = _member_rows(form, problems)
    if problems or village is None:
        return problems
    return Usul(village, name, nik, kk, address, rt, rw, phone, reason, members)


def _member_rows(form: dict[str, str], problems: list[Problem]) -> tuple[MemberRow, ...]:
    """The rows of the form that give a member (empty rows ignored); each row's problems into ``problems``."""
    members: list[MemberRow] = []
    relationships = {relationship.value: relationship for relationship, _label in RELATIONSHIPS}
    for row in range(1, MEMBER_ROWS + 1):
        name = " ".join(form.get(row_field(row, "nama"), "").split())
        nik = form.get(row_field(row, "nik"), "").strip()
        chosen = form.get(row_field(row, "hubungan"), "").strip()
        if not name and not nik and not chosen:
            continue
        relationship = relationships.get(chosen)
        found: list[Message] = []
        if not _text_ok(name, NAME_LENGTHS):
            text = N_("Write the member's full name as on the family card (KK), %(min)s to %(max)s characters.")
            found.append(Message(text, {"min": NAME_LENGTHS[0], "max": NAME_LENGTHS[1]}))
        if nik_problem(nik) is not None:
            found.append(Message(N_("The NIK is the 16 digits on the family card (KK); this one is not a valid NIK.")))
        if relationship is None:
            found.append(Message(N_("Choose the member's relationship to the head of the family from the list.")))
        problems.extend(Problem(row_field(row), in_row(row, message)) for message in found)
        if not found and relationship is not None:
            members.append(MemberRow(row, name, nik, relationship))
    return tuple(members)


def in_row(row: int, message: Message) -> Message:
    """``message`` about the member of row ``row`` of the form."""
    return Message(N_("Family member in row %(row)s: %(problem)s"), {"row": row, "problem": message})


def birth_date_of(nik: str, today: date) -> date:
    """The birth date a valid NIK states (its two-digit year read as the latest not in the future)."""
    facts = nik_facts(nik)
    year = 2000 + facts.year_2digit
    if date(year, facts.month, facts.day) > today:
        year -= 100
    return date(year, facts.month, facts.day)


def person_of(nik: str, name: str, relationship: Relationship, today: date) -> MemberData:
    """A member whose sex and birth date are read from the NIK."""
    return MemberData(
        nik=nik, name=name, sex=nik_facts(nik).sex, birth_date=birth_date_of(nik, today), relationship=relationship
    )


def household_of(usul: Usul, today: date) -> HouseholdData:
    head = person_of(usul.nik, usul.head_name, Relationship.HEAD, today)
    others = [person_of(m.nik, m.name, m.relationship, today) for m in usul.members]
    return HouseholdData(
        kk_number=usul.kk,
        village_code=usul.village.code,
        address=usul.address,
        rt=usul.rt,
        rw=usul.rw,
        members=[head, *others],
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
    ("appears twice in the household", N_("This NIK is written for another person of the family too.")),
)
_MEMBER_ERROR = re.compile(r"members\.([0-9]+)\.")


def problems_of(refusal: Invalid, usul: Usul) -> list[Problem]:
    """The proposal rules' refusals as the form's problems, in the catalogs' words; a member's names its row."""
    problems: list[Problem] = []
    for error in refusal.errors:
        message = Message(
            next(
                (said for known, said in _KNOWN_REFUSALS if known in error.message),
                N_("This value was not accepted; check it against the ID card (KTP) and family card (KK)."),
            )
        )
        member = _MEMBER_ERROR.match(error.field)
        index = int(member.group(1)) if member else 0
        if 1 <= index <= len(usul.members):  # members.0 is the head, then the rows given, in order
            row = usul.members[index - 1].row
            problem = Problem(row_field(row), in_row(row, message))
        else:
            problem = Problem(_FORM_FIELD.get(error.field, "nama"), message)
        if problem not in problems:
            problems.append(problem)
    return problems


def megabytes(size: int) -> str:
    """A size in MB as the pages show it: ``10``, ``0.5``."""
    return f"{size / 1_048_576:.3g}"


_PHOTO_REFUSALS = {
    PhotoProblem.NOT_AN_IMAGE: N_("The photo of the house must be a JPEG, PNG or WebP image; this file is not one."),
    PhotoProblem.CLAIM_MISMATCH: N_(
        "The file is named or labelled as %(claimed)s but its content is %(actual)s; send the photo as it was taken."
    ),
    PhotoProblem.TOO_LARGE: N_("The photo of the house is larger than %(limit)s MB; choose a smaller photo."),
    PhotoProblem.NOT_DECODED: N_("The photo of the house could not be read as a complete image; choose it again."),
}


def photo_refusal(refused: PhotoRefused) -> PhotoRefusal:
    """A refused photo as the form's problem, in the catalogs' words."""
    values = dict(refused.values)
    if "limit" in values:
        values["limit"] = megabytes(values["limit"])
    status = 413 if refused.problem is PhotoProblem.TOO_LARGE else 400
    return PhotoRefusal(Problem(PHOTO_FIELD, Message(_PHOTO_REFUSALS[refused.problem], values)), status)


def too_large(max_photo_bytes: int) -> Message:
    """The page's words for a form whose body is over the limit (the photo is what makes it large)."""
    return Message(_PHOTO_REFUSALS[PhotoProblem.TOO_LARGE], {"limit": megabytes(max_photo_bytes)})


def chosen_photo(upload: object) -> UploadedFile | None:
    """The photo posted with the form, or None when none was chosen (browsers send an empty, nameless file)."""
    if not callable(getattr(upload, "read", None)):
        return None
    if not getattr(upload, "filename", "") and not getattr(upload, "size", 0):
        return None
    return upload  # type: ignore[return-value]


async def keep_photo(
    store: PhotoStore, upload: UploadedFile, village_code: str, max_bytes: int
) -> KeptPhoto | PhotoRefusal:
    """Check the photo of the house as a field photo is checked; kept only without its metadata."""
    kept = await keep_checked(
        store,
        upload,
        folder=f"usul/{village_code}",
        name=PHOTO_KIND.value,
        filename=upload.filename,
        declared_type=upload.content_type,
        max_bytes=max_bytes,
        keep_original=False,
    )
    return photo_refusal(kept) if isinstance(kept, PhotoRefused) else kept


async def submit(
    engine: AsyncEngine, usul: Usul, client: str, photo: tuple[PhotoStore, KeptPhoto] | None = None
) -> Ticket | list[Problem]:
    """Fold onto an open usul of the same NIK or KK, or make the proposal, its photo and its ticket (one
    transaction). The photo's files are removed unless a new proposal keeps them."""
    kept = False
    try:
        async with write_transaction(engine) as conn:
            outcome = await _propose(conn, usul, client, photo[1] if photo else None)
        kept = isinstance(outcome, Ticket) and not outcome.folded
    finally:
        if photo is not None and not kept:
            await discard_files(*photo)
    return outcome


async def _propose(conn: AsyncConnection, usul: Usul, client: str, photo: KeptPhoto | None) -> Ticket | list[Problem]:
    folded = await open_ticket_of(conn, usul.nik, usul.kk)
    if folded is not None:
        return Ticket(folded, folded=True)
    principal = Principal(USERNAME, Role.VILLAGE_OPERATOR.value, usul.village.code, via="dataku")
    request = RequestInfo(principal, client=client[:64])
    today = datetime.now(UTC).date()
    made = await propose_new_household(conn, request, household_of(usul, today), note_of(usul))
    if isinstance(made, Invalid):
        return problems_of(made, usul)
    if photo is not None:
        await attach_to_proposal(conn, request, made, PHOTO_KIND, photo)
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
