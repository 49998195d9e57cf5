"""Schema migrations (Alembic), driven from the async engine."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent.parent / "migrations"


class SchemaState(StrEnum):
    EMPTY = "empty"  # no tables at all: safe to create
    CURRENT = "current"
    OUTDATED = "outdated"
    UNKNOWN = "unknown"  # tables without a known revision, or a revision this code does not know


class SchemaNotCurrent(RuntimeError):
    """The database schema does not match this version of SIKS."""


def version_locations() -> list[str]:
    """Core's migration folder and each installed plugin's (its own Alembic branch)."""
    from core.programs.registry import installed_migrations

    return [str(MIGRATIONS / "versions"), *installed_migrations()]


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.set_main_option("path_separator", "space")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revisions() -> list[str]:
    return sorted(ScriptDirectory.from_config(alembic_config()).get_heads())


def _state(connection: Connection) -> SchemaState:
    current = set(MigrationContext.configure(connection).get_current_heads())
    if not current:
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        return SchemaState.UNKNOWN if tables else SchemaState.EMPTY
    script = ScriptDirectory.from_config(alembic_config())
    if not all(script.get_revision(rev) is not None for rev in current):
        return SchemaState.UNKNOWN
    # Branch heads reached through a plugin branch's depends_on are not stored in
    # alembic_version, so ask Alembic what an upgrade would still run.
    pending = script._upgrade_revs("heads", tuple(current))
    return SchemaState.OUTDATED if pending else SchemaState.CURRENT


async def schema_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as conn:
        try:
            return await conn.run_sync(_state)
        except Exception:  # an unknown revision id raises inside alembic
            return SchemaState.UNKNOWN


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Create or update the schema to ``revision`` in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))


async def require_current(engine: AsyncEngine) -> None:
    """Raise SchemaNotCurrent with the command that fixes it unless the schema is at head."""
    state = await schema_state(engine)
    if state is SchemaState.OUTDATED:
        raise SchemaNotCurrent("The database schema is out of date: run `siks db upgrade` and start again.")
    if state is SchemaState.EMPTY:
        raise SchemaNotCurrent("The database has no SIKS schema yet: run `siks db upgrade`.")
    if state is SchemaState.UNKNOWN:
        raise SchemaNotCurrent(
            "The database holds tables or a schema revision this version of SIKS does not know; "
            "point SIKS_DATABASE_URL at a SIKS database or upgrade SIKS."
        )
