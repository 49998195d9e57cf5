"""Field visits: what the officer found at a prelisted household, where and when.

A visit is evidence; the changes it finds travel up the chain as a proposal made from the visit:
found with new values → a change proposal, not found / moved / deceased → a removal proposal.
The officer names the household version they saw. Online, a household changed since then is a
``Conflict`` and nothing is written; from an offline package the visit is kept (it happened) but
its changes are reported as a conflict instead of being proposed over the newer data.

A visit sent with a client id keeps the sha256 of its content: sent again with the same content
it is ``Recorded(already=True)``; with other content it is ``Resent`` and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo, record
from core.foundation.enums import HouseholdRemovalReason, RecordStatus, VisitOutcome
from core.foundation.ids import ids
from core.foundation.refusals import Conflict, FieldError, Invalid, Missing, OutsideScope
from core.regions.codes import within
from core.storage.records import HOUSEHOLDS
from core.verification.client_ids import content_sha256, resent_reason
from core.verification.drafts import ChangeRequest
from core.verification.gps import gps_errors
from core.verification.proposals import NOTE_LIMIT, Origin, ProposalRecord, propose_change, propose_removal
from core.verification.rounds import OPEN, PRELIST, ROUNDS, VISITS

VisitRecord: Any = make_dataclass("VisitRecord", [(c.name, Any) for c in VISITS.columns], slots=True)
CLOCK_SKEW = timedelta(minutes=10)
OLDEST_VISIT = timedelta(days=366)
REMOVAL_FOR = {
    VisitOutcome.NOT_FOUND: HouseholdRemovalReason.NOT_FOUND,
    VisitOutcome.MOVED: HouseholdRemovalReason.MOVED,
    VisitOutcome.DECEASED: HouseholdRemovalReason.DECEASED,
}


@dataclass(frozen=True, slots=True)
class VisitReport:
    """A visit as the officer reports it."""

    round_id: int
    household_id: int
    outcome: VisitOutcome
    visited_at: datetime
    latitude: float
    longitude: float
    household_version: int
    changes: ChangeRequest | None = None
    note: str = ""
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    visit: Any  # VisitRecord
    proposal: ProposalRecord | None
    conflict: str | None = None  # why the visit's changes were not proposed
    already: bool = False  # the same client id was recorded before: nothing new was written


@dataclass(frozen=True, slots=True)
class Resent:
    """The visit's client id was recorded before with other content: the first visit stands, nothing was written."""

    visit: Any  # VisitRecord, as first recorded

    @property
    def reason(self) -> str:
        return resent_reason(self.visit.client_id, "visit")


def visit_content_sha256(report: VisitReport) -> str:
    """The digest of what the officer reported: the same visit sent again gives the same digest."""
    return content_sha256(
        {
            "round_id": report.round_id,
            "household_id": report.household_id,
            "outcome": report.outcome.value,
            "visited_at": report.visited_at,
            "latitude": report.latitude,
            "longitude": report.longitude,
            "household_version": report.household_version,
            "note": report.note,
            "changes": report.changes,
        }
    )


def _same_content(earlier: Any, report: VisitReport) -> bool:
    if earlier.content_sha256 is not None:
        return bool(earlier.content_sha256 == visit_content_sha256(report))
    # Recorded before visits kept a digest (migration 0010): compare what its columns keep.
    kept = (earlier.outcome, earlier.latitude, earlier.longitude, earlier.household_version, earlier.note)
    return kept == (report.outcome.value, report.latitude, report.longitude, report.household_version, report.note)


async def visit_by_id(conn: AsyncConnection, visit_id: int, scope: str = "") -> Any:
    query = select(VISITS).where(VISITS.c.id == visit_id)
    if scope:
        query = query.where(within(VISITS.c.village_code, scope))
    row = (await conn.execute(query)).first()
    return VisitRecord(*row) if row else None


async def visits_by_id(conn: AsyncConnection, visit_ids: list[int], scope: str = "") -> dict[int, Any]:
    query = select(VISITS).where(VISITS.c.id.in_(visit_ids))
    if scope:
        query = query.where(within(VISITS.c.village_code, scope))
    return {row.id: VisitRecord(*row) for row in await conn.execute(query)}


async def _prelisted(conn: AsyncConnection, report: VisitReport, scope: str) -> Any:
    query = (
        select(
            HOUSEHOLDS.c.id,
            HOUSEHOLDS.c.village_code,
            HOUSEHOLDS.c.version,
            HOUSEHOLDS.c.status,
            ROUNDS.c.status.label("round_status"),
        )
        .select_from(
            PRELIST.join(ROUNDS, ROUNDS.c.id == PRELIST.c.round_id).join(
                HOUSEHOLDS, HOUSEHOLDS.c.id == PRELIST.c.household_id
            )
        )
        .where(PRELIST.c.round_id == report.round_id, PRELIST.c.household_id == report.household_id)
    )
    if scope:
        query = query.where(within(PRELIST.c.village_code, scope))
    return (await conn.execute(query)).first()


