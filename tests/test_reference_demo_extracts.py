"""The demo's reference extracts (``siks demo reference``) load as snapshots (``siks reference load``):
the generator and the loader agree on every column and value, and the only rows refused are those the
truth file marks as carrying a NIK whose structure is broken (a typo in its birth-date digits) — and in
Dapodik not even those: a pupil whose NIK is broken is kept without it, with a note in the report."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from core.demo import seed_demo
from core.reference.formats import Source
from tests.cli_support import siks
from tests.test_demo_reference import _read, _reference
from tests.test_reference_load import load, snapshots


async def test_the_demo_extracts_load_and_only_broken_niks_are_refused_or_noted(
    db: AsyncEngine, tmp_path: Path
) -> None:
    await seed_demo(db, 300, 2, progress=False)
    folder = tmp_path / "ref"
    _reference(folder, "--seed", "3")
    truth = _read(folder / "truth.csv")
    for source in Source:
        path = folder / f"{source.value}.csv"
        rows = _read(path)
        broken = {t["reference_key"] for t in truth if t["source"] == source.value and t["nik_valid"] == "false"}
        summary = await load(db, source, path)
        reported = set()
        if summary.rejected or summary.noted:
            with open(summary.report or "", encoding="utf-8", newline="") as report:
                for error in csv.DictReader(report):
                    assert error["field"] == "nik", error
                    assert error["reason"].endswith("kept without a NIK") == (source is Source.DAPODIK), error
                    row = rows[int(error["row"]) - 2]  # the header is row 1
                    reported.add(row["nisn"] if source is Source.DAPODIK else row["nik"])
        assert reported == broken, (source, reported, broken)
        expected = len(rows) if source is Source.DAPODIK else len(rows) - len(broken)
        assert rows and (summary.rows, summary.loaded) == (len(rows), expected), summary
        [(_, status, loaded, stored)] = await snapshots(db, source)
        assert (status, loaded, stored) == ("active", expected, expected)
    again = siks("reference", "load", "adminduk", str(folder / "adminduk.csv"))
    assert again.returncode == 0 and "nothing changed" in again.stdout, again.stdout + again.stderr
