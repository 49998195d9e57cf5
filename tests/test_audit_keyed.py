"""Finding 10: the audit chain is keyed with a key the database does not hold, and its head is anchored
outside the database by signed checkpoints, so rewriting the log with database access alone is found."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.checkpoints import read_checkpoints, write_checkpoint
from core.audit.keys import AuditKeyRefused, AuditKeyring
from core.audit.log import (
    AUDIT,
    GENESIS,
    HEAD,
    LEGACY_FIELDS,
    AuditItem,
    RequestInfo,
    legacy_hash,
    record,
    record_many,
    row_hash,
)
from core.audit.verify import verify_chain
from core.auth.principal import Principal
from core.cli.users import cli_request
from core.foundation.settings import Mode, Settings
from core.http.app import create_app
from core.storage import migrate
from core.storage.db import create_engine, write_transaction
from tests.cli_support import Ran
from tests.cli_support import siks as run_siks
from tests.serving import PRODUCTION_SECRET, production, serve

KEY_A = "audit-key-a-" + "a" * 40
KEY_B = "audit-key-b-" + "b" * 40
GUESSED = "what-an-attacker-without-the-key-uses-" + "x" * 20


def keyed(empty_database: dict[str, str], key: str = KEY_A, retired: str | None = None) -> Settings:
    return Settings(
        database_url=empty_database["SIKS_DATABASE_URL"],
        database_schema=empty_database.get("SIKS_DATABASE_SCHEMA"),
        audit_key=key,
        audit_retired_keys=retired,
    )


@pytest.fixture
async def log_engine(empty_database: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    """A fresh, migrated database whose audit rows are keyed with KEY_A."""
    engine = create_engine(keyed(empty_database))
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def append(engine: AsyncEngine, *actors: str) -> None:
    async with write_transaction(engine) as conn:
        for actor in actors:
            who = Principal(username=actor, role="data_centre", scope="")
            await record(conn, RequestInfo(who, "cli"), operation="createUser", entity="user", entity_id=1)


async def rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(select(AUDIT).order_by(AUDIT.c.seq))).mappings()]


UNKEYED = {"chain_version": 1, "key_id": None}


async def rewrite_from(
    engine: AsyncEngine,
    seq: int,
    change: dict[str, Any],
    rehash: Callable[[dict[str, Any]], str],
    every: dict[str, Any] | None = None,
) -> None:
    """The attack: change row ``seq``, recompute its hash and every later one with ``rehash`` (after applying
    ``every`` to each), and move the head."""
    chain = await rows(engine)
    prev = GENESIS if seq == 1 else chain[seq - 2]["hash"]
    async with engine.begin() as conn:
        for row in chain[seq - 1 :]:
            row.update(every or {})
            row.update(change if row["seq"] == seq else {})
            row["prev_hash"] = prev
            row["hash"] = prev = rehash(row)
            values = {name: row[name] for name in (*LEGACY_FIELDS, "chain_version", "key_id", "hash")}
            await conn.execute(update(AUDIT).where(AUDIT.c.seq == row["seq"]).values(**values))
        await conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=chain[-1]["seq"], hash=prev))


async def test_finding_10_rewriting_an_actor_with_the_projects_own_hash_but_not_the_key_fails_verify(
    log_engine: AsyncEngine,
) -> None:
    await append(log_engine, "operator.satu", "operator.dua", "operator.tiga")
    assert (await verify_chain(log_engine)).ok
    # The project's own function with a key the attacker can know (the development default, or a guess).
    for guess in (Settings().audit_key, GUESSED):
        attacker = AuditKeyring.of(Settings(audit_key=guess))
        await rewrite_from(
            log_engine,
            2,
            {"actor": "someone.else"},
            lambda row, attacker=attacker: _rekey(row, attacker),
        )
        report = await verify_chain(log_engine)
        assert not report.ok and report.problems[0].startswith("row 2 was changed after it was written"), report


def _rekey(row: dict[str, Any], keyring: AuditKeyring) -> str:
    """row_hash under the attacker's keyring, keeping the row's key id (the one it names, not the one they hold)."""
    stolen = AuditKeyring(current_id=row["key_id"], keys={row["key_id"]: next(iter(keyring.keys.values()))})
    found = row_hash(row, stolen)
    assert found is not None
    return found


async def test_finding_10_downgrading_rows_to_the_unkeyed_chain_fails_verify(log_engine: AsyncEngine) -> None:
    await append(log_engine, "operator.satu", "operator.dua", "operator.tiga")
    # Declare rows 2 and 3 unkeyed and recompute them with the project's legacy (unkeyed) function.
    await rewrite_from(log_engine, 2, {"actor": "someone.else"}, legacy_hash, every=UNKEYED)
    report = await verify_chain(log_engine)
    assert not report.ok
    assert report.problems[0] == "row 2 is unkeyed but follows keyed rows: it was rewritten without the audit key"


async def test_finding_10_a_whole_history_rewritten_contradicts_the_checkpoint(
    log_engine: AsyncEngine, tmp_path: Path
) -> None:
    """Rewritten from the first row (unkeyed), or even by someone holding the key, the chain is consistent in
    itself: only the checkpoint written before shows it."""
    checkpoints = tmp_path / "checkpoints.jsonl"
    await append(log_engine, "operator.satu", "operator.dua", "operator.tiga")
    written = await write_checkpoint(log_engine, checkpoints)
    assert written is not None and written.seq == 3
    await rewrite_from(log_engine, 1, {"actor": "someone.else"}, legacy_hash, every=UNKEYED)
    assert (await verify_chain(log_engine)).ok  # without its anchor, an all-unkeyed chain looks like an old one
    report = await verify_chain(log_engine, checkpoints)
    assert not report.ok
    assert report.problems[0].startswith("row 3 does not match checkpoint line 1 ("), report.problems
    assert "the log was rewritten up to row 3" in report.problems[0]


async def test_finding_10_truncating_after_a_checkpoint_fails_verify(log_engine: AsyncEngine, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    await append(log_engine, "operator.satu", "operator.dua", "operator.tiga")
    await write_checkpoint(log_engine, checkpoints)
    second = (await rows(log_engine))[1]
    async with log_engine.begin() as conn:  # drop the tail and move the head back: the chain itself stays whole
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
        await conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=2, hash=second["hash"]))
    assert (await verify_chain(log_engine)).ok
    report = await verify_chain(log_engine, checkpoints)
    assert not report.ok
    assert report.problems == [
        f"checkpoint line 1 ({read_checkpoints(checkpoints, AuditKeyring.of(Settings(audit_key=KEY_A)))[0][1].at}) "  # type: ignore[union-attr]
        "names row 3, but the log ends at row 2: rows at the end were deleted"
    ]


async def test_the_normal_path_passes_with_its_checkpoints(log_engine: AsyncEngine, tmp_path: Path) -> None:
    checkpoints = tmp_path / "nested" / "checkpoints.jsonl"
    assert await write_checkpoint(log_engine, checkpoints) is None  # an empty log has no head to anchor
    await append(log_engine, "operator.satu", "operator.dua")
    assert (await write_checkpoint(log_engine, checkpoints)) is not None
    assert await write_checkpoint(log_engine, checkpoints) is None  # the file already ends with this head
    async with write_transaction(log_engine) as conn:
        await record_many(conn, cli_request(), [AuditItem("createUser", "user", n) for n in range(3)])
    await write_checkpoint(log_engine, checkpoints)
    report = await verify_chain(log_engine, checkpoints)
    assert report.ok and (report.checked, report.checkpoints, report.unkeyed) == (5, 2, 0), report
    assert [row["chain_version"] for row in await rows(log_engine)] == [2] * 5
    assert oct(checkpoints.stat().st_mode & 0o777) == "0o640"


async def test_a_forged_or_damaged_checkpoint_line_is_named(log_engine: AsyncEngine, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    await append(log_engine, "operator.satu")
    written = await write_checkpoint(log_engine, checkpoints)
    assert written is not None
    forged = written.line().replace(written.mac, "0" * 64)
    with checkpoints.open("a") as file:
        file.write(forged + "\n{not json\n")
    report = await verify_chain(log_engine, checkpoints)
    assert report.problems == [
        f"checkpoint line 2 of {checkpoints} has a signature the audit key did not make (forged or damaged)",
        f"checkpoint line 3 of {checkpoints} is not a checkpoint (damaged)",
    ]


async def test_a_rotated_key_keeps_old_rows_verifiable(empty_database: dict[str, str], tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    first = create_engine(keyed(empty_database, KEY_A))
    await migrate.upgrade(first)
    await append(first, "operator.satu", "operator.dua")
    await write_checkpoint(first, checkpoints)
    await first.dispose()
    rotated = create_engine(keyed(empty_database, KEY_B, retired=f"{KEY_A}, "))
    forgotten = create_engine(keyed(empty_database, KEY_B))
    try:
        await append(rotated, "operator.tiga")
        await write_checkpoint(rotated, checkpoints)
        key_ids = [row["key_id"] for row in await rows(rotated)]
        assert key_ids[0] == key_ids[1] != key_ids[2]
        report = await verify_chain(rotated, checkpoints)
        assert report.ok and report.checkpoints == 2, report
        without_old_key = await verify_chain(forgotten, checkpoints)
        assert without_old_key.problems[0] == (
            f"checkpoint line 1 of {checkpoints} is signed with audit key {key_ids[0]}, which is not configured "
            "(add it to SIKS_AUDIT_RETIRED_KEYS)"
        )
        assert without_old_key.problems[1].startswith(f"row 1 is keyed with audit key {key_ids[0]}, which is not")
    finally:
        await rotated.dispose()
        await forgotten.dispose()


async def test_rows_from_before_the_key_stay_verifiable_and_keyed_rows_follow_them(
    empty_database: dict[str, str],
) -> None:
    """Migration 0009: unkeyed rows keep their version-1 hashes; the first keyed row links to the last of them."""
    engine = create_engine(keyed(empty_database))
    try:
        await migrate.upgrade(engine, "0008")
        prev = GENESIS
        async with engine.begin() as conn:  # two rows as the code before 0009 wrote them
            for seq in (1, 2):
                row: dict[str, Any] = {name: None for name in LEGACY_FIELDS}
                row |= {"seq": seq, "at": datetime(2026, 1, seq, tzinfo=UTC), "actor": f"old.{seq}", "role": "cli"}
                row |= {"scope": "", "client": "cli", "request_id": "-", "operation": "createUser", "entity": "user"}
                row |= {"entity_id": str(seq), "outcome": "ok", "prev_hash": prev}
                row["hash"] = prev = legacy_hash(row)
                await conn.execute(insert(_legacy_table()), [row])
            await conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=2, hash=prev))
        await migrate.upgrade(engine)
        await append(engine, "new.3")
        report = await verify_chain(engine)
        assert report.ok and (report.checked, report.unkeyed) == (3, 2), report
        assert report.notes == ["rows 1-2 predate the audit key (unkeyed SHA-256): only checkpoints protect them"]
        chain = await rows(engine)
        assert [(r["chain_version"], r["key_id"] is None) for r in chain] == [(1, True), (1, True), (2, False)]
        assert chain[2]["prev_hash"] == chain[1]["hash"]
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET actor = 'rewritten' WHERE seq = 1"))
        assert (await verify_chain(engine)).problems[0].startswith("row 1 was changed after it was written")
    finally:
        await engine.dispose()


def _legacy_table() -> Table:
    """audit_log as it was before 0009 (without chain_version and key_id)."""
    return Table("audit_log", MetaData(), *(Column(name) for name in (*LEGACY_FIELDS, "hash")))


async def test_production_refuses_a_weak_audit_key(settings: Settings) -> None:
    cases = [
        ({}, "SIKS_AUDIT_KEY is the development default"),
        ({"audit_key": "short"}, "SIKS_AUDIT_KEY is shorter than 32 characters"),
        ({"audit_key": PRODUCTION_SECRET}, "SIKS_AUDIT_KEY must differ from SIKS_SECRET_KEY"),
    ]
    for changes, message in cases:
        weak = settings.model_copy(update={"mode": Mode.PRODUCTION, "secret_key": PRODUCTION_SECRET, **changes})
        app = create_app(weak)
        with pytest.raises(RuntimeError, match=message):
            async with app.router.lifespan_context(app):
                pass
        engine = create_engine(weak)  # the command line refuses to key rows with it too
        try:
            with pytest.raises(AuditKeyRefused, match=message):
                async with write_transaction(engine) as conn:
                    await record(conn, cli_request(), operation="x", entity="user", entity_id=1)
        finally:
            await engine.dispose()


async def test_the_server_writes_checkpoints_while_it_runs(db: AsyncEngine, settings: Settings, tmp_path: Path) -> None:
    checkpoints = tmp_path / "server.jsonl"
    served = production(settings, audit_checkpoint_file=checkpoints, audit_checkpoint_seconds=0.1)
    async with serve(served) as http:
        response = await http.post("/graphql", json={"query": "{ me { username } }"}, headers={"x-api-key": "bad"})
        assert response.status_code == 401  # a denied authentication is audited: the log grew
        for _ in range(100):
            if checkpoints.exists() and checkpoints.read_text().strip():
                break
            await asyncio.sleep(0.05)
    lines = read_checkpoints(checkpoints, AuditKeyring.of(served))
    assert lines and all(not isinstance(item, Exception) for _, item in lines)
    async with db.connect() as conn:
        head = (await conn.execute(select(HEAD.c.seq))).scalar_one()
    assert lines[-1][1].seq == head  # type: ignore[union-attr]


def test_siks_audit_checkpoint_and_verify_commands(empty_database: dict[str, str], tmp_path: Path) -> None:
    checkpoints = tmp_path / "cli.jsonl"
    env = {**os.environ, **empty_database, "SIKS_AUDIT_KEY": KEY_A, "SIKS_AUDIT_CHECKPOINT_FILE": str(checkpoints)}
    settings = keyed(empty_database)

    async def prepare() -> None:
        engine = create_engine(settings)
        await migrate.upgrade(engine)
        await append(engine, "operator.satu", "operator.dua", "operator.tiga")
        await engine.dispose()

    async def truncate() -> None:
        engine = create_engine(settings)
        second = (await rows(engine))[1]
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
            await conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=2, hash=second["hash"]))
        await engine.dispose()

    def siks(*args: str) -> Ran:
        return run_siks("audit", *args, env=env)

    asyncio.run(prepare())
    unanchored = siks("verify")
    assert unanchored.returncode == 0 and "no checkpoint file at" in unanchored.stderr
    written = siks("checkpoint")
    assert written.returncode == 0 and "checkpoint: row 3 at " in written.stdout, written
    again = siks("checkpoint")
    assert again.returncode == 0 and "no new checkpoint" in again.stdout
    intact = siks("verify")
    assert intact.returncode == 0 and "audit log intact: 3 rows, 1 checkpoints match" in intact.stdout
    asyncio.run(truncate())
    broken = siks("verify")
    assert broken.returncode == 1
    assert "TAMPERED: checkpoint line 1 (" in broken.stderr
    assert "names row 3, but the log ends at row 2" in broken.stderr
    other_key = run_siks("audit", "verify", "--checkpoints", str(checkpoints), env={**env, "SIKS_AUDIT_KEY": KEY_B})
    assert other_key.returncode == 1 and "which is not configured" in other_key.stderr
