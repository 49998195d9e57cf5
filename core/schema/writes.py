"""Running one service call as one audited write: role check, transaction, refusal → rollback → error type.

Every mutation goes through ``run_write``: core's and plugins' (``core.plugin_api.run_write``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.audit.log import record
from core.foundation.refusals import Conflict, FieldError, Invalid, Missing, OutsideScope
from core.schema.access import Forbidden, allowed, audit_denied
from core.schema.context import Context
from core.schema.errors import NotFound, StepRefused, ValidationError, VersionConflict
from core.storage.db import write_transaction
from core.verification.proposals import Refused

REFUSALS = (Invalid, Conflict, Missing, Refused)
#: What a write refused by a unique index says by default.
RACE = FieldError(
    "input", "someone else changed the same record just now (a KK, NIK or open proposal); read again and retry"
)


def denial_reason(outcome: object) -> str | None:
    """Why a refusal is audited as a denied attempt (a record outside the caller's region, or a write
    that would put a household outside it); None for an ordinary refusal."""
    if isinstance(outcome, OutsideScope):
        return f"destination village {outcome.village_code} is outside the caller's region"
    if isinstance(outcome, Missing):
        return "not found in the caller's region"
    return None


def denied_key(outcome: object) -> str:
    """The record a denied attempt was aimed at, as the audit row's entity id."""
    if isinstance(outcome, Missing):
        return outcome.key
    if isinstance(outcome, OutsideScope) and outcome.household_id is not None:
        return str(outcome.household_id)
    return "-"


def as_error(outcome: object) -> object:
    """The GraphQL error type of a service refusal; anything else unchanged."""
    if isinstance(outcome, Invalid):
        return ValidationError.of(outcome)
    if isinstance(outcome, Conflict):
        return VersionConflict.of(outcome)
    if isinstance(outcome, Missing):
        return NotFound.of(outcome)
    if isinstance(outcome, Refused):
        return StepRefused(message=outcome.message)
    return outcome


async def check_allowed(
    info: Info[Context, None],
    operation: str,
    obj: str,
    act: str,
    region: str | None = None,
    *,
    entity: str | None = None,
    target: int | str = "-",
) -> None:
    """Forbidden (audited as denied) unless the caller's role may ``act`` on ``obj`` (in ``region`` when given,
    else in their own region). The denial is audited against ``entity`` (default ``obj``) ``target``."""
    context = info.context
    if not allowed(context, obj, act, region):
        reason = f"role {context.principal.role} may not {act} {obj}"
        await audit_denied(context, operation, entity or obj, target, reason)
        raise Forbidden(context.principal, obj, act)


class RolledBack(Exception):
    """Carries a refusal out of the transaction block so that the block rolls back."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome


async def run_write(
    info: Info[Context, None],
    *,
    operation: str,
    obj: str,
    act: str,
    change: Callable[[AsyncConnection], Awaitable[object]],
    region: str | None = None,
    audited: str | None = None,
    before: Callable[[AsyncConnection], Awaitable[object]] | None = None,
    target: int | str = "-",
    race: FieldError = RACE,
) -> object:
    """Check the role, then run ``change`` in one write transaction; a refusal rolls it back and is answered
    as its error type (a record outside the caller's region, or a household put outside it, is audited as
    a denied attempt).

    ``region``: check the role in that region rather than the caller's own. ``audited``: record what
    ``change`` returns (its ``id``, and the record as ``after``) as an audit row of that entity in the same
    transaction; leave it None when ``change`` audits itself. ``before``: read the record as it was, in the
    same transaction before ``change``, for that audit row. ``target``: the record the write aims at, named
    by denied attempts (audited against ``audited``, else ``obj``). ``race``: the field error answered when
    a unique index refuses the write because another request made the same change at the same moment.
    """
    entity = audited or obj
    await check_allowed(info, operation, obj, act, region, entity=entity, target=target)
    try:
        async with write_transaction(info.context.engine) as conn:
            was = await before(conn) if before is not None else None
            outcome = await change(conn)
            if isinstance(outcome, REFUSALS):
                raise RolledBack(outcome)
            if audited is not None:
                entity_id = outcome.id  # type: ignore[attr-defined]
                await record(
                    conn,
                    info.context.request_info,
                    operation=operation,
                    entity=audited,
                    entity_id=entity_id,
                    before=was,
                    after=outcome,
                )
    except RolledBack as refused:
        if reason := denial_reason(refused.outcome):
            key = denied_key(refused.outcome)
            await audit_denied(info.context, operation, entity, target if key == "-" else key, reason)
        return as_error(refused.outcome)
    except IntegrityError:
        return ValidationError.single(race.field, race.message)
    return outcome
