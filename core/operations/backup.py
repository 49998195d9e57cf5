"""``siks backup`` and ``siks restore``: the database, the photo folder and the model files, with checksums.

A backup is a folder::

    manifest.json        SIKS version, alembic revisions, database kind, row counts, every file's SHA-256
    database/siks.db     SQLite: a copy made with SQLite's online backup API (consistent while servers write)
    database/            PostgreSQL: ``pg_dump --format=directory`` of SIKS's schema
    photos/              a copy of SIKS_PHOTO_DIR
    models/              a copy of SIKS_MODEL_DIR

On PostgreSQL the row counts and the dump come from one snapshot: a repeatable-read transaction exports
it (``pg_export_snapshot``), counts in it and keeps it open while ``pg_dump --snapshot`` reads it.

A restore changes nothing until the whole backup matches its manifest and the target may be written (an
empty database and empty folders, or ``force``); afterwards it checks the restored row counts and
alembic revisions against the manifest.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo, record
from core.foundation.settings import Settings
from core.operations.manifest import (
    FORMAT,
    BackupRefused,
    Manifest,
    checksum_problems,
    checksums,
    files_under,
    sha256_of,
)
from core.storage.db import create_engine, write_transaction

DATABASE = "database"
SQLITE_FILE = f"{DATABASE}/siks.db"
#: backup folder part → the setting naming the live folder
FOLDERS = {"photos": "photo_dir", "models": "model_dir"}
STDERR_TAIL = 2000


class RestoreFailed(Exception):
    """The restore changed the target but the result does not match the backup; the message says how."""


@dataclass(frozen=True)
class Census:
    """What a database holds: rows per table, alembic revisions and the audit log's last row."""

    row_counts: dict[str, int]
    alembic_revisions: list[str]
    audit_head: int


def siks_version() -> str:
    try:
        return version("siks")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return "unknown"


def take_census(conn: Connection) -> Census:
    """Count every table of the connection's schema (one transaction, so one moment)."""
    quote = conn.dialect.identifier_preparer.quote
    names = sorted(inspect(conn).get_table_names())
    counts = {name: int(conn.execute(text(f"SELECT count(*) FROM {quote(name)}")).scalar_one()) for name in names}
    revisions: list[str] = []
    if "alembic_version" in names:
        revisions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    head = 0
    if "audit_head" in names:
        head = int(conn.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar() or 0)
    return Census(counts, revisions, head)


def _census_of_sqlite_file(path: Path) -> Census:
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return take_census(conn)
    finally:
        engine.dispose()


# --- PostgreSQL tools ---------------------------------------------------------------------------------------


