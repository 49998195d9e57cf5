"""``siks backup`` / ``siks restore`` on the test database (SQLite, or PostgreSQL by SIKS_TEST_DATABASE_URL).

A backup is restored into a fresh database — a new SQLite file, or a new PostgreSQL database holding
the session's schema — and new folders; the restored rows, revisions, files and audit chain must be
the backup's, not what was written after it. A corrupt backup and a non-empty target are refused with
nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.operations.backup import _census
from core.operations.manifest import MANIFEST, sha256_of
from core.storage.db import create_engine
from tests.cli_support import siks
from tests.verification_support import registered


@pytest.fixture
async def fresh_target(settings: Settings, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The environment of an empty database and empty folders to restore into; a PostgreSQL database is
    created for the test and dropped after it."""
    folders = {"SIKS_PHOTO_DIR": str(tmp_path / "restored-photos"), "SIKS_MODEL_DIR": str(tmp_path / "restored-models")}
    if settings.is_sqlite:
        yield {"SIKS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}", **folders}
        return
    name = f"siks_restore_{secrets.token_hex(4)}"
    admin = create_engine(settings)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield {"SIKS_DATABASE_URL": url, **folders}
    finally:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


def live_folders(tmp_path: Path) -> dict[str, str]:
    """A photo and a model file in folders of the test's own, as the environment names them."""
    photos, models = tmp_path / "photos", tmp_path / "models"
    (photos / "32.01.01").mkdir(parents=True)
    (photos / "32.01.01" / "visit-1.jpg").write_bytes(b"\xff\xd8 a field-visit photo \xff\xd9")
    models.mkdir()
    (models / "pmt-2026.cbm").write_bytes(secrets.token_bytes(4096))
    return {"SIKS_PHOTO_DIR": str(photos), "SIKS_MODEL_DIR": str(models)}


def create_user(username: str, env: dict[str, str]) -> None:
    made = siks("users", "create", username, "--role", "auditor", "--password-stdin", input="s3cret-pass\n", env=env)
    assert made.returncode == 0, made.stderr


async def counts_in(env: dict[str, str], settings: Settings) -> dict[str, int]:
    engine = create_engine(settings.model_copy(update={"database_url": env["SIKS_DATABASE_URL"]}))
    try:
        return (await _census(engine)).row_counts
    finally:
        await engine.dispose()


async def test_backup_then_restore_into_a_fresh_database(
    db: AsyncEngine, settings: Settings, tmp_path: Path, fresh_target: dict[str, str]
) -> None:
    live = live_folders(tmp_path)
    await registered(db, 3)
    create_user("before-backup", live)
    output = tmp_path / "backup"

    made = siks("backup", "--output", str(output), env=live)
    assert made.returncode == 0, made.stderr
    manifest: dict[str, Any] = json.loads((output / MANIFEST).read_text())
    assert manifest["database"] == ("sqlite" if settings.is_sqlite else "postgresql")
    assert manifest["row_counts"]["households"] == 3 and manifest["row_counts"]["users"] == 1
    assert manifest["alembic_revisions"] and manifest["siks_version"] and manifest["created_at"]
    assert manifest["files"]["photos/32.01.01/visit-1.jpg"] == sha256_of(
        Path(live["SIKS_PHOTO_DIR"]) / "32.01.01/visit-1.jpg"
    )
    assert "models/pmt-2026.cbm" in manifest["files"]
    assert any(name.startswith("database/") for name in manifest["files"])
    async with db.connect() as conn:  # the backup holds its own audit row
        last = (await conn.execute(text("SELECT operation FROM audit_log ORDER BY seq DESC LIMIT 1"))).scalar_one()
    assert last == "createBackup"

    await registered(db, 2)  # written after the backup: not restored
    create_user("after-backup", live)
    assert (await counts_in({"SIKS_DATABASE_URL": settings.database_url}, settings))["households"] == 5

    restored = siks("restore", str(output), env=fresh_target)
    assert restored.returncode == 0, restored.stderr
    assert "match the manifest" in restored.stdout
    counts = await counts_in(fresh_target, settings)
    expected = dict(manifest["row_counts"], audit_log=manifest["row_counts"]["audit_log"] + 1)  # + the restore
    assert counts == expected
    assert counts["households"] == 3 and counts["users"] == 1
    photo = Path(fresh_target["SIKS_PHOTO_DIR"]) / "32.01.01" / "visit-1.jpg"
    assert photo.read_bytes() == (Path(live["SIKS_PHOTO_DIR"]) / "32.01.01" / "visit-1.jpg").read_bytes()
    model = Path(fresh_target["SIKS_MODEL_DIR"]) / "pmt-2026.cbm"
    assert sha256_of(model) == manifest["files"]["models/pmt-2026.cbm"]
    status = siks("db", "status", env=fresh_target)
    assert status.returncode == 0 and "current" in status.stdout, status.stdout + status.stderr
    verified = siks("audit", "verify", env=fresh_target)
    assert verified.returncode == 0, verified.stderr
    assert "audit log intact" in verified.stdout

    # The restored database is not empty now: a second restore is refused, then allowed with --force.
    again = siks("restore", str(output), env=fresh_target)
    assert again.returncode == 2 and "not empty" in again.stderr and "--force" in again.stderr
    forced = siks("restore", str(output), "--force", env=fresh_target)
    assert forced.returncode == 0, forced.stderr
    assert (await counts_in(fresh_target, settings))["households"] == 3


