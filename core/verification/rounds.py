"""Verification rounds: a period and a set of regions, with a prelist per village of the households due.

The prelist is made once, set-based (one INSERT … SELECT), when the round is created: every active
household in the round's regions, or only those without a ``found`` visit since a given date. It
keeps each household's version at that moment, so an offline package can tell later whether the
household changed online meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, make_dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import BigInteger, and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo, record
from core.foundation.enums import RecordStatus, VerificationRoundStatus, VisitOutcome
from core.foundation.ids import ids
from core.foundation.refusals import FieldError, Invalid, Missing
from core.models import RoundHousehold, RoundRegion, VerificationRound, Visit
from core.programs.periods import PeriodError, PeriodKind, parse_period
from core.regions.codes import is_region_code, region_within, within
from core.regions.queries import existing_codes
from core.storage.keyset import Slice, Window, settle
from core.storage.records import HOUSEHOLDS

ROUNDS = VerificationRound.__table__
ROUND_REGIONS = RoundRegion.__table__
PRELIST = RoundHousehold.__table__
VISITS = Visit.__table__
MAX_REGIONS = 100
OPEN, CLOSED = (status.value for status in VerificationRoundStatus)


RoundRecord: Any = make_dataclass(
    "RoundRecord",
    [*((c.name, Any) for c in ROUNDS.columns), ("regions", list, field(default_factory=list))],
    slots=True,
)


def _record(row: Any, regions: list[str]) -> Any:
    return RoundRecord(*row, regions=regions)


def period_errors(period: str) -> list[FieldError]:
    for kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR):
        try:
            parse_period(period, kind)
            return []
        except PeriodError:
            continue
    return [FieldError("period", f"period '{period[:20]}' is not YYYY-MM, YYYY-Qn or YYYY, e.g. 2026-Q1")]


async def _region_errors(conn: AsyncConnection, codes: Sequence[str], scope: str) -> list[FieldError]:
    if not codes:
        return [FieldError("regionCodes", "give at least one region for the round")]
    if len(codes) > MAX_REGIONS:
        return [FieldError("regionCodes", f"at most {MAX_REGIONS} regions a round; {len(codes)} were given")]
    errors = []
    malformed = [c for c in codes if not is_region_code(c)]
    known = await existing_codes(conn, [c for c in codes if c not in malformed])
    for index, code in enumerate(codes):
        if code in malformed:
            errors.append(FieldError(f"regionCodes.{index}", f"'{code[:20]}' is not a region code such as 32.01"))
        elif code not in known or not region_within(code, scope):
            errors.append(FieldError(f"regionCodes.{index}", f"region {code} does not exist in your region"))
    return errors


async def create_round(
    conn: AsyncConnection,
    request: RequestInfo,
    period: str,
    label: str,
    region_codes: Sequence[str],
    not_visited_since: date | None = None,
) -> Any:
    """Open a round over ``region_codes`` (each within the caller's scope) and make its prelist."""
    codes = list(dict.fromkeys(region_codes))
    errors = period_errors(period)
    if not label.strip() or len(label) > 120:
        errors.append(FieldError("label", "label must be 1 to 120 characters"))
    if not_visited_since is not None and not_visited_since > datetime.now(UTC).date():
        errors.append(FieldError("notVisitedSince", "notVisitedSince cannot be in the future"))
    errors += await _region_errors(conn, codes, request.principal.scope)
    if errors:
        return Invalid(errors)
    round_id, at = ids.next_id(), datetime.now(UTC)
    await conn.execute(
        insert(ROUNDS).values(
            id=round_id,
            period=period,
            label=label,
            status=OPEN,
            not_visited_since=not_visited_since,
            households=0,
            created_by=request.principal.username[:64],
            created_at=at,
        )
    )
    await conn.execute(insert(ROUND_REGIONS), [{"round_id": round_id, "region_code": c} for c in codes])
    due = [
        HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value,
        or_(*(within(HOUSEHOLDS.c.village_code, c) for c in codes)),
    ]
    if not_visited_since is not None:
        since = datetime.combine(not_visited_since, time.min, tzinfo=UTC)
        due.append(
            ~exists().where(
                VISITS.c.household_id == HOUSEHOLDS.c.id,
                VISITS.c.outcome == VisitOutcome.FOUND.value,
                VISITS.c.visited_at >= since,
            )
        )
    added = await conn.execute(
        insert(PRELIST).from_select(
            ["round_id", "household_id", "village_code", "household_version"],
            select(
                literal(round_id, BigInteger), HOUSEHOLDS.c.id, HOUSEHOLDS.c.village_code, HOUSEHOLDS.c.version
            ).where(*due),
        )
    )
    await conn.execute(update(ROUNDS).where(ROUNDS.c.id == round_id).values(households=added.rowcount))
    await record(
        conn,
        request,
        operation="createVerificationRound",
        entity="verification_round",
        entity_id=round_id,
        after={"period": period, "label": label, "regions": codes, "households": added.rowcount},
    )
    found = await round_by_id(conn, round_id)
    assert found is not None
    return found


async def round_by_id(conn: AsyncConnection, round_id: int) -> Any:
    row = (await conn.execute(select(ROUNDS).where(ROUNDS.c.id == round_id))).first()
    if row is None:
        return None
    regions = await conn.execute(
        select(ROUND_REGIONS.c.region_code)
        .where(ROUND_REGIONS.c.round_id == round_id)
        .order_by(ROUND_REGIONS.c.region_code)
    )
    return _record(row, list(regions.scalars()))


def _overlaps(scope: str) -> Any:
    """Rounds with a region inside ``scope`` or containing it."""
    inside = within(ROUND_REGIONS.c.region_code, scope)
    contains = within(literal(scope), ROUND_REGIONS.c.region_code)
    return exists().where(ROUND_REGIONS.c.round_id == ROUNDS.c.id, or_(inside, contains))


async def visible_round(conn: AsyncConnection, round_id: int, scope: str) -> Any:
    """The round if it touches the caller's region; Missing otherwise (as if it did not exist)."""
    found = await round_by_id(conn, round_id)
    if found is None or (scope and not any(_related(code, scope) for code in found.regions)):
        return Missing("verification round", str(round_id))
    return found


async def visible_rounds(conn: AsyncConnection, round_ids: Sequence[int], scope: str) -> dict[int, Any]:
    """The rounds by id that touch the caller's region (as ``visible_round``); two statements."""
    if not round_ids:
        return {}
    wanted = list(set(round_ids))
    rows = list(await conn.execute(select(ROUNDS).where(ROUNDS.c.id.in_(wanted))))
    regions: dict[int, list[str]] = {row.id: [] for row in rows}
    if rows:
        found = await conn.execute(
            select(ROUND_REGIONS.c.round_id, ROUND_REGIONS.c.region_code)
            .where(ROUND_REGIONS.c.round_id.in_(list(regions)))
            .order_by(ROUND_REGIONS.c.region_code)
        )
        for round_id, code in found:
            regions[round_id].append(code)
    records = (_record(row, regions[row.id]) for row in rows)
    return {r.id: r for r in records if not scope or any(_related(code, scope) for code in r.regions)}


def _related(code: str, scope: str) -> bool:
    return region_within(code, scope) or region_within(scope, code)


async def list_rounds(conn: AsyncConnection, scope: str, limit: int = 100) -> list[Any]:
    query = select(ROUNDS).order_by(ROUNDS.c.created_at.desc()).limit(limit)
    if scope:
        query = query.where(_overlaps(scope))
    rows = list(await conn.execute(query))
    if not rows:
        return []
    regions: dict[int, list[str]] = {row.id: [] for row in rows}
    for round_id, code in await conn.execute(
        select(ROUND_REGIONS.c.round_id, ROUND_REGIONS.c.region_code)
        .where(ROUND_REGIONS.c.round_id.in_(list(regions)))
        .order_by(ROUND_REGIONS.c.region_code)
    ):
        regions[round_id].append(code)
    return [_record(row, regions[row.id]) for row in rows]


async def close_round(conn: AsyncConnection, request: RequestInfo, round_id: int) -> Any:
    found = await visible_round(conn, round_id, request.principal.scope)
    if isinstance(found, Missing):
        return found
    if found.status == CLOSED:
        return Invalid([FieldError("id", f"round {round_id} is already closed")])
    await conn.execute(update(ROUNDS).where(ROUNDS.c.id == round_id, ROUNDS.c.status == OPEN).values(status=CLOSED))
    await record(conn, request, operation="closeVerificationRound", entity="verification_round", entity_id=round_id)
    closed = await round_by_id(conn, round_id)
    assert closed is not None
    return closed


async def prelist_page(
    conn: AsyncConnection, round_id: int, village_code: str, scope: str, window: Window
) -> tuple[Slice, int]:
    """One page of a village's prelist in household id order (either direction), and the village's total: rows of
    (household_id, version at prelist, visit id)."""
    conditions = [PRELIST.c.round_id == round_id, PRELIST.c.village_code == village_code]
    if scope:
        conditions.append(within(PRELIST.c.village_code, scope))
    total = (await conn.execute(select(func.count()).select_from(PRELIST).where(*conditions))).scalar_one()
    query = window.apply(
        select(PRELIST.c.household_id, PRELIST.c.household_version, VISITS.c.id.label("visit_id"))
        .select_from(
            PRELIST.outerjoin(
                VISITS, and_(VISITS.c.round_id == PRELIST.c.round_id, VISITS.c.household_id == PRELIST.c.household_id)
            )
        )
        .where(*conditions),
        PRELIST.c.household_id,
    )
    return settle(window, list(await conn.execute(query))), int(total)