def _libpq_environment(settings: Settings) -> dict[str, str]:
    """pg_dump's and pg_restore's connection, from SIKS_DATABASE_URL (the password never on a command line)."""
    url = make_url(settings.database_url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


async def _run_tool(settings: Settings, *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *args,
        env=_libpq_environment(settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip()[-STDERR_TAIL:]
        raise RuntimeError(f"{args[0]} failed (exit code {process.returncode}): {detail}")


async def _postgresql_schema(engine: AsyncEngine, settings: Settings) -> str:
    if settings.database_schema:
        return settings.database_schema
    async with engine.connect() as conn:
        return str((await conn.execute(text("SELECT current_schema()"))).scalar_one())


# --- backup -------------------------------------------------------------------------------------------------


async def create_backup(settings: Settings, output: Path, request: RequestInfo) -> Manifest:
    """Write a backup of the configured database and folders to ``output`` (absent or empty).

    The backup is audited before its snapshot is taken, so the backup holds its own audit row. On any
    failure the partly written folder is removed."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupRefused(f"{output} exists and is not an empty folder; give a new folder for the backup")
    for setting in FOLDERS.values():
        folder = Path(getattr(settings, setting)).resolve()
        if output.resolve().is_relative_to(folder):
            raise BackupRefused(f"{output} is inside {folder}, which the backup copies; write it elsewhere")
    engine = create_engine(settings)
    created = not output.exists()
    try:
        output.mkdir(parents=True, exist_ok=True)
        async with write_transaction(engine) as conn:
            await record(
                conn,
                request,
                operation="createBackup",
                entity="backup",
                entity_id=output.name,
                after={"output": str(output.resolve())},
            )
        if settings.is_sqlite:
            census, schema = await asyncio.to_thread(_backup_sqlite, settings, output), None
        else:
            census, schema = await _backup_postgresql(engine, settings, output)
        for part, setting in FOLDERS.items():
            source = Path(getattr(settings, setting))
            if source.is_dir():
                shutil.copytree(source, output / part)
        manifest = Manifest(
            format=FORMAT,
            siks_version=siks_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            database="sqlite" if settings.is_sqlite else "postgresql",
            schema=schema,
            alembic_revisions=census.alembic_revisions,
            row_counts=census.row_counts,
            audit_head=census.audit_head,
            files=checksums(output, [DATABASE, *FOLDERS]),
        )
        manifest.write(output)
        return manifest
    except BaseException:
        if created:
            shutil.rmtree(output, ignore_errors=True)
        else:
            for child in output.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    finally:
        await engine.dispose()


def _backup_sqlite(settings: Settings, output: Path) -> Census:
    source_path = settings.sqlite_path()
    if source_path is None or not source_path.is_file():
        raise BackupRefused(f"the SQLite database {source_path or ':memory:'} does not exist")
    target = output / SQLITE_FILE
    target.parent.mkdir(parents=True)
    source = sqlite3.connect(source_path, timeout=settings.db_lock_timeout_seconds)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # all pages in one step: one consistent moment, writers in WAL mode go on
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
        source.close()
    return _census_of_sqlite_file(target)


async def _backup_postgresql(engine: AsyncEngine, settings: Settings, output: Path) -> tuple[Census, str]:
    schema = await _postgresql_schema(engine, settings)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
            census = await conn.run_sync(take_census)
            await _run_tool(
                settings,
                "pg_dump",
                "--format=directory",
                f"--file={output / DATABASE}",
                f"--schema={schema}",
                f"--snapshot={snapshot}",
                "--no-password",
            )
    return census, schema


# --- restore ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    tables: int
    rows: int
    files: int


async def restore_backup(settings: Settings, source: Path, request: RequestInfo, *, force: bool) -> RestoreReport:
    """Restore the backup in ``source`` into the configured database and folders.

    Refused, with nothing changed, when the backup does not match its manifest, is for the other kind
    of database (or another PostgreSQL schema), or the target holds tables or files and ``force`` is not
    given. After restoring, the row counts and alembic revisions must equal the manifest's, then the
    restore is audited in the restored database."""
    manifest = Manifest.read(source)
    kind = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest.database != kind:
        raise BackupRefused(f"the backup is of a {manifest.database} database; the configured database is {kind}")
    problems = checksum_problems(source, manifest)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BackupRefused(f"the backup in {source} does not match its manifest, nothing was restored: {shown}")
    engine = create_engine(settings)
    try:
        if settings.is_sqlite:
            target = settings.sqlite_path()
            if target is None:
                raise BackupRefused("SIKS_DATABASE_URL names an in-memory SQLite database; name a file to restore to")
            occupied = await asyncio.to_thread(_sqlite_tables, target)
            schema = None
        else:
            schema = await _postgresql_schema(engine, settings)
            if schema != manifest.schema:
                raise BackupRefused(
                    f"the backup holds PostgreSQL schema {manifest.schema!r}; the target is {schema!r} "
                    f"(set SIKS_DATABASE_SCHEMA={manifest.schema})"
                )
            occupied = await _postgresql_tables(engine, schema)
        _refuse_occupied(settings, occupied, force)
        await engine.dispose()
        if settings.is_sqlite:
            await asyncio.to_thread(_restore_sqlite, source / SQLITE_FILE, target)  # type: ignore[arg-type]
        else:
            await _restore_postgresql(engine, settings, source, str(schema))
        files = _restore_folders(settings, source, manifest)
        census = await _census(engine)
        _compare(manifest, census)
        async with write_transaction(engine) as conn:
            await record(
                conn,
                request,
                operation="restoreBackup",
                entity="backup",
                entity_id=source.name,
                after={"source": str(source.resolve()), "created_at": manifest.created_at, "forced": force},
            )
        return RestoreReport(manifest, len(census.row_counts), sum(census.row_counts.values()), files)
    finally:
        await engine.dispose()


def _refuse_occupied(settings: Settings, tables: int, force: bool) -> None:
    if force:
        return
    occupied = [f"the database holds {tables} tables"] if tables else []
    for setting in FOLDERS.values():
        folder = Path(getattr(settings, setting))
        if files_under(folder):
            occupied.append(f"{folder} holds files")
    if occupied:
        raise BackupRefused(
            "the target is not empty (" + "; ".join(occupied) + "); restore into an empty database and empty "
            "folders, or give --force to replace them"
        )


def _sqlite_tables(path: Path) -> int:
    if not path.exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(
            connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
        )
    finally:
        connection.close()


async def _postgresql_tables(engine: AsyncEngine, schema: str) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_tables WHERE schemaname = :schema")
        return int((await conn.execute(query, {"schema": schema})).scalar_one())


def _restore_sqlite(backup: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)  # replaces every page of the target, its -wal included
    finally:
        destination.close()
        source.close()


async def _restore_postgresql(engine: AsyncEngine, settings: Settings, source: Path, schema: str) -> None:
    """Drop the target schema (its own) and let pg_restore create it, in one transaction; the public schema
    cannot be dropped, so there pg_restore drops the dump's objects before creating them."""
    clean: list[str] = []
    if schema == "public":
        clean = ["--clean", "--if-exists"]
    else:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {conn.dialect.identifier_preparer.quote(schema)} CASCADE"))
        await engine.dispose()
    await _run_tool(
        settings,
        "pg_restore",
        f"--dbname={make_url(settings.database_url).database}",
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-password",
        *clean,
        str(source / DATABASE),
    )


def _restore_folders(settings: Settings, source: Path, manifest: Manifest) -> int:
    """Replace each live folder with the backup's copy, then check the copies' checksums."""
    copied = 0
    for part, setting in FOLDERS.items():
        target = Path(getattr(settings, setting))
        if target.exists():
            shutil.rmtree(target)
        if (source / part).is_dir():
            shutil.copytree(source / part, target)
        else:
            target.mkdir(parents=True)
        prefix = f"{part}/"
        for name, expected in manifest.files.items():
            if name.startswith(prefix):
                copied += 1
                restored = target / name.removeprefix(prefix)
                if sha256_of(restored) != expected:
                    raise RestoreFailed(f"{restored} differs from the backup after copying (disk or copy error)")
    return copied


async def _census(engine: AsyncEngine) -> Census:
    async with engine.connect() as conn:
        return await conn.run_sync(take_census)


def _compare(manifest: Manifest, census: Census) -> None:
    differences: list[str] = []
    if census.alembic_revisions != manifest.alembic_revisions:
        differences.append(f"alembic revisions {census.alembic_revisions} instead of {manifest.alembic_revisions}")
    for table in sorted(set(manifest.row_counts) | set(census.row_counts)):
        expected, found = manifest.row_counts.get(table), census.row_counts.get(table)
        if expected != found:
            differences.append(f"{table}: {found} rows instead of {expected}")
    if differences:
        raise RestoreFailed("the restored database does not match the backup: " + "; ".join(differences))


def describe(manifest: Manifest) -> dict[str, Any]:
    """A short summary of a manifest for the command line."""
    return {
        "database": manifest.database,
        "tables": len(manifest.row_counts),
        "rows": sum(manifest.row_counts.values()),
        "files": len(manifest.files),
        "alembic": ",".join(manifest.alembic_revisions),
    }
