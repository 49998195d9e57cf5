"""Making and revising proposals (usulan): a new household, a change, a removal.

A proposal starts at the village and is sent straight on to the district (its ``stage``). It keeps
the household as it was (``current``) and the version it was based on beside the proposed values
(``proposal_households`` / ``proposal_members``). A household has at most one open proposal.
Every function runs in the caller's write transaction and writes nothing unless it returns a
``ProposalRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import AuditItem, RequestInfo, record_many
from core.foundation.enums import HouseholdRemovalReason, ProposalKind, ProposalStatus, RecordStatus, VerificationLevel
from core.foundation.ids import ids
from core.foundation.refusals import Conflict, FieldError, Invalid, Missing
from core.households.data import HouseholdData
from core.households.queries import Include, household_by_id
from core.models import HOUSEHOLD_VALUE_COLUMNS, MEMBER_VALUE_COLUMNS, ProposalStep
from core.regions.codes import within
from core.storage.records import HouseholdRecord
from core.verification.drafts import (
    OPEN,
    PROPOSALS,
    ChangeRequest,
    Draft,
    draft_change,
    draft_new_household,
    store_draft,
)

STEPS = ProposalStep.__table__
#: The creator of the proposals citizens make on SIKS-Dataku (``core.dataku.usul``): their houses are not
#: surveyed yet, so the chain forwards them only after the village has revised them (``chain.approve``).
CITIZEN_PROPOSER = "dataku"
NOTE_LIMIT = 500

ProposalRecord: Any = make_dataclass("ProposalRecord", [(c.name, Any) for c in PROPOSALS.columns], slots=True)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a proposal came from besides an operator's form: a field visit, an offline package."""

    round_id: int | None = None
    visit_id: int | None = None
    client_id: str | None = None
    content_sha256: str | None = None  # with a client id: the digest of what the field app sent


@dataclass(frozen=True, slots=True)
class Refused:
    """The step cannot be taken in the proposal's present state; nothing was written."""

    message: str


def now() -> datetime:
    return datetime.now(UTC)


def snapshot(record: HouseholdRecord) -> dict[str, Any]:
    """The household and its active members as plain JSON values (kept as the proposal's ``current``)."""

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value

    return {
        "version": record.version,
        "household": {name: plain(getattr(record, name)) for name in HOUSEHOLD_VALUE_COLUMNS},
        "members": [
            {"id": m.id, **{name: plain(getattr(m, name)) for name in MEMBER_VALUE_COLUMNS}} for m in record.members
        ],
    }


async def proposal_by_id(conn: AsyncConnection, proposal_id: int, scope: str = "") -> ProposalRecord | None:
    """The proposal if it exists and its village lies in ``scope``."""
    query = select(PROPOSALS).where(PROPOSALS.c.id == proposal_id)
    if scope:
        query = query.where(within(PROPOSALS.c.village_code, scope))
    row = (await conn.execute(query)).first()
    return ProposalRecord(*row) if row else None


async def add_steps(
    conn: AsyncConnection,
    request: RequestInfo,
    steps: list[tuple[int, str, VerificationLevel, str]],
    note: str,
    at: datetime,
) -> None:
    """Record steps (proposal id, action, acting level, stage it went to), each audited."""
    principal = request.principal
    await conn.execute(
        insert(STEPS),
        [
            {
                "id": ids.next_id(),
                "proposal_id": proposal_id,
                "action": action,
                "level": level.value,
                "to_stage": to_stage,
                "actor": principal.username[:64],
                "role": principal.role[:32],
                "note": note,
                "at": at,
            }
            for proposal_id, action, level, to_stage in steps
        ],
    )
    await record_many(
        conn,
        request,
        [
            AuditItem(f"proposal:{action}", "proposal", proposal_id, after={"level": level.value, "to": to_stage})
            for proposal_id, action, level, to_stage in steps
        ],
    )


def _note_errors(note: str) -> list[FieldError]:
    return [FieldError("note", f"note is longer than {NOTE_LIMIT} characters")] if len(note) > NOTE_LIMIT else []


