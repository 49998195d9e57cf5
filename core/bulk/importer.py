"""Importing households from a file: streamed, checked in worker processes, loaded in batches.

1. A cheap pre-pass refuses a file that cannot be imported at all (``FileRefused``); nothing
   is written then.
2. Rows are grouped into households (consecutive rows with one KK number) and batches; each
   batch is checked by the household rules in a worker process while the main process writes.
3. Per batch, one transaction inserting the batch with ``insert_rows``; set-based registry
   checks (``core.bulk.claims``) only when the unique indexes say the registry holds some of it.
   A killed import leaves whole batches only; the natural keys (KK, NIK) make a re-run skip what
   is already there, so it resumes without duplicates. Each household loaded writes its DCI
   event (``core.dci.events``) in the batch's transaction: one multi-row insert a batch.
4. Every batch that loads households writes its audit row in that same transaction (file, run,
   batch number, row range, counts, the range of ids given), so whatever a killed import committed
   is audited; one more row at the end sums the run up.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from core.audit.log import RequestInfo
from core.audit.log import record as audit
from core.bulk.archive import WorkbookLimits
from core.bulk.claims import HOUSEHOLDS, MEMBERS, Claims, claim, claim_unregistered
from core.bulk.records import FileHousehold, Record
from core.bulk.report import ErrorReport, default_report_path
from core.bulk.sources import HouseholdFile, Survey, open_household_file
from core.bulk.validation import Candidate, CheckContext, CheckedBatch, check_batch
from core.bulk.workers import CheckingPool
from core.bulk.writer import insert_rows
from core.dci.events import Event, EventKind, record_events
from core.foundation.enums import MemberStatus, RecordStatus
from core.foundation.ids import ids
from core.foundation.settings import get_settings
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.models import Region
from core.storage.db import refresh_statistics, write_transaction

HOUSEHOLD_INSERT = ("id", *HOUSEHOLD_COLUMNS, "status", "version", "created_at", "updated_at")
KK_AT, VILLAGE_AT = HOUSEHOLD_INSERT.index("kk_number"), HOUSEHOLD_INSERT.index("village_code")
MEMBER_INSERT = ("id", "household_id", *MEMBER_COLUMNS, "status", "version", "created_at", "updated_at")


PARALLEL_FROM_ROWS = 50_000
CHECK_CHUNK = 500  # households a worker checks at a time: the writer waits less for the first batch
LOOKAHEAD = 1  # batches checked ahead of the writer; more only makes the workers compete with the database for CPU


def default_workers() -> int:
    """One checking process per CPU this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class ImportOptions:
    batch_households: int = 5000  # households per transaction
    workers: int | None = None  # checking processes; 0: in this process; None: chosen by the file's size
    progress: bool = False  # a tqdm bar on stderr
    workbook_limits: WorkbookLimits | None = None  # how far an XLSX file may unzip; None: from the settings


class ImportInterrupted(RuntimeError):
    """A batch could not be written; the batches before it stay loaded and a re-run resumes."""


@dataclass(slots=True)
class ImportSummary:
    """What an import did; ``run`` names it in the audit log."""

    report: Path
    run: str = ""
    loaded: int = 0
    present: int = 0  # already registered with the same data: skipped
    rejected: int = 0
    rows: int = 0
    rejected_rows: int = 0
    errors: int = 0  # lines in the error report
    seconds: float = 0.0

    @property
    def households(self) -> int:
        return self.loaded + self.present + self.rejected

    def line(self) -> str:
        rate = self.households / self.seconds if self.seconds else 0.0
        if self.errors:
            rejected = (
                f"{self.rejected:,} rejected ({self.rejected_rows:,} rows; {self.errors:,} errors listed in "
                f"{self.report})"
            )
        else:
            rejected = "0 rejected"
        return (
            f"loaded {self.loaded:,} households, {self.present:,} already present, {rejected}; "
            f"{self.rows:,} rows in {self.seconds:.1f} s ({rate:,.0f} households/s)"
        )


def file_households(source: HouseholdFile, survey: Survey, batch_size: int) -> Iterator[list[FileHousehold]]:
    """Batches of ``batch_size`` households, a household being consecutive rows with one KK number.

    Only the KK cell of each record is looked at here; blank rows stay with the household before them.
    """
    kk_of = source.kk_of
    position = survey.kk_position
    batch: list[FileHousehold] = []
    records: list[Record] = []
    first_row = 2
    current: str | None = None
    for number, record in enumerate(source.records(), start=2):
        kk = kk_of(record, position)
        if kk is not None and kk != current:
            if current is not None:
                batch.append((first_row, records))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
                records = []
                first_row = number
            current = kk
        records.append(record)
    if current is not None:
        batch.append((first_row, records))
    if batch:
        yield batch


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Batches make many short-lived objects and no reference cycles: collect garbage less often."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


