"""``siks reference load``: one extract file becomes a new snapshot of its source.

1. The file's sha256 (one streaming pass; CSV is checked to be UTF-8 on the way). The same
   file as the active snapshot's changes nothing.
2. The header must name every column of the source's layout (``core.reference.formats``);
   other columns are ignored.
3. Rows are checked (``core.reference.checks``) and written in batches with the bulk writer
   (``core.bulk.writer.insert_rows``: COPY on PostgreSQL, executemany on SQLite) under a
   ``loading`` snapshot; bad rows go to the error report with row and column, as in
   ``siks import``.
4. At the end, one transaction makes the snapshot active, supersedes the previous one and
   writes the audit row. A failure before that marks the snapshot failed and deletes its rows;
   a killed load leaves it ``loading``, never active, and the next load clears it. A file with
   no loadable row does not become a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from pathlib import Path

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.audit.log import record as audit
from core.bulk.archive import WorkbookLimits
from core.bulk.importer import _fewer_collections as fewer_collections
from core.bulk.importer import workbook_limits
from core.bulk.report import ErrorReport, default_report_path
from core.bulk.sources import FileRefused
from core.bulk.writer import insert_rows
from core.models import Region
from core.reference.checks import CHECKERS, STORED_COLUMNS, CheckContext
from core.reference.formats import COLUMNS, Source
from core.reference.readers import open_reference_file
from core.reference.snapshots import ROW_TABLES, activate, active_snapshot, begin_snapshot, fail_snapshot
from core.storage.db import refresh_statistics, write_transaction
from core.storage.locks import held_for_job

BATCH_ROWS = 20_000
YIELD_EVERY = 500  # rows checked between chances for the batch in flight to progress


class NothingLoadable(FileRefused):
    """Every row of the file was rejected; the previous snapshot stays active."""


class LoadInProgress(FileRefused):
    """Another process is loading the same source; nothing was read or changed."""


@dataclass
class LoadSummary:
    source: Source
    file: str
    sha256: str
    snapshot_id: int | None = None
    superseded: int | None = None
    unchanged: bool = False
    rows: int = 0
    loaded: int = 0
    rejected: int = 0
    noted: int = 0  # loaded, with a note in the report (a Dapodik pupil kept without their broken NIK)
    seconds: float = 0.0
    report: str | None = None

    def line(self) -> str:
        if self.unchanged:
            return (
                f"{self.source.value}: {self.file} is the active snapshot {self.snapshot_id} already "
                f"(sha256 {self.sha256[:12]}); nothing changed"
            )
        before = f"superseding snapshot {self.superseded}" if self.superseded else "the first snapshot"
        noted = f" ({self.noted:,} with a note)" if self.noted else ""
        return (
            f"{self.source.value}: snapshot {self.snapshot_id} active ({before}): loaded {self.loaded:,} rows{noted}, "
            f"rejected {self.rejected:,} (see {self.report}), in {self.seconds:.1f} s"
        )


def _positions(source: Source, header: list[str], name: str) -> list[int]:
    cleaned = [cell.strip().lower() for cell in header]
    wanted = [column.name for column in COLUMNS[source]]
    missing = [column for column in wanted if column not in cleaned]
    if missing:
        raise FileRefused(
            f"{name}: the header row lacks {', '.join(missing)} (a {source.value} extract has the columns "
            f"{', '.join(wanted)}; see docs/reference-data.md)"
        )
    doubled = sorted({column for column in wanted if cleaned.count(column) > 1})
    if doubled:
        raise FileRefused(f"{name}: the header row names {', '.join(doubled)} more than once")
    return [cleaned.index(column) for column in wanted]


async def _context(engine: AsyncEngine, today: date) -> CheckContext:
    async with engine.connect() as conn:
        villages = frozenset(await conn.scalars(select(Region.code).where(Region.level == 4)))
        districts = frozenset(await conn.scalars(select(Region.code).where(Region.level == 3)))
    return CheckContext(villages=villages, districts=districts, today=today)


async def load_reference(
    engine: AsyncEngine,
    source: Source,
    path: Path,
    *,
    request: RequestInfo,
    report_path: Path | None = None,
    batch_rows: int = BATCH_ROWS,
    today: date | None = None,
    limits: WorkbookLimits | None = None,
) -> LoadSummary:
    """Load ``path`` as a new snapshot of ``source``; FileRefused when it cannot be (nothing changes).

    One load of a source at a time: a second is refused while the first runs (LoadInProgress), so
    it cannot take the first's unfinished snapshot for one a killed load left.
    """
    async with held_for_job(engine, f"reference-load-{source.value}") as free:
        if not free:
            raise LoadInProgress(f"another load of {source.value} is running; try again when it has finished")
        return await _load(engine, source, path, request, report_path, batch_rows, today, limits)


async def _load(
    engine: AsyncEngine,
    source: Source,
    path: Path,
    request: RequestInfo,
    report_path: Path | None,
    batch_rows: int,
    today: date | None,
    limits: WorkbookLimits | None,
) -> LoadSummary:
    started = time.perf_counter()
    reader = open_reference_file(path, limits or workbook_limits())
    digest = reader.digest()
    summary = LoadSummary(source=source, file=str(path), sha256=digest)
    async with engine.connect() as conn:
        current = await active_snapshot(conn, source)
    if current is not None and current.sha256 == digest:
        summary.unchanged, summary.snapshot_id = True, current.id
        return summary
    rows = reader.rows()
    header = next(rows, None)
    if header is None or not any(cell.strip() for cell in header):
        raise FileRefused(f"{path.name} is empty; it needs a header row")
    positions = _positions(source, header, path.name)
    width = len(header)
    pick = itemgetter(*positions)
    check = CHECKERS[source](await _context(engine, today or date.today()))
    table = ROW_TABLES[source]
    columns = ("snapshot_id", "row_number", *STORED_COLUMNS[source])
    report_file = report_path or default_report_path(path)
    summary.report = str(report_file)
    snapshot_id = await begin_snapshot(engine, source, path.name, digest, request.principal.username)
    summary.snapshot_id = snapshot_id
    writer = _Pipeline(engine, table, columns)
    try:
        with ErrorReport(report_file) as report, fewer_collections():
            batch: list[tuple[object, ...]] = []
            for number, cells in enumerate(rows, start=2):
                if not "".join(cells).strip():
                    continue  # a blank row: skipped, still counted in row numbers
                summary.rows += 1
                if len(cells) != width and (len(cells) < width or "".join(cells[width:]).strip()):
                    report.add([(number, "columns", f"the row has {len(cells)} cells; the header has {width}")])
                    summary.rejected += 1
                    continue
                values, problems = check(pick(cells))
                if problems:
                    report.add([(number, column, reason) for column, reason in problems])
                    if not values:
                        summary.rejected += 1
                        continue
                    summary.noted += 1
                batch.append((snapshot_id, number, *values))
                if len(batch) >= batch_rows:
                    await writer.write(batch)
                    batch = []
                elif not len(batch) % YIELD_EVERY:
                    await asyncio.sleep(0)  # let the batch being written go on while this one is checked
            await writer.write(batch)
            summary.loaded = await writer.finish()
        if not summary.loaded:
            raise NothingLoadable(
                f"{path.name}: no row could be loaded ({summary.rejected:,} rejected, see {report_file})"
            )
        async with write_transaction(engine) as conn:
            summary.superseded = await activate(conn, source, snapshot_id, summary.loaded, summary.rejected)
            summary.seconds = time.perf_counter() - started
            await audit(
                conn,
                request,
                operation="loadReferenceSnapshot",
                entity="reference_snapshot",
                entity_id=str(snapshot_id),
                after={
                    "source": source.value,
                    "file": str(path),
                    "sha256": digest,
                    "snapshot": snapshot_id,
                    "superseded": summary.superseded,
                    "rows": summary.rows,
                    "loaded": summary.loaded,
                    "rejected": summary.rejected,
                    "noted": summary.noted,
                },
            )
    except BaseException:
        await writer.abandon()
        with contextlib.suppress(Exception):  # the database itself failed: the next load clears the snapshot
            await fail_snapshot(engine, source, snapshot_id)
        raise
    await refresh_statistics(engine, (table.name,))
    return summary


class _Pipeline:
    """Writes batches one at a time, each in its own transaction, while the next batch is checked."""

    def __init__(self, engine: AsyncEngine, table: Table, columns: tuple[str, ...]) -> None:
        self.engine, self.table, self.columns = engine, table, columns
        self.pending: asyncio.Task[int] | None = None
        self.written = 0

    async def _write(self, batch: list[tuple[object, ...]]) -> int:
        async with write_transaction(self.engine) as conn:
            return await insert_rows(conn, self.table, self.columns, batch)

    async def write(self, batch: list[tuple[object, ...]]) -> None:
        if self.pending is not None:
            self.written += await self.pending
            self.pending = None
        if batch:
            self.pending = asyncio.ensure_future(self._write(batch))

    async def finish(self) -> int:
        await self.write([])
        return self.written

    async def abandon(self) -> None:
        """Wait for the batch in flight (its rows are deleted with the snapshot), ignoring its failure."""
        if self.pending is not None:
            with contextlib.suppress(BaseException):
                await self.pending
            self.pending = None
