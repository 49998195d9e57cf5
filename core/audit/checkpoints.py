"""Signed checkpoints of the audit chain's head, kept outside the database.

A checkpoint is one JSON line ``{"seq", "hash", "at", "key_id", "mac"}``: the chain's last row and
its hash at a moment, signed with HMAC-SHA256 under the audit key. Lines are appended to
``SIKS_AUDIT_CHECKPOINT_FILE`` (and logged on ``siks.audit``, so a log shipper keeps a copy off
the host) by ``siks audit checkpoint`` and, every ``SIKS_AUDIT_CHECKPOINT_SECONDS``, by each
server whose log grew. Whoever rewrites the database afterwards (a changed row, a truncated
tail, a whole chain recomputed) contradicts a checkpoint, which ``siks audit verify`` names.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.keys import AuditKeyring, keyring_of
from core.audit.log import HEAD

CHECKPOINT_LABEL = b"siks audit checkpoint"
#: How much of the file's end is read to find its last checkpoint.
TAIL_BYTES = 4096

log = logging.getLogger("siks.audit")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at ``at``: row ``seq`` had hash ``hash``; ``mac`` signs all four under ``key_id``."""

    seq: int
    hash: str
    at: str
    key_id: str
    mac: str

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def _material(seq: int, hash_: str, at: str, key_id: str) -> str:
    return f"{seq}\x1f{hash_}\x1f{at}\x1f{key_id}"


def sign(keyring: AuditKeyring, seq: int, hash_: str, at: datetime) -> Checkpoint:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    key = keyring.signing_key()
    return Checkpoint(seq, hash_, stamp, key, keyring.sign(CHECKPOINT_LABEL, _material(seq, hash_, stamp, key)))


class BadCheckpoint(ValueError):
    """A line of the checkpoint file that is not a checkpoint signed by a configured audit key."""


def parse(line: str, keyring: AuditKeyring) -> Checkpoint:
    """The checkpoint on ``line``, its signature checked; BadCheckpoint says what is wrong with it."""
    try:
        fields = json.loads(line)
        checkpoint = Checkpoint(
            seq=int(fields["seq"]),
            hash=str(fields["hash"]),
            at=str(fields["at"]),
            key_id=str(fields["key_id"]),
            mac=str(fields["mac"]),
        )
    except (ValueError, TypeError, KeyError):
        raise BadCheckpoint("is not a checkpoint (damaged)") from None
    material = _material(checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.key_id)
    expected = keyring.mac(checkpoint.key_id, CHECKPOINT_LABEL, material)
    if expected is None:
        raise BadCheckpoint(
            f"is signed with audit key {checkpoint.key_id[:16]}, which is not configured "
            "(add it to SIKS_AUDIT_RETIRED_KEYS)"
        )
    if not hmac.compare_digest(expected.encode(), checkpoint.mac.encode()):
        raise BadCheckpoint("has a signature the audit key did not make (forged or damaged)")
    return checkpoint


def read_checkpoints(path: Path, keyring: AuditKeyring) -> list[tuple[int, Checkpoint | BadCheckpoint]]:
    """Every non-empty line of ``path`` by line number: its checkpoint, or what is wrong with it."""
    found: list[tuple[int, Checkpoint | BadCheckpoint]] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                found.append((number, parse(line, keyring)))
            except BadCheckpoint as problem:
                found.append((number, problem))
    return found


def _last_line(path: Path) -> str | None:
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TAIL_BYTES))
            tail = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    lines = [line for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else None


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (line + "\n").encode())  # one write: lines of several processes never interleave
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


async def write_checkpoint(engine: AsyncEngine, path: Path) -> Checkpoint | None:
    """Append a checkpoint of the chain's head to ``path``; None when the log is empty or the file's last
    checkpoint already holds this head (several servers share one file)."""
    keyring = keyring_of(engine)
    async with engine.connect() as conn:
        seq, hash_ = (await conn.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1))).one()
    if not seq:
        return None
    last = await asyncio.to_thread(_last_line, path)
    if last is not None:
        try:
            previous = parse(last, keyring)
        except BadCheckpoint:
            previous = None
        if previous is not None and (previous.seq, previous.hash) == (seq, hash_):
            return None
    checkpoint = sign(keyring, int(seq), hash_, datetime.now(UTC))
    await asyncio.to_thread(_append, path, checkpoint.line())
    log.info("audit checkpoint %s", checkpoint.line())
    return checkpoint


async def checkpoint_periodically(engine: AsyncEngine, path: Path, seconds: float) -> None:
    """The server's background task: a checkpoint every ``seconds`` while it runs; a failure is logged and
    the next round tries again (a database outage must not stop the server)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await write_checkpoint(engine, path)
        except Exception as exc:  # logged without the driver's text; retried next round
            log.warning("audit checkpoint not written: %s", type(exc).__name__)
