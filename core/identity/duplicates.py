"""Duplicate candidates: storing what a dedup run found, reading them within a scope, and deciding them.

A pair is one row per (kind, first id, second id) (a unique index): a run updates an open pair in
place, never adds it twice, and leaves a decided pair alone, so a pair decided ``different`` is
not proposed again. Reads are filtered in SQL by the caller's scope: a pair is visible when at
least one side's village lies in it.

Deciding (``decide``): ``different`` closes the pair; ``same`` makes a proposal in the
verification chain at the village of the record not kept — a change proposal removing the
duplicate member (``RemovalReason.DUPLICATE``), or a removal proposal of the whole household
(``HouseholdRemovalReason.DUPLICATE``) for a family registered twice or a member who is the only
one of their household — and closes the pair as ``same`` with that proposal. Nothing changes in
the registry until the chain determines the proposal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, make_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo
from core.foundation.enums import (
    DuplicateKind,
    DuplicateStatus,
    HouseholdRemovalReason,
    MemberStatus,
    ProposalStatus,
    RecordStatus,
    Relationship,
    RemovalReason,
)
from core.foundation.ids import ids
from core.foundation.refusals import Conflict, FieldError, Invalid, Missing, OutsideScope
from core.models import DuplicateCandidate
from core.regions.codes import region_within, within
from core.storage.keyset import Slice, Window, settle
from core.storage.records import HOUSEHOLDS, MEMBERS
from core.verification import proposals
from core.verification.drafts import PROPOSALS, ChangeRequest, MemberRemoval

CANDIDATES = DuplicateCandidate.__table__
REASON_LIMIT = 500
OPEN = DuplicateStatus.OPEN.value

CandidateRecord: Any = make_dataclass("CandidateRecord", [(c.name, Any) for c in CANDIDATES.columns], slots=True)


class Decision(StrEnum):
    SAME = "same"
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pair found by a run, before it is stored."""

    kind: DuplicateKind
    first_id: int
    second_id: int
    first_household_id: int
    second_household_id: int
    first_village_code: str
    second_village_code: str
    probability: float
    agreeing: tuple[str, ...]

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.kind.value, self.first_id, self.second_id)


@dataclass(slots=True)
class StoreSummary:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    decided: int = 0  # found again, but already decided: left as decided
    withdrawn: int = 0  # open pairs of the run's region no longer found: deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "already_decided": self.decided,
            "withdrawn": self.withdrawn,
        }


@dataclass(frozen=True, slots=True)
class AlreadyDecided(proposals.Refused):
    """The pair was decided before (``status``); nothing was written."""

    status: str = DuplicateStatus.SAME.value

    @classmethod
    def of(cls, candidate: Any) -> AlreadyDecided:
        message = f"duplicate candidate {candidate.id} was already decided {candidate.status} by {candidate.decided_by}"
        return cls(message, candidate.status)


def _both_within(region_code: str | None) -> list[ColumnElement[bool]]:
    if not region_code:
        return []
    return [within(CANDIDATES.c.first_village_code, region_code), within(CANDIDATES.c.second_village_code, region_code)]


