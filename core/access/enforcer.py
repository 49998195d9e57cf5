"""The Casbin enforcer: model and base policy in ``policies/``, policy lines stored in the database.

Every server process keeps the policy in memory and checks ``policy_version`` at most once a
``RELOAD_SECONDS``; a change made by ``siks policy add|remove`` (or any process) bumps the
version, so every process picks it up within that time.
"""

from __future__ import annotations

import asyncio
import csv
import time
from importlib import resources
from pathlib import Path

import casbin
from casbin_async_sqlalchemy_adapter import Adapter
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.auth.principal import Principal
from core.models import CasbinRule, PolicyVersion
from core.programs.registry import ProgramRegistry, registry_from_settings
from core.regions.codes import region_within

RELOAD_SECONDS = 1.0
RULES = CasbinRule.__table__
VERSION = PolicyVersion.__table__


def policy_files() -> tuple[Path, Path]:
    """policies/model.conf and policies/base.csv (the ``policies`` package ships them as data)."""
    folder = Path(str(resources.files("policies")))
    return folder / "model.conf", folder / "base.csv"


def base_policy_lines(registry: ProgramRegistry | None = None) -> list[list[str]]:
    """Lines of policies/base.csv and of the registry's plugins (the settings' plugins when not given),
    as Casbin rows ([ptype, v0, ...])."""
    _model, base = policy_files()
    text = base.read_text(encoding="utf-8").splitlines()
    plugin_lines = (registry or registry_from_settings()).policies
    rows = []
    for line in [*text, *plugin_lines]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rows.append([cell.strip() for cell in next(csv.reader([line]))])
    return rows


class AccessControl:
    """Casbin decisions for one process, reloaded when the stored policy changes."""

    def __init__(self, engine: AsyncEngine) -> None:
        model, _base = policy_files()
        self.engine = engine
        self.enforcer = casbin.AsyncEnforcer(str(model), Adapter(engine))
        self.enforcer.add_function("region_within", region_within)
        self._version: int | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, force: bool = False) -> None:
        """Reload the policy if another process (or the CLI) changed it."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_SECONDS:
            return
        async with self._lock:
            async with self.engine.connect() as conn:
                version = (await conn.execute(select(VERSION.c.version).where(VERSION.c.id == 1))).scalar_one()
            if force or version != self._version:
                await self.enforcer.load_policy()
                self._version = version
            self._checked = now

    def allows(self, principal: Principal, obj: str, act: str, region: str | None = None) -> bool:
        """May ``principal`` do ``act`` on ``obj`` in ``region`` (default: within their own scope)?"""
        target = principal.scope if region is None else region
        return bool(self.enforcer.enforce(principal.role, principal.scope, target, obj, act))


async def bump_version(conn: AsyncConnection) -> None:
    await conn.execute(
        update(VERSION).where(VERSION.c.id == 1).values(version=VERSION.c.version + 1, changed_at=func.now())
    )


async def seed_policies_if_empty(engine: AsyncEngine, registry: ProgramRegistry | None = None) -> int:
    """Store the base and plugin policy on a database that has no policy yet (first start)."""
    async with engine.connect() as conn:
        present = (await conn.execute(select(func.count()).select_from(RULES))).scalar_one()
    return 0 if present else await seed_policies(engine, registry)


async def _missing(conn: AsyncConnection, registry: ProgramRegistry | None) -> list[list[str]]:
    rows = await conn.execute(select(RULES.c.ptype, RULES.c.v0, RULES.c.v1, RULES.c.v2))
    present = {tuple(cell for cell in row if cell is not None) for row in rows}
    return [line for line in base_policy_lines(registry) if tuple(line) not in present]


async def missing_policy_lines(engine: AsyncEngine, registry: ProgramRegistry | None = None) -> int:
    """How many base or plugin policy lines the stored policy lacks (e.g. for objects a newer SIKS added)."""
    async with engine.connect() as conn:
        return len(await _missing(conn, registry))


async def seed_policies(engine: AsyncEngine, registry: ProgramRegistry | None = None) -> int:
    """Store the base and plugin policy lines that are missing; returns how many were added."""
    async with engine.begin() as conn:
        missing = await _missing(conn, registry)
        if missing:
            await conn.execute(
                RULES.insert(),
                [
                    {"ptype": line[0], **{f"v{i}": line[i + 1] if i + 1 < len(line) else None for i in range(6)}}
                    for line in missing
                ],
            )
            await bump_version(conn)
    return len(missing)
