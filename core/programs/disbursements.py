"""Payment status from the channels (post office, KKS bank, transfer), and reconciliation.

Updates arrive by disbursement reference, through the API or as a CSV from the channel. A
reference names its payment (``PKH-2026Q1-<enrollment id>-<stage>``): it is looked up by that
enrollment and stage, the table's one unique key besides the id, and must match exactly. A batch
is checked whole first — unknown references, repeated references, statuses a payment cannot
move to — and refused whole with every problem listed; otherwise it is applied in one
transaction. Sending the same status again changes nothing, so a channel may resend a file.

A payment moves: pending → released (when its cycle is approved) → disbursed | failed |
returned; a failed payment may still be disbursed on a retry; a disbursed one may be returned.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import PaymentStatus
from core.foundation.refusals import FieldError
from core.models import Disbursement
from core.regions.codes import within

DISBURSEMENTS = Disbursement.__table__
CHANNEL_STATUSES = tuple(status.value for status in PaymentStatus)
ALLOWED_FROM: dict[str, set[str]] = {
    "disbursed": {"released", "failed"},
    "failed": {"released"},
    "returned": {"released", "disbursed"},
}
MAX_BATCH = 100_000
#: ``<program>-<period>-<enrollment id>-<stage>``: the last two parts say which payment it names.
_PAYMENT = re.compile(r".{1,20}-([0-9]{1,19})-([0-9]{1,9})")


def payment_key(reference: str) -> tuple[int, int] | None:
    """The ``(enrollment id, stage)`` a well-formed reference names; None for anything else."""
    match = _PAYMENT.fullmatch(reference)
    if match is None or int(match[1]) >= 2**63:
        return None
    return int(match[1]), int(match[2])


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    reference: str
    status: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateResult:
    updated: int
    unchanged: int
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # reference, from, to


class UpdateRefused(ValueError):
    """The batch was refused whole; nothing was written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was updated")
        self.errors = errors


