"""Running one service call as one audited write: role check, transaction, refusal → rollback → error type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from core.db import write_transaction
from core.refusals import Conflict, Invalid, Missing, OutsideScope
from core.schema.access import Forbidden, allowed, audit_denied
from core.schema.context import Context
from core.schema.errors import NotFound, StepRefused, ValidationError, VersionConflict
from core.verification.proposals import Refused

REFUSALS = (Invalid, Conflict, Missing, Refused)


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


async def check_allowed(info: Info[Context, None], operation: str, obj: str, act: str) -> None:
    """Forbidden (audited as denied) unless the caller's role may ``act`` on ``obj``."""
    context = info.context
    if not allowed(context, obj, act):
        await audit_denied(context, operation, obj, "-", f"role {context.principal.role} may not {act} {obj}")
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
) -> object:
    """Check the role, then run ``change`` in one write transaction; a refusal rolls it back and is answered
    as its error type (a record outside the caller's region, or a household put outside it, is audited as
    a denied attempt)."""
    await check_allowed(info, operation, obj, act)
    try:
        async with write_transaction(info.context.engine) as conn:
            outcome = await change(conn)
            if isinstance(outcome, REFUSALS):
                raise RolledBack(outcome)
    except RolledBack as refused:
        if reason := denial_reason(refused.outcome):
            await audit_denied(info.context, operation, obj, denied_key(refused.outcome), reason)
        return as_error(refused.outcome)
    except IntegrityError:
        return ValidationError.single(
            "input", "someone else changed the same record just now (a KK, NIK or open proposal); read again and retry"
        )
    return outcome