async def open_proposal_of(conn: AsyncConnection, household_id: int, other_than: int | None = None) -> Any:
    query = select(PROPOSALS.c.id, PROPOSALS.c.stage).where(
        PROPOSALS.c.household_id == household_id, PROPOSALS.c.status.in_(OPEN)
    )
    if other_than is not None:
        query = query.where(PROPOSALS.c.id != other_than)
    return (await conn.execute(query)).first()


async def _busy(conn: AsyncConnection, household_id: int) -> Invalid | None:
    row = await open_proposal_of(conn, household_id)
    if row is None:
        return None
    return Invalid(
        [
            FieldError(
                "householdId",
                f"household {household_id} already has open proposal {row.id} (at the {row.stage} level); "
                "revise that one or wait until it is decided",
            )
        ]
    )


async def _insert(
    conn: AsyncConnection,
    request: RequestInfo,
    kind: ProposalKind,
    household_id: int,
    village_code: str,
    draft: Draft | None,
    current: HouseholdRecord | None,
    note: str,
    origin: Origin,
    removal_reason: HouseholdRemovalReason | None = None,
) -> ProposalRecord:
    at = now()
    proposal_id = ids.next_id()
    await conn.execute(
        insert(PROPOSALS).values(
            id=proposal_id,
            kind=kind.value,
            household_id=household_id,
            village_code=village_code,
            stage=VerificationLevel.DISTRICT.value,
            status=ProposalStatus.PENDING.value,
            based_on_version=current.version if current else None,
            current=snapshot(current) if current else None,
            removal_reason=removal_reason.value if removal_reason else None,
            note=note,
            round_id=origin.round_id,
            visit_id=origin.visit_id,
            client_id=origin.client_id,
            content_sha256=origin.content_sha256,
            created_by=request.principal.username[:64],
            created_at=at,
            updated_at=at,
            version=1,
        )
    )
    if draft is not None:
        await store_draft(conn, proposal_id, draft)
    await add_steps(
        conn, request, [(proposal_id, "propose", VerificationLevel.VILLAGE, VerificationLevel.DISTRICT.value)], note, at
    )
    record = await proposal_by_id(conn, proposal_id)
    assert record is not None
    return record


async def _current(conn: AsyncConnection, household_id: int, version: int, scope: str) -> HouseholdRecord | Any:
    record = await household_by_id(conn, household_id, Include(members=True, region=False), scope=scope)
    if record is None or record.status != RecordStatus.ACTIVE.value:
        return Missing("household", str(household_id))
    if record.version != version:
        return Conflict(record.version)
    return record


async def _open_for_proposal(
    conn: AsyncConnection, household_id: int, version: int, scope: str, note: str
) -> HouseholdRecord | Invalid | Conflict | Missing:
    """The household at ``version`` in ``scope``, if a proposal about it may be made now."""
    current = await _current(conn, household_id, version, scope)
    if not isinstance(current, HouseholdRecord):
        return current
    if errors := _note_errors(note):
        return Invalid(errors)
    return await _busy(conn, household_id) or current


async def propose_new_household(
    conn: AsyncConnection, request: RequestInfo, data: HouseholdData, note: str = "", origin: Origin = Origin()
) -> ProposalRecord | Invalid:
    """Propose a household not yet in the registry, with all its members."""
    if errors := _note_errors(note):
        return Invalid(errors)
    draft = await draft_new_household(conn, data, request.principal.scope, ids.next_id())
    if isinstance(draft, Invalid):
        return draft
    household = draft.household
    return await _insert(
        conn, request, ProposalKind.NEW_HOUSEHOLD, draft.household_id, household.village_code, draft, None, note, origin
    )


async def propose_change(
    conn: AsyncConnection,
    request: RequestInfo,
    household_id: int,
    version: int,
    change: ChangeRequest,
    note: str = "",
    origin: Origin = Origin(),
) -> ProposalRecord | Invalid | Conflict | Missing:
    """Propose changes to a household's variables and members; ``version`` is the household's, as read."""
    current = await _open_for_proposal(conn, household_id, version, request.principal.scope, note)
    if not isinstance(current, HouseholdRecord):
        return current
    draft = await draft_change(conn, current, change, request.principal.scope)
    if isinstance(draft, Invalid):
        return draft
    return await _insert(
        conn, request, ProposalKind.CHANGE, current.id, current.village_code, draft, current, note, origin
    )