async def store_candidates(
    conn: AsyncConnection, run_id: int, found: Sequence[Candidate], region_code: str | None, at: datetime
) -> StoreSummary:
    """Write a run's pairs in the caller's transaction: insert new pairs, update open ones, keep decided ones,
    withdraw open pairs of the run's region (both sides in it) that the run no longer found."""
    summary = StoreSummary()
    existing: dict[tuple[str, int, int], Any] = {}
    rows = await conn.execute(
        select(
            CANDIDATES.c.id,
            CANDIDATES.c.kind,
            CANDIDATES.c.first_id,
            CANDIDATES.c.second_id,
            CANDIDATES.c.status,
            CANDIDATES.c.probability,
            CANDIDATES.c.agreeing,
            CANDIDATES.c.first_household_id,
            CANDIDATES.c.second_household_id,
            CANDIDATES.c.first_village_code,
            CANDIDATES.c.second_village_code,
        )
    )
    for row in rows:
        existing[(row.kind, row.first_id, row.second_id)] = row
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[tuple[str, int, int]] = set()
    for pair in found:
        seen.add(pair.key)
        row = existing.get(pair.key)
        if row is None:
            inserts.append(
                {
                    "id": ids.next_id(),
                    "run_id": run_id,
                    "kind": pair.kind.value,
                    "first_id": pair.first_id,
                    "second_id": pair.second_id,
                    "first_household_id": pair.first_household_id,
                    "second_household_id": pair.second_household_id,
                    "first_village_code": pair.first_village_code,
                    "second_village_code": pair.second_village_code,
                    "probability": pair.probability,
                    "agreeing": list(pair.agreeing),
                    "status": OPEN,
                    "found_at": at,
                    "version": 1,
                }  # fmt: skip
            )
        elif row.status != OPEN:
            summary.decided += 1
        elif (
            abs(row.probability - pair.probability) < 1e-6
            and list(row.agreeing) == list(pair.agreeing)
            and (row.first_household_id, row.second_household_id, row.first_village_code, row.second_village_code)
            == (pair.first_household_id, pair.second_household_id, pair.first_village_code, pair.second_village_code)
        ):
            summary.unchanged += 1
        else:
            updates.append(
                {
                    "candidate": row.id,
                    "run": run_id,
                    "probability": pair.probability,
                    "agreeing": list(pair.agreeing),
                    "first_household": pair.first_household_id,
                    "second_household": pair.second_household_id,
                    "first_village": pair.first_village_code,
                    "second_village": pair.second_village_code,
                    "found": at,
                }
            )
    for start in range(0, len(inserts), 5_000):  # SQLAlchemy's executemany: JSON handled alike on both databases
        await conn.execute(insert(CANDIDATES), inserts[start : start + 5_000])
    summary.inserted = len(inserts)
    if updates:
        await conn.execute(
            update(CANDIDATES)
            .where(CANDIDATES.c.id == bindparam("candidate"), CANDIDATES.c.status == OPEN)
            .values(
                run_id=bindparam("run"),
                probability=bindparam("probability"),
                agreeing=bindparam("agreeing"),
                first_household_id=bindparam("first_household"),
                second_household_id=bindparam("second_household"),
                first_village_code=bindparam("first_village"),
                second_village_code=bindparam("second_village"),
                found_at=bindparam("found"),
                version=CANDIDATES.c.version + 1,
            ),
            updates,
        )
        summary.updated = len(updates)
    stale = [
        row.id
        for key, row in existing.items()
        if key not in seen
        and row.status == OPEN
        and (
            not region_code
            or (
                region_within(row.first_village_code, region_code)
                and region_within(row.second_village_code, region_code)
            )
        )
    ]
    for start in range(0, len(stale), 5_000):
        await conn.execute(delete(CANDIDATES).where(CANDIDATES.c.id.in_(stale[start : start + 5_000])))
    summary.withdrawn = len(stale)
    return summary


# --- reading ------------------------------------------------------------------------------------


def visible_in(scope: str) -> list[ColumnElement[bool]]:
    """SQL: at least one side's village lies in ``scope`` ('' sees everything)."""
    if not scope:
        return []
    return [or_(within(CANDIDATES.c.first_village_code, scope), within(CANDIDATES.c.second_village_code, scope))]


@dataclass(frozen=True, slots=True)
class CandidateFilter:
    scope: str
    region_code: str | None = None
    status: str | None = None
    kind: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = visible_in(self.scope)
        if self.region_code:
            conditions += visible_in(self.region_code)
        if self.status is not None:
            conditions.append(CANDIDATES.c.status == self.status)
        if self.kind is not None:
            conditions.append(CANDIDATES.c.kind == self.kind)
        return conditions


async def candidate_page(conn: AsyncConnection, where: CandidateFilter, window: Window) -> Slice:
    """One page of candidates in id order (keyset pagination either way); ``rows`` are CandidateRecords."""
    query = window.apply(select(CANDIDATES).where(*where.conditions()), CANDIDATES.c.id)
    return settle(window, [CandidateRecord(*row) for row in await conn.execute(query)])


