"""``siks audit verify``: recompute the chain and name the first row that was changed, inserted or deleted."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import AUDIT, GENESIS, HASHED_FIELDS, HEAD, row_hash

BATCH = 10_000


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_chain(engine: AsyncEngine) -> VerifyReport:
    """Walk the log in sequence order, in batches, checking numbering, links and hashes."""
    report = VerifyReport()
    expected_seq, prev_hash = 1, GENESIS
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
                if seq != expected_seq:
                    report.problems.append(
                        f"row {expected_seq} is missing (deleted): the log jumps from {expected_seq - 1} to {seq}"
                        if seq > expected_seq
                        else f"row {seq} appears out of order"
                    )
                    return report
                if row["prev_hash"] != prev_hash:
                    report.problems.append(f"row {seq} does not follow row {seq - 1} (a row was inserted or deleted)")
                    return report
                if row_hash({name: row[name] for name in HASHED_FIELDS}) != row["hash"]:
                    report.problems.append(f"row {seq} was changed after it was written (its hash does not match)")
                    return report
                prev_hash, expected_seq = row["hash"], seq + 1
            last = rows[-1]["seq"]
    if expected_seq - 1 != head_seq or prev_hash != head_hash:
        report.problems.append(
            f"the log ends at row {expected_seq - 1} but {head_seq} rows were written (rows at the end were deleted)"
        )
    return report