async def checked_batches(
    batches: Iterator[Sequence[FileHousehold]], context: CheckContext, workers: int
) -> AsyncIterator[CheckedBatch]:
    """The batches checked in order: in ``workers`` processes, in chunks, one batch ahead of the writer."""
    if workers < 1:
        for households in batches:
            yield check_batch(households, context)
        return
    async with CheckingPool(workers, context) as pool:
        pending: deque[list[asyncio.Future[CheckedBatch]]] = deque()
        for households in batches:
            pending.append(
                [
                    pool.submit(households[start : start + CHECK_CHUNK])
                    for start in range(0, len(households), CHECK_CHUNK)
                ]
            )
            if len(pending) > LOOKAHEAD:
                yield _joined([await chunk for chunk in pending.popleft()])
        while pending:
            yield _joined([await chunk for chunk in pending.popleft()])


def _joined(chunks: Sequence[CheckedBatch]) -> CheckedBatch:
    return CheckedBatch(
        candidates=[candidate for chunk in chunks for candidate in chunk.candidates],
        errors=[error for chunk in chunks for error in chunk.errors],
        rejected=sum(chunk.rejected for chunk in chunks),
        rows=sum(chunk.rows for chunk in chunks),
    )


def workbook_limits() -> WorkbookLimits:
    """The XLSX limits of the settings (``SIKS_XLSX_MAX_*``)."""
    settings = get_settings()
    return WorkbookLimits(
        max_uncompressed_bytes=settings.xlsx_max_uncompressed_bytes,
        max_compression_ratio=settings.xlsx_max_compression_ratio,
        max_cell_bytes=settings.xlsx_max_cell_bytes,
    )


async def region_codes(engine: AsyncEngine) -> frozenset[str]:
    async with engine.connect() as conn:
        return frozenset(await conn.scalars(select(Region.code)))


async def _insert(conn: AsyncConnection, loadable: Sequence[Candidate]) -> list[int]:
    """The households and their members, with new ids (returned, in order); IntegrityError if a unique index
    refuses one."""
    now = datetime.now(UTC)
    household_tail = (RecordStatus.ACTIVE.value, 1, now, now)
    member_tail = (MemberStatus.ACTIVE.value, 1, now, now)
    household_ids = ids.take(len(loadable))
    member_ids = iter(ids.take(sum(len(candidate.members) for candidate in loadable)))
    households = [
        (id_, *candidate.values, *household_tail) for id_, candidate in zip(household_ids, loadable, strict=True)
    ]
    members = [
        (next(member_ids), id_, *member, *member_tail)
        for id_, candidate in zip(household_ids, loadable, strict=True)
        for member in candidate.members
    ]
    await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, households)
    await insert_rows(conn, MEMBERS, MEMBER_INSERT, members)
    await record_events(
        conn,
        [
            Event(EventKind.HOUSEHOLD_REGISTERED, id_, identifier=row[KK_AT], village_code=row[VILLAGE_AT])
            for id_, row in zip(household_ids, households, strict=True)
        ],
    )
    return household_ids


@dataclass(frozen=True, slots=True)
class BatchTrace:
    """Where a batch comes from, for its audit row: who loads which file, which run, which rows."""

    request: RequestInfo
    file: str
    run: str
    number: int  # 1, 2, ... in file order
    first_row: int
    last_row: int


async def _audit_batch(
    conn: AsyncConnection, trace: BatchTrace, checked: CheckedBatch, claims: Claims, household_ids: Sequence[int]
) -> None:
    """The batch's audit row, in its transaction: what a killed import committed is audited."""
    await audit(
        conn,
        trace.request,
        operation="importHouseholdsBatch",
        entity="household_file",
        entity_id=f"{trace.run}:{trace.number}",
        after={
            "file": trace.file,
            "run": trace.run,
            "batch": trace.number,
            "rows": [trace.first_row, trace.last_row],
            "loaded": len(claims.loadable),
            "present": claims.present,
            "rejected": checked.rejected + claims.rejected,
            "household_ids": [min(household_ids), max(household_ids)],
        },
    )


