"""Consequences of an identity check, never silent: its Adminduk discrepancies become proposals.

``propose_from_run`` reads the outcomes of one completed check run that still count (no later
completed run checked the member) and turns them into proposals of the verification chain at
each household's village, one proposal a household combining everything the run found there:

- ``deceased``: the member is removed with the reason ``deceased``;
- ``nik_suggested``: the member's NIK is corrected to the suggested one, when the match
  probability reaches ``SIKS_IDENTITY_NIK_MIN_PROBABILITY`` and no other active member holds it;
- ``moved``: the household moves to the new village when its head moved there, or when every
  member still living moved to that same village; otherwise the member is removed (``moved``).

When no member would remain, the household's removal is proposed instead (``deceased`` when all
died, else ``moved``); when the head would be removed and others remain, the spouse (else the
eldest) is proposed as head, for the operators to confirm or revise. A household that already
has an open proposal is skipped and counted; it is proposed by a later call once that proposal
is decided. Nothing changes in the registry until the chain determines the proposal.

Idempotent: the checks that became a proposal carry its id (``identity_checks.proposal_id``), so
running again proposes nothing twice; a later run's outcome that an earlier proposal already
covers (open, determined or rejected by the operators) is linked to that proposal, not proposed
again. A proposal's note names the run and the source and what it proposes by member id; no
reference values. Each household is proposed in its own write transaction, audited as every
proposal is (``proposal:propose``), and the call itself is audited (``identity:propose``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo, record
from core.auth.principal import Principal
from core.foundation.enums import (
    HouseholdRemovalReason,
    IdentityRunKind,
    IdentityRunStatus,
    IdentityStatus,
    ProposalStatus,
    RecordStatus,
    Relationship,
    RemovalReason,
)
from core.foundation.refusals import FieldError, Invalid, Missing
from core.foundation.settings import get_settings
from core.households.queries import Include, household_by_id
from core.households.service import niks_active_elsewhere
from core.identity.outcomes import CHECKS, RUNS, superseded
from core.reference.formats import Source
from core.storage.db import write_transaction
from core.verification.drafts import PROPOSALS, ChangeRequest, MemberChange, MemberRemoval
from core.verification.proposals import NOTE_LIMIT, open_proposal_of, propose_change, propose_removal

#: The Adminduk outcomes that become proposals.
PROPOSED_OUTCOMES = (IdentityStatus.DECEASED, IdentityStatus.MOVED, IdentityStatus.NIK_SUGGESTED)
#: Proposals an earlier outcome became that still answer for it: open, determined, or rejected by the chain.
STILL_ANSWERS = {
    ProposalStatus.PENDING.value,
    ProposalStatus.RETURNED.value,
    ProposalStatus.DETERMINED.value,
    ProposalStatus.REJECTED.value,
}
NEW_VILLAGE = "newVillageCode"


@dataclass(slots=True)
class Proposed:
    """What one call did with a run's discrepancies (counts of members unless named households)."""

    run_id: int
    proposals: int = 0  # proposals made, one a household
    deceased_removals: int = 0
    nik_corrections: int = 0
    household_moves: int = 0  # households
    moved_removals: int = 0
    household_removals: int = 0  # households: no member would remain
    already_proposed: int = 0  # outcomes a proposal (of this or an earlier run) already covers
    open_proposal: int = 0  # households skipped: they already carry an open proposal
    below_probability: int = 0  # NIK suggestions under the setting
    nik_taken: int = 0  # NIK suggestions another active member already holds
    not_active: int = 0  # the member or the household is no longer active
    refused: int = 0  # households whose proposal broke a registry rule (``refusals`` says which)
    refusals: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__ if name not in {"run_id", "refusals"}}

    def line(self) -> str:
        shown = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in self.counts().items() if value)
        return f"identity run {self.run_id}: {shown or 'nothing to propose'}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One outcome of the run that may become part of a proposal."""

    member_id: int
    household_id: int
    status: IdentityStatus
    suggested_nik: str | None
    probability: float | None
    new_village: str | None


