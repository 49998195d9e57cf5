"""``siks audit verify``: recompute the chain with the audit keys, check it against the signed checkpoints,
and name the first row that was changed, inserted or deleted.

A keyed row (chain version 2) can only be recomputed with the audit key, which the database does
not hold; an unkeyed row (version 1) only before the first keyed one (rows written before
migration 0009). Every checkpoint must still match the chain: the row it names exists and has the
hash it recorded. A rewritten history or a truncated tail contradicts the checkpoints written
before it, however consistent the rewritten chain is in itself.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.checkpoints import BadCheckpoint, Checkpoint, read_checkpoints
from core.audit.keys import AuditKeyring, keyring_of
from core.audit.log import AUDIT, GENESIS, HEAD, KEYED_CHAIN, LEGACY_CHAIN, row_hash

BATCH = 10_000

Anchors = dict[int, list[tuple[int, Checkpoint]]]


@dataclass
class VerifyReport:
    checked: int = 0
    unkeyed: int = 0  # version 1 rows at the start of the chain
    checkpoints: int = 0  # checkpoints that matched the chain
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _anchors(path: Path, keyring: AuditKeyring, report: VerifyReport) -> Anchors:
    """The file's checkpoints by the row they name; damaged or forged lines are problems."""
    anchors: Anchors = {}
    if not path.exists():
        report.notes.append(
            f"no checkpoint file at {path}: the log is not anchored outside the database (run `siks audit checkpoint`)"
        )
        return anchors
    for number, item in read_checkpoints(path, keyring):
        if isinstance(item, BadCheckpoint):
            report.problems.append(f"checkpoint line {number} of {path} {item}")
        else:
            anchors.setdefault(item.seq, []).append((number, item))
    return anchors


async def verify_chain(engine: AsyncEngine, checkpoint_file: Path | None = None) -> VerifyReport:
    """Walk the log in sequence order, in batches, checking numbering, links, keyed hashes and checkpoints."""
    keyring = keyring_of(engine)
    report = VerifyReport()
    anchors = _anchors(checkpoint_file, keyring, report) if checkpoint_file is not None else {}
    expected_seq, prev_hash, keyed = 1, GENESIS, False
    async with engine.connect() as conn:
        head_seq, head_hash = (await conn.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1))).one()
        last = 0
        while True:
            rows = (
                (await conn.execute(select(AUDIT).where(AUDIT.c.seq > last).order_by(AUDIT.c.seq).limit(BATCH)))
                .mappings()
                .all()
            )
            if not rows:
                break
            for row in rows:
                report.checked += 1
                seq = row["seq"]
                problem = _row_problem(dict(row), expected_seq, prev_hash, keyed, keyring)
                problem = problem or _checkpoint_problem(seq, row["hash"], anchors.pop(seq, []), report)
                if problem:
                    report.problems.append(problem)
                    return report
                keyed = keyed or row["chain_version"] == KEYED_CHAIN
                report.unkeyed += not keyed
                prev_hash, expected_seq = row["hash"], seq + 1
            last = rows[-1]["seq"]
    end = expected_seq - 1
    for seq in sorted(anchors):
        for number, checkpoint in anchors[seq]:
            report.problems.append(
                f"checkpoint line {number} ({checkpoint.at}) names row {seq}, but the log ends at row {end}: "
                "rows at the end were deleted"
            )
    if end != head_seq or prev_hash != head_hash:
        report.problems.append(
            f"the log ends at row {end} but {head_seq} rows were written (rows at the end were deleted)"
        )
    if report.unkeyed:
        report.notes.append(
            f"rows 1-{report.unkeyed} predate the audit key (unkeyed SHA-256): only checkpoints protect them"
        )
    return report


def _row_problem(row: dict, expected_seq: int, prev_hash: str, keyed: bool, keyring: AuditKeyring) -> str | None:
    seq = row["seq"]
    if seq != expected_seq:
        if seq > expected_seq:
            return f"row {expected_seq} is missing (deleted): the log jumps from {expected_seq - 1} to {seq}"
        return f"row {seq} appears out of order"
    if row["prev_hash"] != prev_hash:
        return f"row {seq} does not follow row {seq - 1} (a row was inserted or deleted)"
    version = row["chain_version"]
    if version not in (LEGACY_CHAIN, KEYED_CHAIN):
        return f"row {seq} names chain version {version}, which does not exist (it was changed)"
    if version == LEGACY_CHAIN and keyed:
        return f"row {seq} is unkeyed but follows keyed rows: it was rewritten without the audit key"
    expected = row_hash(row, keyring)
    if expected is None:
        return (
            f"row {seq} is keyed with audit key {str(row['key_id'])[:16]}, which is not configured "
            "(add the retired key to SIKS_AUDIT_RETIRED_KEYS), or its key id was changed"
        )
    if not hmac.compare_digest(expected.encode(), str(row["hash"]).encode()):
        return f"row {seq} was changed after it was written (its hash does not match)"
    return None


def _checkpoint_problem(
    seq: int, hash_: str, anchors: list[tuple[int, Checkpoint]], report: VerifyReport
) -> str | None:
    for number, checkpoint in anchors:
        if checkpoint.hash != hash_:
            return (
                f"row {seq} does not match checkpoint line {number} ({checkpoint.at}): "
                f"the log was rewritten up to row {seq} after that checkpoint"
            )
        report.checkpoints += 1
    return None
