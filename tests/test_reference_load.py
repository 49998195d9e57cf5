"""``siks reference load``: snapshots of Adminduk, Dapodik and BPJS extracts (docs/reference-data.md)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.bulk.archive import WorkbookLimits
from core.bulk.sources import FileRefused
from core.models import AdmindukPerson, AuditEntry, BpjsMembership, DapodikPupil, ReferenceSnapshot
from core.reference.formats import Source, header
from core.reference.loader import LoadInProgress, LoadSummary, NothingLoadable, load_reference
from core.reference.queries import active_snapshots, rows_by_nik
from core.storage.locks import held_for_job
from tests.bulk_files import read_report
from tests.cli_support import siks
from tests.reference_files import adminduk_row, rows_of, write_csv, write_extract
from tests.test_bulk_import import _siks
from tests.test_xlsx_bomb import SHEET, one_cell_sheet, rewritten

OPERATOR = RequestInfo(Principal(username="cli:datacentre", role="cli", scope="", via="cli"), client="cli")
TABLES = {Source.ADMINDUK: AdmindukPerson, Source.DAPODIK: DapodikPupil, Source.BPJS: BpjsMembership}


async def load(db: AsyncEngine, source: Source, path: Path, **options: Any) -> LoadSummary:
    return await load_reference(db, source, path, request=OPERATOR, **options)


async def snapshots(db: AsyncEngine, source: Source) -> list[tuple[int, str, int, int]]:
    """(id, status, rows loaded, rows in the table) of each snapshot of ``source``, oldest first."""
    table = TABLES[source]
    async with db.connect() as conn:
        found = (
            await conn.execute(
                select(ReferenceSnapshot.id, ReferenceSnapshot.status, ReferenceSnapshot.rows_loaded)
                .where(ReferenceSnapshot.source == source.value)
                .order_by(ReferenceSnapshot.started_at, ReferenceSnapshot.id)
            )
        ).all()
        counted = dict(
            (await conn.execute(select(table.snapshot_id, func.count()).group_by(table.snapshot_id))).all()  # type: ignore[arg-type]
        )
    return [(id_, status, loaded, counted.get(id_, 0)) for id_, status, loaded in found]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
@pytest.mark.parametrize("source", list(Source))
async def test_each_source_loads_from_each_format(db: AsyncEngine, tmp_path: Path, source: Source, suffix: str) -> None:
    rows = list(rows_of(source, 40))
    path = write_extract(tmp_path / f"{source.value}{suffix}", source, rows)
    summary = await load(db, source, path, batch_rows=15)

    assert (summary.loaded, summary.rejected, summary.superseded) == (40, 0, None)
    assert read_report(Path(summary.report or "")) == []
    assert await snapshots(db, source) == [(summary.snapshot_id, "active", 40, 40)]
    table = TABLES[source]
    async with db.connect() as conn:
        first = (await conn.execute(select(table).where(table.row_number == 2))).one()._mapping  # type: ignore[arg-type]
    if source is Source.ADMINDUK:
        nik, kk, name, place, born, sex, village, status, _, updated = rows[0]
        assert (first["nik"], first["kk"], first["full_name"], first["birth_place"]) == (nik, kk, name, place)
        assert (first["birth_date"], first["birth_year"]) == (date.fromisoformat(born), int(born[:4]))
        assert (first["sex"], first["village_code"], first["regency_code"]) == ("female", village, village[:5])
        assert (first["status"], first["death_date"], first["updated_at"]) == (status, None, date(2026, 11, 30))
    elif source is Source.DAPODIK:
        assert (first["nisn"], first["nik"], first["level"], first["grade"]) == (rows[0][0], rows[0][1], "SD", 2)
        assert (first["enrolled"], first["attendance_pct"], first["semester"]) == (True, 92.5, "2026-1")
        async with db.connect() as conn:
            empty_nik = await conn.scalar(select(func.count()).where(DapodikPupil.nik.is_(None)))  # type: ignore[union-attr]
        assert empty_nik == 8  # every fifth pupil has no NIK
    else:
        assert (first["nik"], first["card_number"], first["segment"], first["active"]) == (
            rows[0][0], rows[0][1], "PBI-APBD", True,
        )  # fmt: skip


async def test_bad_rows_are_reported_with_row_and_field_and_left_out(db: AsyncEngine, tmp_path: Path) -> None:
    rows = [adminduk_row(n) for n in range(1, 11)]
    rows[0][0] = "12345"  # row 2: NIK too short
    rows[1][1] = "3200001234567890"  # row 3: KK with a 00 regency
    rows[2][4] = "1990-02-30"  # row 4: no such day
    rows[3][5] = "X"  # row 5
    rows[4][6] = "99.99.99.9999"  # row 6
    rows[5][7] = "deceased"  # row 7: deceased without a death date
    rows[6][8] = "2020-01-01"  # row 8: a death date while alive
    rows[7][2] = "Siti\u202eAminah"  # row 9: a direction override
    rows[8][9] = "yesterday"  # row 10
    rows.insert(9, ["", "", "", "", "", "", "", "", "", ""])  # row 11: blank, skipped
    rows.append(["1", "2"])  # row 13: too few cells
    path = write_csv(tmp_path / "adminduk.csv", rows, header(Source.ADMINDUK))
    summary = await load(db, Source.ADMINDUK, path)

    assert (summary.loaded, summary.rejected, summary.rows) == (1, 10, 11)
    assert summary.report == str(tmp_path / "adminduk.errors.csv")
    assert [(row, field) for row, field, _ in read_report(tmp_path / "adminduk.errors.csv")] == [
        (2, "nik"), (3, "kk"), (4, "birth_date"), (5, "sex"), (6, "village_code"), (7, "death_date"),
        (8, "death_date"), (9, "full_name"), (10, "updated_at"), (13, "columns"),
    ]  # fmt: skip
    reasons = {row: reason for row, _, reason in read_report(tmp_path / "adminduk.errors.csv")}
    assert reasons[2] == "must be exactly 16 digits"
    assert reasons[5] == "must be L or P"
    assert reasons[6] == "is not a loaded village code"
    assert reasons[7] == "is required"
    assert reasons[8] == "must be empty unless status is deceased"
    assert "U+202E" in reasons[9]
    async with db.connect() as conn:
        assert list(await conn.scalars(select(AdmindukPerson.row_number))) == [12]


async def test_dapodik_and_bpjs_rules(db: AsyncEngine, tmp_path: Path) -> None:
    pupils = list(rows_of(Source.DAPODIK, 8))
    pupils[0][6], pupils[0][7] = "SMP", "3"  # grade 3 is not SMP
    pupils[1][8] = "ya"
    pupils[2][9] = "101"
    pupils[3][10] = "2026-3"
    pupils[4][0] = "12345"
    pupils[6][1] = "3201011501900000"  # a broken NIK alone: the pupil is kept without it
    pupils[7][1], pupils[7][8] = "3201011501900000", "ya"  # a broken NIK and another problem: refused
    path = write_csv(tmp_path / "dapodik.csv", pupils, header(Source.DAPODIK))
    summary = await load(db, Source.DAPODIK, path)
    assert (summary.loaded, summary.rejected, summary.noted) == (2, 6, 1)
    assert "loaded 2 rows (1 with a note), rejected 6" in summary.line()
    report = read_report(Path(summary.report or ""))
    assert [(row, field) for row, field, _ in report] == [
        (2, "grade"), (3, "enrolled"), (4, "attendance_pct"), (5, "semester"), (6, "nisn"),
        (8, "nik"), (9, "enrolled"), (9, "nik"),
    ]  # fmt: skip
    assert report[0][2] == "must be 7-9 at level SMP"
    assert report[5][2] == "the serial number (last 4 digits) cannot be 0000; the pupil is kept without a NIK"
    assert report[7][2] == "the serial number (last 4 digits) cannot be 0000"
    async with db.connect() as conn:
        kept = (await conn.execute(select(DapodikPupil.nisn, DapodikPupil.nik).order_by(DapodikPupil.row_number))).all()
    assert kept == [(pupils[5][0], pupils[5][1]), (pupils[6][0], None)]

    members = list(rows_of(Source.BPJS, 4))
    members[0][2] = "PBI"
    members[1][1] = "12"
    members[2][0] = "3201011501900000"  # serial 0000
    path = write_csv(tmp_path / "bpjs.csv", members, header(Source.BPJS))
    summary = await load(db, Source.BPJS, path)
    assert (summary.loaded, summary.rejected) == (1, 3)
    assert read_report(Path(summary.report or "")) == [
        (2, "segment", "must be PBI-APBN, PBI-APBD or OTHER"),
        (3, "card_number", "must be exactly 13 digits"),
        (4, "nik", "the serial number (last 4 digits) cannot be 0000"),
    ]


async def test_columns_in_any_order_extra_ones_ignored_missing_ones_refused(db: AsyncEngine, tmp_path: Path) -> None:
    columns = list(reversed(header(Source.BPJS))) + ["note"]
    rows = [[*reversed(row), "x"] for row in rows_of(Source.BPJS, 3)]
    summary = await load(db, Source.BPJS, write_csv(tmp_path / "b.csv", rows, columns))
    assert (summary.loaded, summary.rejected) == (3, 0)

    path = write_csv(tmp_path / "short.csv", [row[:3] for row in rows_of(Source.BPJS, 3)], header(Source.BPJS)[:3])
    with pytest.raises(FileRefused, match="the header row lacks active"):
        await load(db, Source.BPJS, path)
    assert [status for _, status, _, _ in await snapshots(db, Source.BPJS)] == ["active"]


async def test_a_completed_load_supersedes_and_the_same_file_changes_nothing(db: AsyncEngine, tmp_path: Path) -> None:
    first = write_extract(tmp_path / "one.csv", Source.ADMINDUK, list(rows_of(Source.ADMINDUK, 30)))
    second = write_extract(tmp_path / "two.csv", Source.ADMINDUK, list(rows_of(Source.ADMINDUK, 20, start=100)))
    one = await load(db, Source.ADMINDUK, first)
    two = await load(db, Source.ADMINDUK, second)
    assert two.superseded == one.snapshot_id
    assert await snapshots(db, Source.ADMINDUK) == [
        (one.snapshot_id, "superseded", 30, 30),
        (two.snapshot_id, "active", 20, 20),
    ]

    ran = siks("reference", "load", "adminduk", str(second))
    assert ran.returncode == 0, ran.stderr
    assert f"is the active snapshot {two.snapshot_id} already" in ran.stdout and "nothing changed" in ran.stdout
    assert len(await snapshots(db, Source.ADMINDUK)) == 2

    # The first file again is a new load (it is not the active one): it becomes a new snapshot.
    ran = siks("reference", "load", "adminduk", str(first))
    assert ran.returncode == 0, ran.stderr
    assert re.search(rf"snapshot \d+ active \(superseding snapshot {two.snapshot_id}\): loaded 30 rows", ran.stdout)
    assert [status for _, status, _, _ in await snapshots(db, Source.ADMINDUK)] == [
        "superseded",
        "superseded",
        "active",
    ]


async def test_loads_are_audited_and_the_chain_verifies(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_extract(tmp_path / "bpjs.csv", Source.BPJS, list(rows_of(Source.BPJS, 5)))
    ran = siks("reference", "load", "bpjs", str(path))
    assert ran.returncode == 0, ran.stderr
    siks("reference", "load", "bpjs", str(path))  # unchanged: no audit row
    async with db.connect() as conn:
        audited = [
            (actor, entity, json.loads(after))
            for actor, entity, after in await conn.execute(
                select(AuditEntry.actor, AuditEntry.entity, AuditEntry.after).where(
                    AuditEntry.operation == "loadReferenceSnapshot"
                )
            )
        ]
    audited = [row for row in audited if row[2]["file"] == str(path)]
    assert len(audited) == 1
    actor, entity, after = audited[0]
    assert actor.startswith("cli:") and entity == "reference_snapshot"
    assert (after["source"], after["loaded"], after["rejected"], after["superseded"]) == ("bpjs", 5, 0, None)
    assert after["file"] == str(path) and len(after["sha256"]) == 64
    verified = siks("audit", "verify")
    assert verified.returncode == 0, verified.stderr


async def test_a_failed_load_leaves_the_previous_snapshot_active(db: AsyncEngine, tmp_path: Path) -> None:
    good = await load(
        db, Source.BPJS, write_extract(tmp_path / "good.csv", Source.BPJS, list(rows_of(Source.BPJS, 10)))
    )

    # Every row bad: no snapshot at all.
    bad = [[row[0], "x", row[2], row[3]] for row in rows_of(Source.BPJS, 5)]
    ran = siks("reference", "load", "bpjs", str(write_csv(tmp_path / "bad.csv", bad, header(Source.BPJS))))
    assert ran.returncode == 2
    assert "no row could be loaded (5 rejected" in ran.stderr and "the active snapshot is unchanged" in ran.stderr

    # A file that breaks after 3,000 good rows (a cell over the csv module's limit): rows written so far go.
    rows = list(rows_of(Source.BPJS, 3000)) + [["3201011501900001", "1" * 200_000, "OTHER", "true"]]
    path = write_csv(tmp_path / "broken.csv", rows, header(Source.BPJS))
    with pytest.raises(FileRefused, match="is not valid CSV"):
        await load(db, Source.BPJS, path, batch_rows=500)

    # Not UTF-8: refused before anything is written.
    latin = tmp_path / "latin.csv"
    latin.write_bytes(",".join(header(Source.BPJS)).encode() + b"\n3201011501900001,1234567890123,OTHER,tr\xfce\n")
    with pytest.raises(FileRefused, match="is not UTF-8 text"):
        await load(db, Source.BPJS, latin)
    with pytest.raises(NothingLoadable):
        await load(db, Source.BPJS, tmp_path / "bad.csv")

    found = await snapshots(db, Source.BPJS)
    assert found[0] == (good.snapshot_id, "active", 10, 10)
    assert [(status, rows) for _, status, _, rows in found[1:]] == [("failed", 0)] * 3


async def test_an_xlsx_bomb_is_refused_by_the_workbook_limits(db: AsyncEngine, tmp_path: Path) -> None:
    base = write_extract(tmp_path / "base.xlsx", Source.BPJS, list(rows_of(Source.BPJS, 2)))
    bomb = rewritten(base, tmp_path / "bomb.xlsx", {SHEET: one_cell_sheet(256 << 20)})
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(FileRefused, match=r"\(SIKS_XLSX_MAX_COMPRESSION_RATIO\)"):
        await load(db, Source.BPJS, bomb)
    with pytest.raises(FileRefused, match=r"\(SIKS_XLSX_MAX_CELL_BYTES\)"):
        await load(db, Source.BPJS, bomb, limits=WorkbookLimits(1 << 30, 1_000_000, 32_768))
    ran = siks("reference", "load", "bpjs", str(bomb))
    assert ran.returncode == 2 and "SIKS_XLSX_MAX_COMPRESSION_RATIO" in ran.stderr
    assert await snapshots(db, Source.BPJS) == [], "refused before any snapshot was begun"


async def test_the_cli_refuses_unknown_sources_and_formats(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_extract(tmp_path / "bpjs.csv", Source.BPJS, list(rows_of(Source.BPJS, 2)))
    assert siks("reference", "load", "kemensos", str(path)).returncode == 2
    other = tmp_path / "bpjs.txt"
    other.write_text(path.read_text())
    ran = siks("reference", "load", "bpjs", str(other))
    assert ran.returncode == 2 and "must be .csv, .xlsx or .parquet" in ran.stderr
    async with db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM reference_snapshots")) == 0


async def load_in_another_process(
    db: AsyncEngine, tmp_path: Path, total: int, written_at_least: int
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """An active 25-row Adminduk snapshot, then ``siks reference load`` of ``total`` rows in a subprocess,
    returned once it has written ``written_at_least`` rows: (the process, the first snapshot's id, the file)."""
    before = await load(
        db, Source.ADMINDUK, write_extract(tmp_path / "old.csv", Source.ADMINDUK, list(rows_of(Source.ADMINDUK, 25)))
    )
    assert before.snapshot_id is not None
    path = write_csv(tmp_path / "new.csv", rows_of(Source.ADMINDUK, total, start=1000), header(Source.ADMINDUK))
    command = [*_siks(), "reference", "load", "adminduk", str(path), "--batch-size", "200"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    written = 0
    while written < written_at_least and process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        async with db.connect() as conn:
            others = select(func.count()).where(AdmindukPerson.snapshot_id != before.snapshot_id)
            written = await conn.scalar(others) or 0
    return process, before.snapshot_id, path


async def test_a_killed_load_leaves_the_previous_snapshot_active_and_the_next_load_clears_it(
    db: AsyncEngine, tmp_path: Path
) -> None:
    total = 40_000
    process, before_id, path = await load_in_another_process(db, tmp_path, total, 2000)
    try:
        assert process.poll() is None, "the load ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL

    found = await snapshots(db, Source.ADMINDUK)
    assert found[0] == (before_id, "active", 25, 25), "the killed load did not touch the active snapshot"
    (killed, status, _, rows) = found[1]
    assert status == "loading" and 0 < rows < total and rows % 200 == 0, found

    rerun = siks("reference", "load", "adminduk", str(path))
    assert rerun.returncode == 0, rerun.stderr
    assert f"(superseding snapshot {before_id}): loaded {total:,} rows, rejected 0" in rerun.stdout
    found = await snapshots(db, Source.ADMINDUK)
    assert found[0] == (before_id, "superseded", 25, 25)
    assert found[1] == (killed, "failed", 0, 0), "the next load cleared the killed one's rows"
    assert found[2][1:] == ("active", total, total)


async def test_a_second_load_of_a_source_is_refused_while_the_first_runs(db: AsyncEngine, tmp_path: Path) -> None:
    total = 30_000
    process, _, _ = await load_in_another_process(db, tmp_path, total, 1000)
    try:
        assert process.poll() is None, "the first load ended before the second could start"
        other = write_extract(tmp_path / "other.csv", Source.ADMINDUK, list(rows_of(Source.ADMINDUK, 10, start=90_000)))
        with pytest.raises(LoadInProgress, match="another load of adminduk is running"):
            await load(db, Source.ADMINDUK, other)
        bpjs = await load(
            db, Source.BPJS, write_extract(tmp_path / "b.csv", Source.BPJS, list(rows_of(Source.BPJS, 3)))
        )
        assert bpjs.loaded == 3, "another source loads meanwhile"
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    found = await snapshots(db, Source.ADMINDUK)
    assert [status for _, status, _, _ in found] == ["superseded", "active"], "the refused load left nothing behind"
    assert found[1][2:] == (total, total), "the first load was not disturbed"


async def test_status_lists_snapshots_and_queries_read_the_active_one(db: AsyncEngine, tmp_path: Path) -> None:
    rows = list(rows_of(Source.ADMINDUK, 5))
    rows.append(list(rows[0]))  # the same NIK twice: both kept, for the checks to report
    rows[-1][2] = "Warga Kembar"
    one = await load(db, Source.ADMINDUK, write_extract(tmp_path / "a.csv", Source.ADMINDUK, rows))
    ran = siks("reference", "status")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{one.snapshot_id}\tadminduk\tactive\t6\t0\ta.csv\t{one.sha256[:12]}\t")
    async with db.connect() as conn:
        active = await active_snapshots(conn)
        assert active == {Source.ADMINDUK: one.snapshot_id}
        found = await rows_by_nik(conn, Source.ADMINDUK, one.snapshot_id, [rows[0][0], rows[1][0], "3201010101900001"])
    assert [row["full_name"] for row in found[rows[0][0]]] == ["Warga Nomor 1", "Warga Kembar"]
    assert [row["row_number"] for row in found[rows[1][0]]] == [3]
    assert "3201010101900001" not in found


async def test_prune_deletes_the_rows_of_old_superseded_snapshots_only(db: AsyncEngine, tmp_path: Path) -> None:
    loads = [
        await load(
            db,
            Source.ADMINDUK,
            write_extract(tmp_path / f"a{n}.csv", Source.ADMINDUK, list(rows_of(Source.ADMINDUK, 5 + n))),
        )
        for n in range(3)
    ]
    bpjs = await load(db, Source.BPJS, write_extract(tmp_path / "b.csv", Source.BPJS, list(rows_of(Source.BPJS, 3))))
    async with held_for_job(db, "reference-load-bpjs"):  # a BPJS load running meanwhile
        refused = siks("reference", "prune")
    assert refused.returncode != 0 and "a load of bpjs is running" in refused.stderr, refused.stderr
    assert "nothing was pruned" in refused.stderr
    assert [status for _, status, _, _ in await snapshots(db, Source.ADMINDUK)] == [
        "superseded",
        "superseded",
        "active",
    ]

    ran = siks("reference", "prune", "--keep", "1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"adminduk: snapshot {loads[0].snapshot_id} pruned, 5 rows deleted\n"
    assert await snapshots(db, Source.ADMINDUK) == [
        (loads[0].snapshot_id, "pruned", 5, 0),
        (loads[1].snapshot_id, "superseded", 6, 6),
        (loads[2].snapshot_id, "active", 7, 7),
    ]
    assert [row[1:] for row in await snapshots(db, Source.BPJS)] == [("active", 3, 3)]
    async with db.connect() as conn:
        entry = (await conn.execute(select(AuditEntry).where(AuditEntry.operation == "pruneReferenceSnapshots"))).one()
    assert entry.entity_id == str(loads[0].snapshot_id)
    assert siks("reference", "prune").stdout == "nothing to prune\n"
    everything = siks("reference", "prune", "adminduk", "--keep", "0")
    assert everything.stdout == f"adminduk: snapshot {loads[1].snapshot_id} pruned, 6 rows deleted\n"
    assert bpjs.snapshot_id is not None
    assert "\tpruned\t" in siks("reference", "status", "adminduk").stdout