async def count_candidates(conn: AsyncConnection, where: CandidateFilter) -> int:
    query = select(func.count()).select_from(CANDIDATES).where(*where.conditions())
    return int((await conn.execute(query)).scalar_one())


async def candidates_by_id(conn: AsyncConnection, candidate_ids: Sequence[int], scope: str) -> dict[int, Any]:
    """Candidates by id that are visible in ``scope``; one statement."""
    if not candidate_ids:
        return {}
    query = select(CANDIDATES).where(CANDIDATES.c.id.in_(sorted(set(candidate_ids))), *visible_in(scope))
    return {row.id: CandidateRecord(*row) for row in await conn.execute(query)}


async def candidate_by_id(conn: AsyncConnection, candidate_id: int, scope: str) -> Any:
    return (await candidates_by_id(conn, [candidate_id], scope)).get(candidate_id)


async def member_pairs_of(conn: AsyncConnection, families: Sequence[Any], scope: str) -> dict[int, list[Any]]:
    """For ``same_family`` candidates: the ``same_person`` pairs between their two households, by family id."""
    found: dict[int, list[Any]] = {family.id: [] for family in families}
    if not families:
        return found
    by_households = {(f.first_household_id, f.second_household_id): f.id for f in families}
    households = sorted({h for pair in by_households for h in pair})
    query = select(CANDIDATES).where(
        CANDIDATES.c.kind == DuplicateKind.SAME_PERSON.value,
        CANDIDATES.c.first_household_id.in_(households),
        CANDIDATES.c.second_household_id.in_(households),
        *visible_in(scope),
    )
    for row in await conn.execute(query.order_by(CANDIDATES.c.id)):
        pair = tuple(sorted((row.first_household_id, row.second_household_id)))
        family = by_households.get(pair)  # type: ignore[arg-type]
        if family is not None:
            found[family].append(CandidateRecord(*row))
    return found


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a pair, as much as a decision needs: who (or whose family) and where."""

    member_id: int | None
    household_id: int
    village_code: str
    name: str | None
    nik: str | None
    sex: str | None
    birth_date: Any
    relationship: str | None
    member_status: str | None
    household_status: str | None
    kk_number: str | None
    active_members: int


async def sides_of(conn: AsyncConnection, candidates: Sequence[Any]) -> dict[tuple[int, int], Side]:
    """Both sides of each candidate, keyed by (candidate id, 1 or 2); a fixed number of statements.

    A ``same_person`` side is the member; a ``same_family`` side is the household and its head.
    """
    member_ids: set[int] = set()
    household_ids: set[int] = set()
    for c in candidates:
        household_ids.update((c.first_household_id, c.second_household_id))
        if c.kind == DuplicateKind.SAME_PERSON.value:
            member_ids.update((c.first_id, c.second_id))
    members: dict[int, Any] = {}
    heads: dict[int, Any] = {}
    households: dict[int, Any] = {}
    sizes: dict[int, int] = {}
    if household_ids:
        wanted = sorted(household_ids)
        for row in await conn.execute(
            select(HOUSEHOLDS.c.id, HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.status).where(HOUSEHOLDS.c.id.in_(wanted))
        ):
            households[row.id] = row
        for row in await conn.execute(
            select(MEMBERS.c.household_id, func.count())
            .where(MEMBERS.c.household_id.in_(wanted), MEMBERS.c.status == MemberStatus.ACTIVE.value)
            .group_by(MEMBERS.c.household_id)
        ):
            sizes[row[0]] = int(row[1])
        member_columns = (
            MEMBERS.c.id, MEMBERS.c.household_id, MEMBERS.c.name, MEMBERS.c.nik, MEMBERS.c.sex,
            MEMBERS.c.birth_date, MEMBERS.c.relationship, MEMBERS.c.status,
        )  # fmt: skip
        for row in await conn.execute(
            select(*member_columns)
            .where(
                MEMBERS.c.household_id.in_(wanted),
                MEMBERS.c.relationship == Relationship.HEAD.value,
                MEMBERS.c.status == MemberStatus.ACTIVE.value,
            )
            .order_by(MEMBERS.c.id)
        ):
            heads.setdefault(row.household_id, row)
        if member_ids:
            for row in await conn.execute(select(*member_columns).where(MEMBERS.c.id.in_(sorted(member_ids)))):
                members[row.id] = row
    sides: dict[tuple[int, int], Side] = {}
    for c in candidates:
        for number, key, household_id, village in (
            (1, c.first_id, c.first_household_id, c.first_village_code),
            (2, c.second_id, c.second_household_id, c.second_village_code),
        ):
            person = c.kind == DuplicateKind.SAME_PERSON.value
            who = members.get(key) if person else heads.get(household_id)
            household = households.get(household_id)
            sides[(c.id, number)] = Side(
                member_id=key if person else None,
                household_id=household_id,
                village_code=village,
                name=who.name if who else None,
                nik=who.nik if who else None,
                sex=who.sex if who else None,
                birth_date=who.birth_date if who else None,
                relationship=who.relationship if who else None,
                member_status=who.status if who and person else None,
                household_status=household.status if household else None,
                kk_number=household.kk_number if household else None,
                active_members=sizes.get(household_id, 0),
            )
    return sides


# --- deciding -----------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


async def _removal_proposal(
    conn: AsyncConnection, request: RequestInfo, candidate: Any, keep_first: bool, note: str
) -> Any:
    """The proposal taking out the side not kept, at its household's village; a refusal naming ``keep``."""
    person = candidate.kind == DuplicateKind.SAME_PERSON.value
    removed = candidate.second_id if keep_first else candidate.first_id
    household_id = candidate.second_household_id if keep_first else candidate.first_household_id
    village = candidate.second_village_code if keep_first else candidate.first_village_code
    scope = request.principal.scope
    what = f"member {removed}" if person else f"household {household_id}"
    if not region_within(village, scope):
        return OutsideScope(
            [FieldError("keep", f"{what}, to be removed, lies in village {village}, outside your region {scope}; "
                                "keep it instead, or leave the decision to an operator of that village")],
            village,
            household_id,
        )  # fmt: skip
    household = (
        await conn.execute(select(HOUSEHOLDS.c.version, HOUSEHOLDS.c.status).where(HOUSEHOLDS.c.id == household_id))
    ).first()
    if household is None or household.status != RecordStatus.ACTIVE.value:
        return Invalid([FieldError("keep", f"household {household_id} is no longer active; nothing to remove")])
    made: Any
    if person:
        member = (
            await conn.execute(
                select(MEMBERS.c.relationship, MEMBERS.c.status).where(
                    MEMBERS.c.id == removed, MEMBERS.c.household_id == household_id
                )
            )
        ).first()
        if member is None or member.status != MemberStatus.ACTIVE.value:
            return Invalid([FieldError("keep", f"{what} is no longer an active member; nothing to remove")])
        others = await conn.scalar(
            select(func.count()).where(
                MEMBERS.c.household_id == household_id,
                MEMBERS.c.status == MemberStatus.ACTIVE.value,
                MEMBERS.c.id != removed,
            )
        )
        if not others:
            made = await proposals.propose_removal(
                conn, request, household_id, household.version, HouseholdRemovalReason.DUPLICATE, note
            )
        elif member.relationship == Relationship.HEAD.value:
            return Invalid(
                [
                    FieldError(
                        "keep",
                        f"{what} heads household {household_id}, which has other members; propose a new head "
                        "for that household first, or keep this member and remove the other",
                    )
                ]
            )
        else:
            change = ChangeRequest(removed_members=[MemberRemoval(removed, RemovalReason.DUPLICATE)])
            made = await proposals.propose_change(conn, request, household_id, household.version, change, note)
    else:
        made = await proposals.propose_removal(
            conn, request, household_id, household.version, HouseholdRemovalReason.DUPLICATE, note
        )
    if isinstance(made, Invalid):  # e.g. the household already has an open proposal
        return Invalid([FieldError("keep", e.message) for e in made.errors])
    return made


