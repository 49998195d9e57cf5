"""Helpers for tests that build on identity outcomes: runs and checks written directly, as the checks write them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import IdentityRunKind, IdentityRunStatus, IdentityStatus
from core.foundation.ids import ids
from core.models import IdentityCheck, IdentityRun
from core.reference.formats import Source
from core.storage.db import write_transaction

RUNS, CHECKS = IdentityRun.__table__, IdentityCheck.__table__


def outcome(
    member: Any,
    household: Any,
    status: IdentityStatus,
    source: Source = Source.ADMINDUK,
    *,
    suggested_nik: str | None = None,
    probability: float | None = None,
    **details: Any,
) -> dict[str, Any]:
    """One ``identity_checks`` row's values (without the run) for ``member`` of ``household``."""
    return {
        "member_id": member.id,
        "source": source.value,
        "household_id": household.id,
        "village_code": household.village_code,
        "status": status.value,
        "probability": probability,
        "suggested_nik": suggested_nik,
        "details": details,
    }


def outcome_of(
    member_id: int,
    household_id: int,
    status: IdentityStatus,
    source: Source = Source.ADMINDUK,
    village_code: str = "32.01.01.1001",
    **details: Any,
) -> dict[str, Any]:
    """``outcome`` by ids, for tests that hold ids only."""
    return {
        "member_id": member_id,
        "source": source.value,
        "household_id": household_id,
        "village_code": village_code,
        "status": status.value,
        "probability": None,
        "suggested_nik": None,
        "details": details,
    }


async def identity_run(
    engine: AsyncEngine,
    outcomes: Iterable[dict[str, Any]],
    status: IdentityRunStatus = IdentityRunStatus.COMPLETED,
    kind: IdentityRunKind = IdentityRunKind.CHECK,
) -> int:
    """A run with these outcomes; returns its id (ids grow: a later call makes a later run)."""
    run_id, at = ids.next_id(), datetime.now(UTC)
    rows = [{**row, "run_id": run_id, "checked_at": at} for row in outcomes]
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(RUNS).values(
                id=run_id,
                kind=kind.value,
                status=status.value,
                members_checked=len(rows),
                summary={},
                started_by="test",
                started_at=at,
                completed_at=at if status is IdentityRunStatus.COMPLETED else None,
            )
        )
        if rows:
            await conn.execute(insert(CHECKS), rows)
    return run_id