def _new_village(details: Any) -> str | None:
    value = details.get(NEW_VILLAGE) if isinstance(details, dict) else None
    return value if isinstance(value, str) and value else None


def _same(finding: Finding, status: str, suggested: str | None, details: Any) -> bool:
    """Whether an earlier outcome said the same thing as ``finding``."""
    if status != finding.status.value:
        return False
    if finding.status is IdentityStatus.NIK_SUGGESTED:
        return suggested == finding.suggested_nik
    if finding.status is IdentityStatus.MOVED:
        return _new_village(details) == finding.new_village
    return True


async def _run_refusal(conn: AsyncConnection, run_id: int) -> Invalid | Missing | None:
    run = (await conn.execute(select(RUNS.c.kind, RUNS.c.status).where(RUNS.c.id == run_id))).first()
    if run is None:
        return Missing("identity run", str(run_id))
    if run.kind != IdentityRunKind.CHECK.value:
        return Invalid([FieldError("runId", f"identity run {run_id} is a {run.kind} run; only a check run proposes")])
    if run.status != IdentityRunStatus.COMPLETED.value:
        return Invalid(
            [FieldError("runId", f"identity run {run_id} is {run.status}; only a completed run's outcomes count")]
        )
    return None


async def _findings(conn: AsyncConnection, run_id: int, result: Proposed) -> list[Finding]:
    """The run's Adminduk discrepancies that still count and have not become a proposal yet."""
    rows = await conn.execute(
        select(
            CHECKS.c.member_id,
            CHECKS.c.household_id,
            CHECKS.c.status,
            CHECKS.c.suggested_nik,
            CHECKS.c.probability,
            CHECKS.c.details,
            CHECKS.c.proposal_id,
        ).where(
            CHECKS.c.run_id == run_id,
            CHECKS.c.source == Source.ADMINDUK.value,
            CHECKS.c.status.in_([status.value for status in PROPOSED_OUTCOMES]),
            ~superseded(CHECKS),
        )
    )
    findings = []
    for row in rows:
        if row.proposal_id is not None:
            result.already_proposed += 1
            continue
        findings.append(
            Finding(
                row.member_id,
                row.household_id,
                IdentityStatus(row.status),
                row.suggested_nik,
                row.probability,
                _new_village(row.details),
            )
        )
    return findings


async def _earlier_proposals(conn: AsyncConnection, run_id: int, findings: list[Finding]) -> dict[int, int]:
    """member id → the proposal an earlier run's same outcome became, if it still answers for it."""
    if not findings:
        return {}
    this, earlier = CHECKS.alias("this_check"), CHECKS.alias("earlier_check")
    rows = await conn.execute(
        select(earlier.c.member_id, earlier.c.status, earlier.c.suggested_nik, earlier.c.details, PROPOSALS.c.id)
        .select_from(
            this.join(
                earlier,
                and_(
                    earlier.c.member_id == this.c.member_id,
                    earlier.c.source == this.c.source,
                    earlier.c.run_id != this.c.run_id,
                    earlier.c.proposal_id.is_not(None),
                ),
            ).join(PROPOSALS, PROPOSALS.c.id == earlier.c.proposal_id)
        )
        .where(
            this.c.run_id == run_id,
            this.c.source == Source.ADMINDUK.value,
            this.c.status.in_([status.value for status in PROPOSED_OUTCOMES]),
            PROPOSALS.c.status.in_(STILL_ANSWERS),
        )
        .order_by(PROPOSALS.c.id)
    )
    by_member = {finding.member_id: finding for finding in findings}
    covered: dict[int, int] = {}
    for row in rows:
        finding = by_member.get(row.member_id)
        if finding is not None and _same(finding, row.status, row.suggested_nik, row.details):
            covered[row.member_id] = row.id  # the latest such proposal wins (ordered by id)
    return covered