async def test_a_corrupt_backup_changes_nothing(
    db: AsyncEngine, settings: Settings, tmp_path: Path, fresh_target: dict[str, str]
) -> None:
    live = live_folders(tmp_path)
    await registered(db, 2)
    good, bad = tmp_path / "good", tmp_path / "bad"
    assert siks("backup", "--output", str(good), env=live).returncode == 0
    assert siks("restore", str(good), env=fresh_target).returncode == 0
    await registered(db, 1)
    assert siks("backup", "--output", str(bad), env=live).returncode == 0
    before = await counts_in(fresh_target, settings)
    photos_before = sorted(p.name for p in Path(fresh_target["SIKS_PHOTO_DIR"]).rglob("*"))

    database_file = sorted(name for name in json.loads((bad / MANIFEST).read_text())["files"] if "database/" in name)[
        -1
    ]
    damaged = bad / database_file
    original = damaged.read_bytes()
    damaged.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    refused = siks("restore", str(bad), "--force", env=fresh_target)
    assert refused.returncode == 2
    assert f"{database_file}: checksum differs" in refused.stderr and "nothing was restored" in refused.stderr
    assert await counts_in(fresh_target, settings) == before
    assert sorted(p.name for p in Path(fresh_target["SIKS_PHOTO_DIR"]).rglob("*")) == photos_before

    damaged.write_bytes(original)  # intact again, but a file the manifest does not list is refused too
    (bad / "photos" / "extra.jpg").write_bytes(b"slipped in")
    refused = siks("restore", str(bad), "--force", env=fresh_target)
    assert refused.returncode == 2 and "photos/extra.jpg: not in the manifest" in refused.stderr
    assert await counts_in(fresh_target, settings) == before


async def test_restore_into_the_live_database_needs_force(db: AsyncEngine, settings: Settings, tmp_path: Path) -> None:
    live = live_folders(tmp_path)
    output = tmp_path / "backup"
    assert siks("backup", "--output", str(output), env=live).returncode == 0
    before = await counts_in({"SIKS_DATABASE_URL": settings.database_url}, settings)
    refused = siks("restore", str(output), env=live)
    assert refused.returncode == 2
    assert "the target is not empty" in refused.stderr and "tables" in refused.stderr
    assert await counts_in({"SIKS_DATABASE_URL": settings.database_url}, settings) == before


def test_backup_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("an earlier backup")
    refused = siks("backup", "--output", str(tmp_path / "old"), env=live_folders(tmp_path))
    assert refused.returncode == 2 and "not an empty folder" in refused.stderr
    assert (tmp_path / "old" / "keep.txt").read_text() == "an earlier backup"


def test_backup_refuses_a_folder_inside_the_photo_folder(tmp_path: Path) -> None:
    live = live_folders(tmp_path)
    inside = Path(live["SIKS_PHOTO_DIR"]) / "backup"
    refused = siks("backup", "--output", str(inside), env=live)
    assert refused.returncode == 2 and "which the backup copies" in refused.stderr
    assert not inside.exists()


def test_restore_refuses_a_folder_that_is_not_a_backup(tmp_path: Path) -> None:
    refused = siks("restore", str(tmp_path))
    assert refused.returncode == 2 and "no manifest.json" in refused.stderr


async def test_a_backup_taken_while_households_are_written_is_one_moment(
    db: AsyncEngine, settings: Settings, tmp_path: Path, fresh_target: dict[str, str]
) -> None:
    """Households are registered while the backup runs; its row counts and its database agree (the
    restore checks them against each other) and fall between the counts before and after."""
    live = live_folders(tmp_path)
    await registered(db, 5)
    output = tmp_path / "backup"
    done, started = asyncio.Event(), asyncio.Event()

    async def keep_writing() -> int:
        written = 0
        while not done.is_set():
            await registered(db, 2)
            written += 2
            started.set()
            await asyncio.sleep(0.005)
        return written

    writer = asyncio.create_task(keep_writing())
    await started.wait()
    made = await asyncio.to_thread(siks, "backup", "--output", str(output), env=live)
    done.set()
    written = await writer
    assert made.returncode == 0, made.stderr
    households = json.loads((output / MANIFEST).read_text())["row_counts"]["households"]
    assert 5 < households <= 5 + written
    restored = siks("restore", str(output), env=fresh_target)
    assert restored.returncode == 0, restored.stderr
    assert (await counts_in(fresh_target, settings))["households"] == households