async def propose_removal(
    conn: AsyncConnection,
    request: RequestInfo,
    household_id: int,
    version: int,
    reason: HouseholdRemovalReason,
    note: str = "",
    origin: Origin = Origin(),
) -> ProposalRecord | Invalid | Conflict | Missing:
    """Propose taking a household out of the DTKS for ``reason``."""
    current = await _open_for_proposal(conn, household_id, version, request.principal.scope, note)
    if not isinstance(current, HouseholdRecord):
        return current
    return await _insert(
        conn, request, ProposalKind.REMOVAL, current.id, current.village_code, None, current, note, origin, reason
    )


@dataclass(frozen=True, slots=True)
class Revision:
    """New content for a returned proposal, matching its kind (one of the three is given)."""

    household: HouseholdData | None = None
    change: ChangeRequest | None = None
    removal_reason: HouseholdRemovalReason | None = None


async def revise_proposal(
    conn: AsyncConnection, request: RequestInfo, proposal_id: int, version: int, revision: Revision, note: str = ""
) -> ProposalRecord | Invalid | Conflict | Missing | Refused:
    """Replace a returned proposal's content and send it to the district again (village level only).

    A change or removal is re-based on the household as it is now; ``version`` is the proposal's.
    """
    scope = request.principal.scope
    proposal = await proposal_by_id(conn, proposal_id, scope)
    if proposal is None:
        return Missing("proposal", str(proposal_id))
    if proposal.version != version:
        return Conflict(proposal.version, "proposal")
    if proposal.stage != VerificationLevel.VILLAGE.value or proposal.status != ProposalStatus.RETURNED.value:
        return Refused(
            f"proposal {proposal_id} is {proposal.status} at the {proposal.stage} level; "
            "only a proposal returned to the village can be revised"
        )
    kind = ProposalKind(proposal.kind)
    given = {
        ProposalKind.NEW_HOUSEHOLD: revision.household,
        ProposalKind.CHANGE: revision.change,
        ProposalKind.REMOVAL: revision.removal_reason,
    }
    if given[kind] is None or sum(v is not None for v in given.values()) != 1:
        wanted = {"new_household": "household", "change": "change", "removal": "removalReason"}[kind.value]
        return Invalid([FieldError(wanted, f"a {kind.value} proposal is revised with {wanted} (and nothing else)")])
    if errors := _note_errors(note):
        return Invalid(errors)
    values: dict[str, Any] = {}
    draft: Draft | None = None
    if kind is ProposalKind.NEW_HOUSEHOLD:
        assert revision.household is not None
        made = await draft_new_household(conn, revision.household, scope, proposal.household_id)
        if isinstance(made, Invalid):
            return made
        draft = made
        values["village_code"] = made.household.village_code
    else:
        current = await household_by_id(conn, proposal.household_id, Include(members=True, region=False), scope)
        if current is None or current.status != RecordStatus.ACTIVE.value:
            return Missing("household", str(proposal.household_id))
        values.update(based_on_version=current.version, current=snapshot(current))
        if kind is ProposalKind.CHANGE:
            assert revision.change is not None
            made = await draft_change(conn, current, revision.change, scope)
            if isinstance(made, Invalid):
                return made
            draft = made
        else:
            assert revision.removal_reason is not None
            values["removal_reason"] = revision.removal_reason.value
    at = now()
    claimed = await conn.execute(
        update(PROPOSALS)
        .where(PROPOSALS.c.id == proposal_id, PROPOSALS.c.version == version, PROPOSALS.c.status.in_(OPEN))
        .values(
            stage=VerificationLevel.DISTRICT.value,
            status=ProposalStatus.PENDING.value,
            note=note or proposal.note,
            updated_at=at,
            version=PROPOSALS.c.version + 1,
            **values,
        )
    )
    if claimed.rowcount != 1:  # revised or acted on by someone else since we read it
        return Conflict(version + 1, "proposal")
    if draft is not None:
        await store_draft(conn, proposal_id, draft)
    await add_steps(
        conn, request, [(proposal_id, "revise", VerificationLevel.VILLAGE, VerificationLevel.DISTRICT.value)], note, at
    )
    record = await proposal_by_id(conn, proposal_id)
    assert record is not None
    return record