async def _link(conn: AsyncConnection, run_id: int, member_ids: list[int], proposal_id: int) -> None:
    await conn.execute(
        update(CHECKS)
        .where(
            CHECKS.c.run_id == run_id,
            CHECKS.c.source == Source.ADMINDUK.value,
            CHECKS.c.member_id.in_(member_ids),
        )
        .values(proposal_id=proposal_id)
    )


@dataclass(slots=True)
class _Plan:
    """What one household's proposal will ask for, and the words of its note."""

    household: dict[str, Any] = field(default_factory=dict)
    changes: dict[int, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    removals: dict[int, RemovalReason] = field(default_factory=dict)
    used: list[int] = field(default_factory=list)  # member ids whose outcome the proposal answers
    words: list[str] = field(default_factory=list)


def _new_head(members: list[Any]) -> Any:
    spouses = [m for m in members if m.relationship == Relationship.SPOUSE.value]
    return spouses[0] if spouses else min(members, key=lambda m: (m.birth_date, m.id))


async def _plan(conn: AsyncConnection, household: Any, findings: list[Finding], result: Proposed) -> _Plan:
    plan = _Plan()
    members = {m.id: m for m in household.members}
    present = [f for f in findings if f.member_id in members]
    result.not_active += len(findings) - len(present)
    deceased = {f.member_id for f in present if f.status is IdentityStatus.DECEASED}
    # A move without a new village (the civil registry did not say where) removes the member.
    moved = {
        f.member_id: f.new_village
        for f in present
        if f.status is IdentityStatus.MOVED and f.new_village != household.village_code
    }
    head = next((m for m in household.members if m.relationship == Relationship.HEAD.value), None)
    living = [member_id for member_id in members if member_id not in deceased]
    destination: str | None = None
    if head is not None and head.id not in deceased and moved.get(head.id):
        destination = moved[head.id]
    elif living and all(member_id in moved for member_id in living) and len({moved[i] for i in living}) == 1:
        destination = moved[living[0]]
    for member_id in sorted(deceased):
        plan.removals[member_id] = RemovalReason.DECEASED
        plan.used.append(member_id)
        plan.words.append(f"member {member_id} deceased")
    if destination is not None:
        plan.household = {"village_code": destination, "latitude": None, "longitude": None}
        plan.words.append("household moved to another village")
    for member_id, village in sorted(moved.items(), key=lambda item: item[0]):
        if member_id in deceased:
            continue
        plan.used.append(member_id)
        if destination is None or village != destination:
            plan.removals[member_id] = RemovalReason.MOVED
            plan.words.append(f"member {member_id} moved away")
    suggested = [f for f in present if f.status is IdentityStatus.NIK_SUGGESTED and f.suggested_nik]
    threshold = get_settings().identity_nik_min_probability
    wanted = []
    for finding in suggested:
        if (finding.probability or 0.0) < threshold:
            result.below_probability += 1
        elif finding.suggested_nik != members[finding.member_id].nik:
            wanted.append(finding)
    taken = await niks_active_elsewhere(conn, [f.suggested_nik for f in wanted], household.id) if wanted else set()
    for finding in wanted:
        if finding.suggested_nik in taken:
            result.nik_taken += 1
            continue
        plan.changes[finding.member_id]["nik"] = finding.suggested_nik
        plan.used.append(finding.member_id)
        plan.words.append(f"NIK of member {finding.member_id} corrected")
    remaining = [m for m in household.members if m.id not in plan.removals]
    if remaining and head is not None and head.id in plan.removals:
        successor = _new_head(remaining)
        plan.changes[successor.id]["relationship"] = Relationship.HEAD
        plan.words.append(f"member {successor.id} proposed as head")
    return plan


def _note(run_id: int, words: list[str]) -> str:
    note = f"From identity check run {run_id} (Adminduk): " + "; ".join(words)
    return note if len(note) <= NOTE_LIMIT else note[: NOTE_LIMIT - 1] + "…"


async def _propose_household(
    engine: AsyncEngine,
    request: RequestInfo,
    run_id: int,
    household_id: int,
    findings: list[Finding],
    covered: dict[int, int],
    result: Proposed,
) -> None:
    async with write_transaction(engine) as conn:
        household = await household_by_id(conn, household_id, Include(members=True, region=False))
        if household is None or household.status != RecordStatus.ACTIVE.value:
            result.not_active += len(findings)
            return
        answered = [f for f in findings if f.member_id in covered]
        for finding in answered:
            await _link(conn, run_id, [finding.member_id], covered[finding.member_id])
        result.already_proposed += len(answered)
        findings = [f for f in findings if f.member_id not in covered]
        if not findings:
            return
        if await open_proposal_of(conn, household_id) is not None:
            result.open_proposal += 1
            return
        plan = await _plan(conn, household, findings, result)
        if not plan.used:
            return
        note = _note(run_id, plan.words)
        if len(plan.removals) == len(household.members):
            all_deceased = all(reason is RemovalReason.DECEASED for reason in plan.removals.values())
            reason = HouseholdRemovalReason.DECEASED if all_deceased else HouseholdRemovalReason.MOVED
            note = _note(run_id, [*plan.words, "no member remains: household removal proposed"])
            made = await propose_removal(conn, request, household_id, household.version, reason, note)
        else:
            change = ChangeRequest(
                household=plan.household,
                member_changes=[MemberChange(member_id, values) for member_id, values in plan.changes.items()],
                removed_members=[MemberRemoval(member_id, reason) for member_id, reason in plan.removals.items()],
            )
            made = await propose_change(conn, request, household_id, household.version, change, note)
        if isinstance(made, Invalid):
            result.refused += 1
            result.refusals.append(f"household {household_id}: " + "; ".join(e.message for e in made.errors))
            return
        if not hasattr(made, "id"):  # Conflict or Missing: the household changed while we read it
            result.refused += 1
            result.refusals.append(f"household {household_id}: changed while the proposal was made; run again")
            return
        await _link(conn, run_id, plan.used, made.id)
        result.proposals += 1
        if len(plan.removals) == len(household.members):
            result.household_removals += 1
        else:
            result.household_moves += 1 if plan.household else 0
            result.deceased_removals += sum(r is RemovalReason.DECEASED for r in plan.removals.values())
            result.moved_removals += sum(r is RemovalReason.MOVED for r in plan.removals.values())
            result.nik_corrections += sum("nik" in values for values in plan.changes.values())


def data_centre_request(by: str) -> RequestInfo:
    """The caller a run's proposals are made as: the national data centre, named ``by``."""
    return RequestInfo(Principal(username=by[:64], role="data_centre", scope=""), client="identity")


async def propose_from_run(
    engine: AsyncEngine, run_id: int, *, by: str, request: RequestInfo | None = None
) -> Proposed | Invalid | Missing:
    """Turn run ``run_id``'s Adminduk discrepancies into proposals (module docstring); returns the counts.

    ``by`` names who asked (the proposals' creator); ``request`` defaults to the national data centre
    acting as ``by``. A run that is missing, not a check run or not completed is refused, nothing written.
    """
    request = request or data_centre_request(by)
    result = Proposed(run_id)
    async with engine.connect() as conn:
        refused = await _run_refusal(conn, run_id)
        if refused is not None:
            return refused
        findings = await _findings(conn, run_id, result)
        covered = await _earlier_proposals(conn, run_id, findings)
    per_household: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        per_household[finding.household_id].append(finding)
    for household_id in sorted(per_household):
        await _propose_household(engine, request, run_id, household_id, per_household[household_id], covered, result)
    async with write_transaction(engine) as conn:
        await record(
            conn,
            request,
            operation="identity:propose",
            entity="identity_run",
            entity_id=run_id,
            after=result.counts(),
        )
    return result