def read_channel_csv(path: Path) -> list[StatusUpdate]:
    """Rows of a channel's CSV: header ``reference,status`` and an optional ``note`` column."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            if header[:2] != ["reference", "status"] or not set(header) <= {"reference", "status", "note"}:
                raise UpdateRefused([FieldError("header", f"expected columns reference,status[,note], found {header}")])
            return [
                StatusUpdate(
                    (row.get("reference") or "").strip(),
                    (row.get("status") or "").strip().lower(),
                    (row.get("note") or "").strip() or None,
                )
                for row in reader
            ]
    except UnicodeDecodeError as exc:
        raise UpdateRefused([FieldError("file", f"not UTF-8 text (byte {exc.start})")]) from exc


def _label(index: int, update_row: StatusUpdate) -> str:
    return f"row {index + 2} ({update_row.reference[:40] or 'no reference'})"


async def apply_status_updates(conn: AsyncConnection, updates: Sequence[StatusUpdate], scope: str = "") -> UpdateResult:
    """Check the whole batch, then apply it; raises UpdateRefused listing every problem.

    Payments outside ``scope`` are treated as unknown references.
    """
    errors: list[FieldError] = []
    if not updates:
        errors.append(FieldError("updates", "no updates were given"))
    if len(updates) > MAX_BATCH:
        errors.append(FieldError("updates", f"at most {MAX_BATCH:,} updates a batch, not {len(updates):,}"))
    seen: dict[str, int] = {}
    for index, row in enumerate(updates):
        if row.status not in CHANNEL_STATUSES:
            errors.append(
                FieldError(
                    _label(index, row), f"status '{row.status[:20]}' is not one of {', '.join(CHANNEL_STATUSES)}"
                )
            )
        if row.reference in seen:
            errors.append(
                FieldError(_label(index, row), f"reference repeated (first on row {seen[row.reference] + 2})")
            )
        seen.setdefault(row.reference, index)
        if row.note is not None and len(row.note) > 200:
            errors.append(FieldError(_label(index, row), "note is longer than 200 characters"))
    keys = {reference: key for reference in seen if (key := payment_key(reference)) is not None}
    enrollments = sorted({enrollment for enrollment, _ in keys.values()})
    current: dict[str, str] = {}
    for start in range(0, len(enrollments), 5_000):
        query = select(DISBURSEMENTS.c.reference, DISBURSEMENTS.c.status).where(
            DISBURSEMENTS.c.enrollment_id.in_(enrollments[start : start + 5_000])
        )
        if scope:
            query = query.where(within(DISBURSEMENTS.c.village_code, scope))
        current.update((reference, status) for reference, status in await conn.execute(query) if reference in keys)
    changes = []
    unchanged = 0
    for index, row in enumerate(updates):
        status = current.get(row.reference)
        if status is None:
            errors.append(FieldError(_label(index, row), "no disbursement has this reference"))
        elif status == row.status:
            unchanged += 1
        elif row.status in CHANNEL_STATUSES and status not in ALLOWED_FROM[row.status]:
            reason = "its cycle is not approved yet" if status == "pending" else f"it is {status}"
            errors.append(FieldError(_label(index, row), f"cannot become {row.status}: {reason}"))
        else:
            enrollment, stage = keys[row.reference]
            changes.append(
                {
                    "b_reference": row.reference,
                    "b_enrollment": enrollment,
                    "b_stage": stage,
                    "b_status": row.status,
                    "b_note": row.note,
                }
            )
    if errors:
        raise UpdateRefused(errors)
    if changes:
        now = datetime.now(UTC)
        await conn.execute(
            update(DISBURSEMENTS)
            .where(
                DISBURSEMENTS.c.enrollment_id == bindparam("b_enrollment"),
                DISBURSEMENTS.c.stage == bindparam("b_stage"),
            )
            .values(
                status=bindparam("b_status"),
                status_note=bindparam("b_note"),
                updated_at=now,
                version=DISBURSEMENTS.c.version + 1,
            ),
            changes,
        )
    return UpdateResult(
        updated=len(changes),
        unchanged=unchanged,
        changes=[(c["b_reference"], current[c["b_reference"]], c["b_status"]) for c in changes],
    )


@dataclass(frozen=True, slots=True)
class ReconciliationLine:
    """Payments of one program and period in one regency (or the region asked for), by status."""

    program: str
    period: str
    region_code: str
    payments: int
    amount: int
    pending: int
    released: int
    disbursed: int
    failed: int
    returned: int
    disbursed_amount: int


async def reconcile(
    conn: AsyncConnection,
    *,
    program: str | None = None,
    period: str | None = None,
    region_code: str | None = None,
    scope: str = "",
) -> list[ReconciliationLine]:
    """Counts and amounts per program, period and regency/city, in one grouped statement."""
    regency = func.substr(DISBURSEMENTS.c.village_code, 1, 5)
    counts = [
        func.sum(case((DISBURSEMENTS.c.status == s, 1), else_=0))
        for s in ("pending", "released", "disbursed", "failed", "returned")
    ]
    query = (
        select(
            DISBURSEMENTS.c.program,
            DISBURSEMENTS.c.period,
            regency,
            func.count(),
            func.sum(DISBURSEMENTS.c.amount),
            *counts,
            func.sum(case((DISBURSEMENTS.c.status == "disbursed", DISBURSEMENTS.c.amount), else_=0)),
        )
        .group_by(DISBURSEMENTS.c.program, DISBURSEMENTS.c.period, regency)
        .order_by(DISBURSEMENTS.c.program, DISBURSEMENTS.c.period, regency)
    )
    if program:
        query = query.where(DISBURSEMENTS.c.program == program)
    if period:
        query = query.where(DISBURSEMENTS.c.period == period)
    if region_code:
        query = query.where(within(DISBURSEMENTS.c.village_code, region_code))
    if scope:
        query = query.where(within(DISBURSEMENTS.c.village_code, scope))
    return [
        ReconciliationLine(*row[:3], *(int(value or 0) for value in row[3:]))  # PostgreSQL sums are Decimal
        for row in await conn.execute(query)
    ]