async def store_batch(engine: AsyncEngine, checked: CheckedBatch, trace: BatchTrace) -> Claims:
    """Registry checks, inserts and the audit row of one batch, in one transaction.

    First the batch goes in as if the registry held none of its KK numbers and NIKs, inside a
    savepoint: a fresh load (the common case) then costs no lookups. If a unique index refuses it,
    the savepoint is undone and the registry is asked which households are present or taken.
    A batch that loads nothing writes nothing, not even an audit row.
    """
    async with write_transaction(engine) as conn:
        hopeful = claim_unregistered(checked.candidates)
        if hopeful.loadable:
            try:
                async with conn.begin_nested():
                    household_ids = await _insert(conn, hopeful.loadable)
            except IntegrityError:
                pass  # some are registered already: find out which
            else:
                await _audit_batch(conn, trace, checked, hopeful, household_ids)
                return hopeful
        claims = await claim(conn, checked.candidates)
        if not claims.loadable:
            return claims
        try:
            household_ids = await _insert(conn, claims.loadable)
        except IntegrityError as exc:
            first, last = claims.loadable[0].first_row, claims.loadable[-1].member_rows[-1]
            raise ImportInterrupted(
                f"rows {first}-{last} were not loaded: another process registered some of their KK numbers or NIKs "
                "at the same time; run the import again to continue (loaded batches are skipped)"
            ) from exc
        await _audit_batch(conn, trace, checked, claims, household_ids)
    return claims


def _row_ranges(
    batches: Iterable[Sequence[FileHousehold]], ranges: deque[tuple[int, int]]
) -> Iterator[Sequence[FileHousehold]]:
    """The batches as they are, noting each one's first and last row in ``ranges`` as it passes."""
    for households in batches:
        last_row, last_records = households[-1]
        ranges.append((households[0][0], last_row + len(last_records) - 1))
        yield households


async def import_households(
    engine: AsyncEngine,
    path: Path,
    *,
    request: RequestInfo,
    report_path: Path | None = None,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Import a household file as ``request``'s caller; FileRefused (nothing written) when the file cannot be
    imported at all. Each batch that loads households is audited with it, the whole run at the end."""
    options = options or ImportOptions()
    started = time.perf_counter()
    source = open_household_file(path, options.workbook_limits or workbook_limits())
    survey = source.survey()
    context = CheckContext(
        region_codes=await region_codes(engine),
        today=date.today(),
        positions=survey.positions,
        width=survey.width,
        text_records=survey.text_records,
    )
    summary = ImportSummary(report=report_path or default_report_path(path), run=secrets.token_hex(6))
    workers = options.workers
    if workers is None:  # a pool takes seconds to start: worth it for big files only
        workers = default_workers() if survey.data_rows >= PARALLEL_FROM_ROWS else 0
    ranges: deque[tuple[int, int]] = deque()
    batches = _row_ranges(file_households(source, survey, options.batch_households), ranges)
    with (
        _fewer_collections(),
        ErrorReport(summary.report) as report,
        tqdm(total=survey.data_rows, unit=" rows", file=sys.stderr, disable=not options.progress) as bar,
    ):
        async with aclosing(checked_batches(batches, context, workers)) as checked_stream:
            number = 0
            async for checked in checked_stream:
                number += 1
                first_row, last_row = ranges.popleft()
                trace = BatchTrace(request, str(path), summary.run, number, first_row, last_row)
                claims = await store_batch(engine, checked, trace)
                report.add(checked.errors + claims.errors)
                summary.loaded += len(claims.loadable)
                summary.present += claims.present
                summary.rejected += checked.rejected + claims.rejected
                summary.rows += checked.rows
                summary.rejected_rows += (
                    claims.rejected_rows
                    + checked.rows
                    - sum(len(candidate.member_rows) for candidate in checked.candidates)
                )
                bar.update(checked.rows)
                bar.set_postfix_str(
                    f"loaded {summary.loaded:,}, present {summary.present:,}, rejected {summary.rejected:,}",
                    refresh=False,
                )
        summary.errors = report.errors
    if summary.loaded:
        await refresh_statistics(engine)
    summary.seconds = time.perf_counter() - started
    async with write_transaction(engine) as conn:
        await audit(
            conn,
            request,
            operation="importHouseholds",
            entity="household_file",
            entity_id=summary.run,
            after={
                "file": str(path),
                "run": summary.run,
                "batches": number,
                "loaded": summary.loaded,
                "present": summary.present,
                "rejected": summary.rejected,
                "rows": summary.rows,
                "summary": summary.line(),
            },
        )
    return summary
