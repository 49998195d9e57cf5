"""Reading the audit log with filters, newest first, by keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import AUDIT


@dataclass(frozen=True, slots=True)
class AuditFilter:
    operation: str | None = None
    actor: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    scope: str = ""  # only actions of actors whose scope lies within this one


async def audit_page(conn: AsyncConnection, where: AuditFilter, first: int, before_seq: int | None) -> list[dict]:
    query = select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(first)
    for column, value in (
        (AUDIT.c.operation, where.operation),
        (AUDIT.c.actor, where.actor),
        (AUDIT.c.entity, where.entity),
        (AUDIT.c.entity_id, where.entity_id),
        (AUDIT.c.outcome, where.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(AUDIT.c.at >= where.since)
    if where.until is not None:
        query = query.where(AUDIT.c.at < where.until)
    if where.scope:
        query = query.where(or_(AUDIT.c.scope == where.scope, AUDIT.c.scope.startswith(where.scope + ".")))
    if before_seq is not None:
        query = query.where(AUDIT.c.seq < before_seq)
    return [dict(row) for row in (await conn.execute(query)).mappings()]