async def _reopened(conn: AsyncConnection, candidate: Any) -> bool:
    """A pair decided ``same`` whose proposal the verification chain rejected: the registry kept both
    records, so the pair may be decided again (the rejection's reason is on the proposal)."""
    if candidate.status != DuplicateStatus.SAME.value or candidate.proposal_id is None:
        return False
    status = await conn.scalar(select(PROPOSALS.c.status).where(PROPOSALS.c.id == candidate.proposal_id))
    return status == ProposalStatus.REJECTED.value


async def decide(
    conn: AsyncConnection,
    request: RequestInfo,
    candidate_id: int,
    version: int,
    decision: Decision,
    keep: int | None,
    reason: str,
    keep_type: str | None = None,
) -> Any:
    """Decide a pair in the caller's write transaction: the candidate as it now stands, or a refusal.

    ``keep``: for ``same``, the member (same_person) or household (same_family) that stays; the other
    side is proposed for removal. ``keep_type``: the GraphQL type its global id named (``Member`` or
    ``Household``), None for a raw id. Refusals: Missing (not visible in the caller's scope), Conflict
    (another version), AlreadyDecided, Invalid / OutsideScope (bad ``keep`` or ``reason``).
    """
    scope = request.principal.scope
    candidate = await candidate_by_id(conn, candidate_id, scope)
    if candidate is None:
        return Missing("duplicate candidate", str(candidate_id))
    if candidate.status != OPEN and not await _reopened(conn, candidate):
        return AlreadyDecided.of(candidate)
    if candidate.version != version:
        return Conflict(candidate.version, "duplicate candidate")
    errors: list[FieldError] = []
    if len(reason) > REASON_LIMIT:
        errors.append(FieldError("reason", f"reason is longer than {REASON_LIMIT} characters"))
    person = candidate.kind == DuplicateKind.SAME_PERSON.value
    kept = "member" if person else "household"
    sides = (candidate.first_id, candidate.second_id)
    if decision is Decision.DIFFERENT and keep is not None:
        errors.append(FieldError("keep", "keep is given only with decision SAME"))
    if decision is Decision.SAME and keep is None:
        errors.append(FieldError("keep", f"say which {kept} to keep: one of the pair's two {kept}s"))
    elif decision is Decision.SAME and keep_type not in (None, kept.title()):
        errors.append(FieldError("keep", f"a {candidate.kind} pair keeps a {kept.title()}, not a {keep_type}"))
    elif decision is Decision.SAME and keep not in sides:
        errors.append(FieldError("keep", f"{kept} {keep} is not one of the pair ({sides[0]}, {sides[1]})"))
    if errors:
        return Invalid(errors)
    values: dict[str, Any] = {}
    if decision is Decision.SAME:
        note = reason or f"duplicate of {kept} {keep} (duplicate candidate {candidate.id})"
        made = await _removal_proposal(conn, request, candidate, keep == candidate.first_id, note)
        if not isinstance(made, proposals.ProposalRecord):
            return made
        values["proposal_id"] = made.id
    else:  # a reopened pair's rejected proposal is no longer its decision's
        values["proposal_id"] = None
    claimed = await conn.execute(
        update(CANDIDATES)
        .where(
            CANDIDATES.c.id == candidate.id,
            CANDIDATES.c.version == version,
            CANDIDATES.c.status == candidate.status,
        )
        .values(
            status=DuplicateStatus(decision.value).value,
            decided_by=request.principal.username[:64],
            decided_at=_now(),
            version=CANDIDATES.c.version + 1,
            **values,
        )
    )
    if claimed.rowcount != 1:  # decided by someone else since it was read
        return Conflict(version + 1, "duplicate candidate")
    return await candidate_by_id(conn, candidate.id, "")
