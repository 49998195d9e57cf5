"""Determination (penetapan): the national data centre applies every proposal approved to the top
to the registry, in one transaction, creating an immutable DTKS edition.

Set-based throughout: the batch is claimed with one UPDATE, conflicts are flagged with one UPDATE
per rule, and each kind of proposal is applied with one INSERT … SELECT or UPDATE … FROM, so the
cost does not grow with a statement per proposal. A proposal whose household changed since it was
made, or whose KK or NIK has been taken meanwhile, is flagged ``conflict`` with a reason and not
applied. Every household written records the edition (``determined_edition_id``), and every change
its DCI event (``core.dci.events``), set-based too.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo, record
from core.dci.events import Event, EventKind, record_event, record_selected
from core.foundation.enums import (
    HouseholdRemovalReason,
    MemberStatus,
    ProposalKind,
    ProposalStatus,
    RecordStatus,
    VerificationLevel,
)
from core.foundation.ids import ids
from core.foundation.refusals import FieldError, Invalid
from core.models import (
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_VALUE_COLUMNS,
    PROPOSED_HOUSEHOLDS,
    PROPOSED_MEMBERS,
    DtksEdition,
    EditionCount,
)
from core.models.types import TIMESTAMP
from core.programs.periods import PeriodError, PeriodKind, parse_period
from core.storage.locks import queue_behind
from core.storage.records import HOUSEHOLDS, MEMBERS
from core.verification.drafts import PROPOSALS
from core.verification.proposals import STEPS, now

EDITIONS = DtksEdition.__table__
EDITION_COUNTS = EditionCount.__table__
EditionRecord: Any = make_dataclass("EditionRecord", [(c.name, Any) for c in EDITIONS.columns], slots=True)
#: PostgreSQL advisory lock held by a determination for its transaction: determinations queue.
DETERMINATION_LOCK = 0x5349_4B53_0005
PENDING = ProposalStatus.PENDING.value
ACTIVE = RecordStatus.ACTIVE.value

#: The member status a household removal leaves its active members in.
MEMBER_STATUS_AFTER = {
    HouseholdRemovalReason.DECEASED: MemberStatus.DECEASED,
    HouseholdRemovalReason.MOVED: MemberStatus.MOVED,
    HouseholdRemovalReason.DUPLICATE: MemberStatus.DUPLICATE,
    HouseholdRemovalReason.NO_LONGER_POOR: MemberStatus.DELISTED,
    HouseholdRemovalReason.NOT_FOUND: MemberStatus.DELISTED,
}

CONFLICT_REASONS = {
    "changed": "the household changed (or left the registry) after the proposal was made; propose again from it",
    "kk_taken": "the proposed KK number is now registered to another active household",
    "kk_twice": "another proposal in this determination proposes the same KK number",
    "nik_taken": "a proposed NIK is now a member of another active household",
    "nik_twice": "another proposal in this determination proposes the same NIK",
}


@dataclass(frozen=True, slots=True)
class Determined:
    edition: Any  # EditionRecord
    conflicts: dict[str, int]  # reason key → proposals flagged


def _in_batch(edition_id: int, *kinds: ProposalKind) -> Any:
    conditions = [PROPOSALS.c.edition_id == edition_id, PROPOSALS.c.status == PENDING]
    if kinds:
        conditions.append(PROPOSALS.c.kind.in_([k.value for k in kinds]))
    return and_(*conditions)


async def _flag(conn: AsyncConnection, edition_id: int, reason: str, condition: Any, *kinds: ProposalKind) -> int:
    result = await conn.execute(
        update(PROPOSALS)
        .where(_in_batch(edition_id, *kinds), condition)
        .values(status=ProposalStatus.CONFLICT.value, conflict_reason=CONFLICT_REASONS[reason])
    )
    return int(result.rowcount)


async def _flag_conflicts(conn: AsyncConnection, edition_id: int) -> dict[str, int]:
    """Flag the proposals that cannot be applied as they are; the rest stay pending."""
    h, ph, pm = HOUSEHOLDS.alias("h"), PROPOSED_HOUSEHOLDS.alias("ph"), PROPOSED_MEMBERS.alias("pm")
    m, other_ph, other_pm, other = (
        MEMBERS.alias("m"),
        PROPOSED_HOUSEHOLDS.alias("oph"),
        PROPOSED_MEMBERS.alias("opm"),
        PROPOSALS.alias("op"),
    )
    counts: dict[str, int] = {}
    unchanged = exists().where(
        h.c.id == PROPOSALS.c.household_id, h.c.status == ACTIVE, h.c.version == PROPOSALS.c.based_on_version
    )
    counts["changed"] = await _flag(conn, edition_id, "changed", ~unchanged, ProposalKind.CHANGE, ProposalKind.REMOVAL)
    writes = (ProposalKind.NEW_HOUSEHOLD, ProposalKind.CHANGE)
    kk_taken = exists().where(
        ph.c.proposal_id == PROPOSALS.c.id,
        h.c.kk_number == ph.c.kk_number,
        h.c.status == ACTIVE,
        h.c.id != ph.c.household_id,
    )
    counts["kk_taken"] = await _flag(conn, edition_id, "kk_taken", kk_taken, *writes)
    kk_twice = exists().where(
        ph.c.proposal_id == PROPOSALS.c.id,
        other_ph.c.kk_number == ph.c.kk_number,
        other_ph.c.proposal_id < ph.c.proposal_id,
        other.c.id == other_ph.c.proposal_id,
        other.c.edition_id == edition_id,
        other.c.status == PENDING,
        other.c.kind.in_([k.value for k in writes]),
    )
    counts["kk_twice"] = await _flag(conn, edition_id, "kk_twice", kk_twice, *writes)
    nik_taken = exists().where(
        pm.c.proposal_id == PROPOSALS.c.id,
        pm.c.status == ACTIVE,
        m.c.nik == pm.c.nik,
        m.c.status == ACTIVE,
        m.c.household_id != PROPOSALS.c.household_id,
    )
    counts["nik_taken"] = await _flag(conn, edition_id, "nik_taken", nik_taken, *writes)
    nik_twice = exists().where(
        pm.c.proposal_id == PROPOSALS.c.id,
        pm.c.status == ACTIVE,
        other_pm.c.nik == pm.c.nik,
        other_pm.c.status == ACTIVE,
        other_pm.c.proposal_id < pm.c.proposal_id,
        other.c.id == other_pm.c.proposal_id,
        other.c.edition_id == edition_id,
        other.c.status == PENDING,
    )
    counts["nik_twice"] = await _flag(conn, edition_id, "nik_twice", nik_twice, *writes)
    return counts


def _batch_proposals(edition_id: int, kind: ProposalKind) -> Any:
    return select(PROPOSALS.c.id).where(_in_batch(edition_id, kind))


async def _insert_members(conn: AsyncConnection, edition_id: int, kind: ProposalKind, at: Any) -> None:
    pm = PROPOSED_MEMBERS
    names = list(MEMBER_VALUE_COLUMNS)
    await conn.execute(
        insert(MEMBERS).from_select(
            ["id", "household_id", *names, "status", "version", "created_at", "updated_at"],
            select(
                pm.c.member_id,
                PROPOSALS.c.household_id,
                *(pm.c[name] for name in names),
                pm.c.status,
                literal(1, Integer),
                literal(at, TIMESTAMP),
                literal(at, TIMESTAMP),
            )
            .select_from(pm.join(PROPOSALS, PROPOSALS.c.id == pm.c.proposal_id))
            .where(_in_batch(edition_id, kind), pm.c.is_new.is_(True)),
        )
    )


async def _apply_new_households(conn: AsyncConnection, edition_id: int, at: Any) -> None:
    ph = PROPOSED_HOUSEHOLDS
    names = list(HOUSEHOLD_VALUE_COLUMNS)
    kind = ProposalKind.NEW_HOUSEHOLD
    await conn.execute(
        insert(HOUSEHOLDS).from_select(
            ["id", *names, "status", "version", "created_at", "updated_at", "determined_edition_id"],
            select(
                ph.c.household_id,
                *(ph.c[name] for name in names),
                literal(ACTIVE, String),
                literal(1, Integer),
                literal(at, TIMESTAMP),
                literal(at, TIMESTAMP),
                literal(edition_id, BigInteger),
            ).where(ph.c.proposal_id.in_(_batch_proposals(edition_id, kind))),
        )
    )
    await _insert_members(conn, edition_id, kind, at)


async def _apply_changes(conn: AsyncConnection, edition_id: int, at: Any) -> None:
    ph, pm = PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS
    kind = ProposalKind.CHANGE
    await conn.execute(
        update(HOUSEHOLDS)
        .where(HOUSEHOLDS.c.id == ph.c.household_id, ph.c.proposal_id.in_(_batch_proposals(edition_id, kind)))
        .values(
            {name: ph.c[name] for name in HOUSEHOLD_VALUE_COLUMNS}
            | {"version": HOUSEHOLDS.c.version + 1, "updated_at": at, "determined_edition_id": edition_id}
        )
    )
    await conn.execute(
        update(MEMBERS)
        .where(
            MEMBERS.c.id == pm.c.member_id,
            pm.c.is_new.is_(False),
            pm.c.proposal_id.in_(_batch_proposals(edition_id, kind)),
        )
        .values(
            {name: pm.c[name] for name in MEMBER_VALUE_COLUMNS}
            | {"status": pm.c.status, "version": MEMBERS.c.version + 1, "updated_at": at}
        )
    )
    await _insert_members(conn, edition_id, kind, at)


async def _apply_removals(conn: AsyncConnection, edition_id: int, at: Any) -> None:
    removed = select(PROPOSALS.c.household_id).where(_in_batch(edition_id, ProposalKind.REMOVAL))
    # UPDATE … FROM the batch's removals: each proposal finds its members by the household index
    # (a correlated subquery per member scanned the whole batch for every member).
    status_after = case({r.value: s.value for r, s in MEMBER_STATUS_AFTER.items()}, value=PROPOSALS.c.removal_reason)
    await conn.execute(
        update(MEMBERS)
        .where(
            MEMBERS.c.household_id == PROPOSALS.c.household_id,
            _in_batch(edition_id, ProposalKind.REMOVAL),
            MEMBERS.c.status == ACTIVE,
        )
        .values(status=status_after, version=MEMBERS.c.version + 1, updated_at=at)
    )
    await conn.execute(
        update(HOUSEHOLDS)
        .where(HOUSEHOLDS.c.id.in_(removed))
        .values(
            status=RecordStatus.INACTIVE.value,
            version=HOUSEHOLDS.c.version + 1,
            updated_at=at,
            determined_edition_id=edition_id,
        )
    )


def _none() -> Any:
    return literal(None, BigInteger)


async def _record_events_before(conn: AsyncConnection, edition_id: int, at: Any) -> None:
    """The DCI events of changes and removals, read before they are applied: members who die, the
    village a household leaves (``core.dci.events``)."""
    ph, pm, h, m = PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS, HOUSEHOLDS, MEMBERS
    removal, change = ProposalKind.REMOVAL, ProposalKind.CHANGE
    dying_with_household = (
        select(
            m.c.household_id,
            m.c.id.label("member_id"),
            _none().label("edition_id"),
            m.c.nik.label("identifier"),
            h.c.village_code,
        )
        .select_from(
            m.join(PROPOSALS, PROPOSALS.c.household_id == m.c.household_id).join(h, h.c.id == m.c.household_id)
        )
        .where(
            _in_batch(edition_id, removal),
            PROPOSALS.c.removal_reason == HouseholdRemovalReason.DECEASED.value,
            m.c.status == ACTIVE,
        )
    )
    dying_in_change = (
        select(
            m.c.household_id,
            m.c.id.label("member_id"),
            _none().label("edition_id"),
            m.c.nik.label("identifier"),
            ph.c.village_code,
        )
        .select_from(
            pm.join(PROPOSALS, PROPOSALS.c.id == pm.c.proposal_id)
            .join(ph, ph.c.proposal_id == pm.c.proposal_id)
            .join(m, m.c.id == pm.c.member_id)
        )
        .where(
            _in_batch(edition_id, change),
            pm.c.is_new.is_(False),
            pm.c.status == MemberStatus.DECEASED.value,
            m.c.status != MemberStatus.DECEASED.value,
        )
    )
    await record_selected(conn, EventKind.MEMBER_DECEASED, dying_with_household.union_all(dying_in_change), at=at)
    changed = (
        select(
            ph.c.household_id,
            _none().label("member_id"),
            _none().label("edition_id"),
            ph.c.kk_number.label("identifier"),
            ph.c.village_code,
            case((h.c.village_code != ph.c.village_code, h.c.village_code), else_=None).label("moved_from"),
        )
        .select_from(ph.join(PROPOSALS, PROPOSALS.c.id == ph.c.proposal_id).join(h, h.c.id == ph.c.household_id))
        .where(_in_batch(edition_id, change))
    )
    await record_selected(conn, EventKind.HOUSEHOLD_CHANGED, changed, at=at)
    removed = (
        select(
            h.c.id.label("household_id"),
            _none().label("member_id"),
            _none().label("edition_id"),
            h.c.kk_number.label("identifier"),
            h.c.village_code,
        )
        .select_from(h.join(PROPOSALS, PROPOSALS.c.household_id == h.c.id))
        .where(_in_batch(edition_id, removal))
    )
    await record_selected(conn, EventKind.HOUSEHOLD_REMOVED, removed, at=at)


async def _record_registrations(conn: AsyncConnection, edition_id: int, label: str, at: Any) -> None:
    """The DCI events of the households the edition added, and of the edition itself."""
    ph = PROPOSED_HOUSEHOLDS
    registered = select(
        ph.c.household_id,
        _none().label("member_id"),
        _none().label("edition_id"),
        ph.c.kk_number.label("identifier"),
        ph.c.village_code,
    ).where(ph.c.proposal_id.in_(_batch_proposals(edition_id, ProposalKind.NEW_HOUSEHOLD)))
    await record_selected(conn, EventKind.HOUSEHOLD_REGISTERED, registered, at=at)
    await record_event(conn, Event(EventKind.EDITION_DETERMINED, edition_id=edition_id, identifier=label))


async def _write_steps(conn: AsyncConnection, request: RequestInfo, edition_id: int, label: str, at: Any) -> None:
    batch = select(func.count()).where(PROPOSALS.c.edition_id == edition_id)
    block = ids.reserve(int((await conn.execute(batch)).scalar_one()))
    ordinal = func.row_number().over() - 1  # step ids need only be distinct: no sort
    applied = PROPOSALS.c.status == ProposalStatus.DETERMINED.value
    national = literal(VerificationLevel.NATIONAL.value, String)
    principal = request.principal
    await conn.execute(
        insert(STEPS).from_select(
            ["id", "proposal_id", "action", "level", "to_stage", "actor", "role", "note", "at"],
            select(
                block.sql(ordinal),
                PROPOSALS.c.id,
                case((applied, literal("determine", String)), else_=literal("conflict", String)),
                national,
                national,
                literal(principal.username[:64], String),
                literal(principal.role[:32], String),
                func.coalesce(PROPOSALS.c.conflict_reason, literal(f"determined in DTKS edition {label}", String)),
                literal(at, TIMESTAMP),
            ).where(PROPOSALS.c.edition_id == edition_id),
        )
    )


async def _count_by_kind(conn: AsyncConnection, edition_id: int) -> dict[str, int]:
    rows = await conn.execute(
        select(PROPOSALS.c.kind, func.count())
        .where(PROPOSALS.c.edition_id == edition_id, PROPOSALS.c.status == ProposalStatus.DETERMINED.value)
        .group_by(PROPOSALS.c.kind)
    )
    return {kind: int(count) for kind, count in rows}


async def _write_edition(
    conn: AsyncConnection,
    edition_id: int,
    label: str,
    period: str,
    actor: str,
    at: Any,
    applied: dict[str, int],
    conflicts: int,
) -> EditionRecord:
    members_per_household = (
        select(MEMBERS.c.household_id, func.count().label("members"))
        .where(MEMBERS.c.status == ACTIVE)
        .group_by(MEMBERS.c.household_id)
        .subquery("per_household")
    )
    per_village = (
        select(
            HOUSEHOLDS.c.village_code,
            func.count().label("households"),
            func.coalesce(func.sum(members_per_household.c.members), 0).label("members"),
        )
        .select_from(
            HOUSEHOLDS.outerjoin(members_per_household, members_per_household.c.household_id == HOUSEHOLDS.c.id)
        )
        .where(HOUSEHOLDS.c.status == ACTIVE)
        .group_by(HOUSEHOLDS.c.village_code)
        .subquery("per_village")
    )
    totals = (
        await conn.execute(
            select(
                func.coalesce(func.sum(per_village.c.households), 0), func.coalesce(func.sum(per_village.c.members), 0)
            )
        )
    ).one()
    await conn.execute(
        insert(EDITIONS).values(
            id=edition_id,
            label=label,
            period=period,
            determined_at=at,
            determined_by=actor[:64],
            additions=applied.get(ProposalKind.NEW_HOUSEHOLD.value, 0),
            changes=applied.get(ProposalKind.CHANGE.value, 0),
            removals=applied.get(ProposalKind.REMOVAL.value, 0),
            conflicts=conflicts,
            households=int(totals[0]),
            members=int(totals[1]),
        )
    )
    await conn.execute(
        insert(EDITION_COUNTS).from_select(
            ["edition_id", "village_code", "households", "members"],
            select(
                literal(edition_id, BigInteger),
                per_village.c.village_code,
                per_village.c.households,
                per_village.c.members,
            ),
        )
    )
    row = (await conn.execute(select(EDITIONS).where(EDITIONS.c.id == edition_id))).one()
    return EditionRecord(*row)


async def _check(conn: AsyncConnection, request: RequestInfo, label: str, period: str) -> list[FieldError]:
    errors = []
    if request.principal.scope:
        errors.append(FieldError("scope", "only the national data centre (national scope) determines DTKS editions"))
    if not label.strip() or len(label) > 64:
        errors.append(FieldError("label", "label must be 1 to 64 characters, e.g. DTKS 2026-12"))
    elif (await conn.execute(select(EDITIONS.c.id).where(EDITIONS.c.label == label))).first() is not None:
        errors.append(FieldError("label", f"a DTKS edition is already labelled '{label}'; choose another label"))
    try:
        parse_period(period, PeriodKind.MONTH)
    except PeriodError as exc:
        errors.append(FieldError("period", str(exc)))
    return errors


async def determine(conn: AsyncConnection, request: RequestInfo, label: str, period: str) -> Determined | Invalid:
    """Apply every proposal waiting at the national level as DTKS edition ``label`` for ``period`` (YYYY-MM)."""
    await queue_behind(conn, DETERMINATION_LOCK)
    errors = await _check(conn, request, label, period)
    if errors:
        return Invalid(errors)
    edition_id, at = ids.next_id(), now()
    claimed = await conn.execute(
        update(PROPOSALS)
        .where(PROPOSALS.c.stage == VerificationLevel.NATIONAL.value, PROPOSALS.c.status == PENDING)
        .values(edition_id=edition_id, updated_at=at)
    )
    if claimed.rowcount == 0:
        return Invalid([FieldError("proposals", "nothing to determine: no proposal has been approved by a province")])
    conflicts = await _flag_conflicts(conn, edition_id)
    await _record_events_before(conn, edition_id, at)
    await _apply_removals(conn, edition_id, at)
    await _apply_changes(conn, edition_id, at)
    await _apply_new_households(conn, edition_id, at)
    await _record_registrations(conn, edition_id, label, at)
    await conn.execute(update(PROPOSALS).where(_in_batch(edition_id)).values(status=ProposalStatus.DETERMINED.value))
    await _write_steps(conn, request, edition_id, label, at)
    applied = await _count_by_kind(conn, edition_id)
    edition = await _write_edition(
        conn, edition_id, label, period, request.principal.username, at, applied, sum(conflicts.values())
    )
    await record(
        conn,
        request,
        operation="determineDtks",
        entity="dtks_edition",
        entity_id=edition_id,
        after={"label": label, "period": period, **applied, "conflicts": conflicts},
    )
    return Determined(edition, {k: v for k, v in conflicts.items() if v})
