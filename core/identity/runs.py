"""The life of a check run: ``running`` → ``completed`` (with its audit row) or ``failed``.

Only a completed run counts: every read (``core.identity.queries``) takes outcomes of completed runs
alone, so a failed run, or one killed while ``running``, is never half counted. A failed run's rows
are deleted; a killed run's are deleted when the next run starts and marks it failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo
from core.audit.log import record as audit
from core.foundation.enums import AuditOutcome, IdentityRunKind, IdentityRunStatus
from core.foundation.ids import ids
from core.models import IdentityCheck, IdentityRun, Region
from core.reference.formats import Source
from core.regions.codes import RegionCodeError, check_code
from core.storage.db import write_transaction

RUNS = IdentityRun.__table__
CHECKS = IdentityCheck.__table__
SNAPSHOT_COLUMNS = {
    Source.ADMINDUK: "adminduk_snapshot_id",
    Source.DAPODIK: "dapodik_snapshot_id",
    Source.BPJS: "bpjs_snapshot_id",
}
OPERATION = "runIdentityCheck"
REGIONS = Region.__table__


class RunRefused(ValueError):
    """A run cannot start as asked (the message says why); nothing was written."""


async def checked_region(engine: AsyncEngine, region_code: str | None, refused: type[RunRefused]) -> str | None:
    """The run's region code as given (None: the whole country), or ``refused`` saying what is wrong with it."""
    if region_code is None or region_code == "":
        return None
    try:
        code = check_code(region_code)
    except RegionCodeError as exc:
        raise refused(f"--region: {exc}") from exc
    async with engine.connect() as conn:
        if await conn.scalar(select(REGIONS.c.code).where(REGIONS.c.code == code)) is None:
            raise refused(f"--region: {code} is not a loaded region (see `siks regions`)")
    return code


ENTITY = "identity_run"


async def begin_run(
    engine: AsyncEngine, region_code: str | None, snapshots: dict[Source, int], started_by: str, started_at: datetime
) -> int:
    """Mark check runs left ``running`` by a killed process failed (their rows deleted), then open a new one."""
    run_id = ids.next_id()
    async with write_transaction(engine) as conn:
        stale = list(
            await conn.scalars(
                select(RUNS.c.id).where(
                    RUNS.c.kind == IdentityRunKind.CHECK, RUNS.c.status == IdentityRunStatus.RUNNING
                )
            )
        )
        for stale_id in stale:
            await _fail(conn, stale_id, "left unfinished (the process was stopped); its outcomes were discarded")
        await conn.execute(
            insert(RUNS).values(
                id=run_id,
                kind=IdentityRunKind.CHECK,
                status=IdentityRunStatus.RUNNING,
                region_code=region_code,
                members_checked=0,
                summary={},
                started_by=started_by[:64],
                started_at=started_at,
                **{SNAPSHOT_COLUMNS[source]: snapshot for source, snapshot in snapshots.items()},
            )
        )
    return run_id


async def _fail(conn: AsyncConnection, run_id: int, error: str) -> None:
    await conn.execute(delete(CHECKS).where(CHECKS.c.run_id == run_id))
    await conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(status=IdentityRunStatus.FAILED, completed_at=datetime.now(UTC), error=error[:500])
    )


async def complete_run(
    engine: AsyncEngine, run_id: int, members: int, summary: dict[str, Any], request: RequestInfo
) -> None:
    """Mark the run completed and write its audit row, in one transaction."""
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(
                status=IdentityRunStatus.COMPLETED,
                members_checked=members,
                summary=summary,
                completed_at=datetime.now(UTC),
            )
        )
        await audit(conn, request, operation=OPERATION, entity=ENTITY, entity_id=run_id, after=summary)


async def fail_run(engine: AsyncEngine, run_id: int, error: str, request: RequestInfo, summary: dict[str, Any]) -> None:
    """Mark the run failed (its outcomes deleted) and audit the failure, in one transaction."""
    async with write_transaction(engine) as conn:
        await _fail(conn, run_id, error)
        await audit(
            conn,
            request,
            operation=OPERATION,
            entity=ENTITY,
            entity_id=run_id,
            outcome=AuditOutcome.ERROR,
            after={**summary, "error": error[:500]},
        )
