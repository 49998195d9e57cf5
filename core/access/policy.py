"""Changing the stored policy: every change bumps the version so all processes reload it."""

from __future__ import annotations

import csv

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.access.enforcer import RULES, bump_version

PTYPES = {"p": 3, "g": 2}


class PolicyError(ValueError):
    """A policy line of the wrong shape, or one that is (not) there."""


def parse_line(line: str) -> list[str]:
    """``p, role, object, action`` or ``g, role, parent role`` as cells."""
    cells = [cell.strip() for cell in next(csv.reader([line]), [])]
    if not cells or cells[0] not in PTYPES or len(cells) != PTYPES[cells[0]] + 1 or not all(cells[1:]):
        raise PolicyError(f"'{line[:80]}' is not a policy line; write 'p, role, object, action' or 'g, role, role'")
    return cells


def _match(cells: list[str]):  # type: ignore[no-untyped-def]
    return and_(RULES.c.ptype == cells[0], *(RULES.c[f"v{i}"] == value for i, value in enumerate(cells[1:])))


async def list_policy(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(RULES.c.ptype, RULES.c.v0, RULES.c.v1, RULES.c.v2).order_by(RULES.c.id))
    return [", ".join(cell for cell in row if cell is not None) for row in rows]


async def add_line(conn: AsyncConnection, line: str) -> list[str]:
    cells = parse_line(line)
    if (await conn.execute(select(RULES.c.id).where(_match(cells)))).first():
        raise PolicyError(f"the policy already has '{', '.join(cells)}'")
    await conn.execute(RULES.insert().values(ptype=cells[0], **{f"v{i}": v for i, v in enumerate(cells[1:])}))
    await bump_version(conn)
    return cells


async def remove_line(conn: AsyncConnection, line: str) -> list[str]:
    cells = parse_line(line)
    result = await conn.execute(delete(RULES).where(_match(cells)))
    if result.rowcount == 0:
        raise PolicyError(f"the policy has no '{', '.join(cells)}'")
    await bump_version(conn)
    return cells