def _time_errors(visited_at: datetime, now: datetime) -> list[FieldError]:
    moment = visited_at if visited_at.tzinfo else visited_at.replace(tzinfo=UTC)
    if moment > now + CLOCK_SKEW:
        return [FieldError("visitedAt", f"visitedAt {moment.isoformat()} is in the future")]
    if moment < now - OLDEST_VISIT:
        return [FieldError("visitedAt", f"visitedAt {moment.isoformat()} is more than a year ago")]
    return []


async def _already(conn: AsyncConnection, report: VisitReport) -> Any:
    """The earlier visit of this round and household (or with this client id), if any."""
    same = and_(VISITS.c.round_id == report.round_id, VISITS.c.household_id == report.household_id)
    if report.client_id:
        same = same | (VISITS.c.client_id == report.client_id)
    row = (await conn.execute(select(VISITS).where(same).limit(1))).first()
    return VisitRecord(*row) if row else None


async def record_visit(
    conn: AsyncConnection, request: RequestInfo, report: VisitReport, source: str = "online"
) -> Recorded | Resent | Invalid | Missing | Conflict:
    """Record a visit to a household on a round's prelist, and the proposal it leads to.

    A client id recorded before for this household and round gives that visit back: ``already``
    when the content is the same, ``Resent`` (nothing written) when it differs.
    """
    scope = request.principal.scope
    household = await _prelisted(conn, report, scope)
    if household is None:
        return Missing("household on the prelist of round", f"{report.round_id}/{report.household_id}")
    earlier = await _already(conn, report)
    if earlier is not None:
        if report.client_id and earlier.client_id == report.client_id:
            if (earlier.round_id, earlier.household_id) == (report.round_id, report.household_id):
                return Recorded(earlier, None, already=True) if _same_content(earlier, report) else Resent(earlier)
            return Invalid([FieldError("clientId", f"client id {report.client_id} is already used by another visit")])
        return Invalid(
            [
                FieldError(
                    "householdId",
                    f"household {report.household_id} was already visited in this round "
                    f"({earlier.visited_at:%Y-%m-%d})",
                )
            ]
        )
    now = datetime.now(UTC)
    errors = _time_errors(report.visited_at, now)
    if household.round_status != OPEN:
        errors.append(FieldError("roundId", f"round {report.round_id} is closed; visits are no longer recorded"))
    if len(report.note) > NOTE_LIMIT:
        errors.append(FieldError("note", f"note is longer than {NOTE_LIMIT} characters"))
    if report.outcome is not VisitOutcome.FOUND and report.changes is not None:
        errors.append(
            FieldError("changes", f"a household {report.outcome.value.replace('_', ' ')} has no changes to record")
        )
    errors += await gps_errors(conn, household.village_code, household.id, report.latitude, report.longitude)
    if errors:
        return Invalid(errors)
    visit_id = ids.next_id()
    proposal: ProposalRecord | None = None
    conflict: str | None = None
    origin = Origin(round_id=report.round_id, visit_id=visit_id)
    wants_proposal = report.changes is not None or report.outcome in REMOVAL_FOR
    if wants_proposal and (
        household.status != RecordStatus.ACTIVE.value or household.version != report.household_version
    ):
        if source == "online":
            return Conflict(household.version)
        conflict = (
            f"the household changed online since the package was made (version {report.household_version} → "
            f"{household.version}); its changes were not proposed — check it again"
        )
    elif wants_proposal:
        if report.outcome in REMOVAL_FOR:
            made = await propose_removal(
                conn, request, household.id, household.version, REMOVAL_FOR[report.outcome], report.note, origin
            )
        else:
            assert report.changes is not None
            made = await propose_change(
                conn, request, household.id, household.version, report.changes, report.note, origin
            )
        if isinstance(made, ProposalRecord):
            proposal = made
        elif isinstance(made, Invalid) and not isinstance(made, OutsideScope) and source != "online":
            # Data that moved on since the export; a household moved outside the officer's region never is one.
            conflict = "; ".join(f"{e.field}: {e.message}" for e in made.errors)
        else:
            return made
    await conn.execute(
        insert(VISITS).values(
            id=visit_id,
            round_id=report.round_id,
            household_id=household.id,
            village_code=household.village_code,
            outcome=report.outcome.value,
            visited_at=report.visited_at,
            recorded_at=now,
            latitude=report.latitude,
            longitude=report.longitude,
            household_version=report.household_version,
            officer=request.principal.username[:64],
            role=request.principal.role[:32],
            note=report.note,
            proposal_id=proposal.id if proposal else None,
            source=source,
            client_id=report.client_id,
            content_sha256=visit_content_sha256(report) if report.client_id else None,
        )
    )
    await record(
        conn,
        request,
        operation="recordVisit",
        entity="visit",
        entity_id=visit_id,
        after={
            "household": household.id,
            "outcome": report.outcome.value,
            "proposal": proposal.id if proposal else None,
        },
    )
    visit = await visit_by_id(conn, visit_id)
    return Recorded(visit, proposal, conflict)
