"""GraphQL: payment status updates from the channels, and reconciliation."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.audit.log import record
from core.foundation.refusals import FieldError, Invalid
from core.programs.disbursements import StatusUpdate, UpdateRefused, apply_status_updates, reconcile
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.errors import ValidationError
from core.schema.writes import run_write


@strawberry.input(description="A payment's new status, as the channel reports it.")
class DisbursementUpdateInput:
    reference: str
    payment_status: enums.PaymentStatus | None = strawberry.field(
        default=None, description="The payment's new status (required unless the deprecated status is sent)."
    )
    status: str | None = strawberry.field(
        default=None,
        description="disbursed, failed or returned.",
        deprecation_reason="The stored spelling: send paymentStatus, an enum as the rest of the API spells it.",
    )
    note: str | None = None

    def status_value(self, index: int) -> str | FieldError:
        """The stored spelling of the status this update sends, or what is wrong with it."""
        if self.payment_status is None and self.status is None:
            return FieldError(f"updates.{index}.paymentStatus", "give the payment's new status")
        if self.payment_status is None:
            return str(self.status).strip().lower()
        if self.status is not None and self.status.strip().lower() != self.payment_status.value:
            return FieldError(f"updates.{index}.status", "paymentStatus and status disagree; send paymentStatus only")
        return self.payment_status.value


@guarded("disbursement")
@strawberry.type(description="What an accepted batch of status updates changed.")
class DisbursementUpdateSummary:
    updated: int
    unchanged: int = strawberry.field(description="Updates that repeated the current status.")


DisbursementUpdateResult = Annotated[
    DisbursementUpdateSummary | ValidationError,
    strawberry.union("DisbursementUpdateResult", description="The batch applied whole, or refused whole."),
]


@guarded("disbursement")
@strawberry.type(description="Payments of a program and period in one regency/city, by status.")
class ReconciliationLine:
    program: str
    period: str
    region_code: str
    payments: int
    amount: float = strawberry.field(description="Rupiah.")
    pending: int
    released: int
    disbursed: int
    failed: int
    returned: int
    disbursed_amount: float


@strawberry.type
class DisbursementQuery:
    @strawberry.field(description="Payments by program, period and regency/city: counts and Rupiah per status.")
    async def reconciliation(
        self,
        info: Info[Context, None],
        program: str | None = None,
        period: str | None = None,
        region_code: str | None = None,
    ) -> list[ReconciliationLine]:
        principal = require(info.context, "disbursement", "read")
        code = checked_code(region_code, "regionCode") if region_code is not None else None
        async with info.context.engine.connect() as conn:
            lines = await reconcile(conn, program=program, period=period, region_code=code, scope=principal.scope)
        return [ReconciliationLine(**{name: getattr(line, name) for name in line.__slots__}) for line in lines]


@strawberry.type
class DisbursementMutation:
    @strawberry.mutation(description="Record payment statuses by reference; a bad batch is refused whole.")
    async def update_disbursements(
        self, info: Info[Context, None], updates: list[DisbursementUpdateInput]
    ) -> DisbursementUpdateResult:
        context = info.context
        statuses = [update.status_value(index) for index, update in enumerate(updates)]
        if problems := [status for status in statuses if isinstance(status, FieldError)]:
            return ValidationError.of(Invalid(problems))
        rows = [StatusUpdate(u.reference.strip(), str(s), u.note) for u, s in zip(updates, statuses, strict=True)]

        async def change(conn: AsyncConnection) -> object:
            try:
                result = await apply_status_updates(conn, rows, scope=context.principal.scope)
            except UpdateRefused as refused:
                return Invalid(refused.errors)
            if result.changes:
                await record(
                    conn,
                    context.request_info,
                    operation="updateDisbursements",
                    entity="disbursement",
                    entity_id=f"{len(result.changes)} payments",
                    after=[{"reference": r, "from": a, "to": b} for r, a, b in result.changes],
                )
            return result

        result = await run_write(info, operation="updateDisbursements", obj="disbursement", act="write", change=change)
        if isinstance(result, ValidationError):
            return result
        return DisbursementUpdateSummary(updated=result.updated, unchanged=result.unchanged)  # type: ignore[attr-defined]
