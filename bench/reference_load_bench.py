"""Reference snapshot load benchmark: ``siks reference load adminduk`` against the raw driver floor.

Generates N Adminduk rows (default 1,100,000) into a temporary CSV, then measures, median of three
rounds in which both sides take turns, on SQLite and PostgreSQL:

* ours: ``core.reference.loader.load_reference`` end to end (sha256 pass, CSV parsing, every
  check, the bulk writer in batches, activating the snapshot, the audit row) into an empty table;
* floor: the raw driver writing the same rows already parsed and converted, in the same batches
  and one transaction per batch (``sqlite3`` ``executemany`` / asyncpg ``copy_records_to_table``);

and prints rows/s of each and the ratio ours/floor (issue 14's target: at least 0.5).

    python bench/reference_load_bench.py [--rows 1100000] [--database sqlite --database postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.common import DEFAULT_POSTGRES, interleaved_medians  # noqa: E402
from core.access.enforcer import seed_policies_if_empty  # noqa: E402
from core.cli.users import cli_request  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.reference.checks import STORED_COLUMNS  # noqa: E402
from core.reference.formats import Source, header  # noqa: E402
from core.reference.loader import BATCH_ROWS, load_reference  # noqa: E402
from core.regions.loader import load_regions, lokal_regions  # noqa: E402
from core.storage import migrate  # noqa: E402
from core.storage.db import create_engine  # noqa: E402
from tests.reference_files import adminduk_row, write_csv  # noqa: E402

COLUMNS = ("snapshot_id", "row_number", *STORED_COLUMNS[Source.ADMINDUK])
FLOOR_SNAPSHOT = 1


def typed(number: int, cells: list[str]) -> tuple[Any, ...]:
    """A generated row as the loader stores it (what the floor writes)."""
    nik, kk, name, place, born, sex, village, status, _, updated = cells
    birth = date.fromisoformat(born)
    sex_value = "female" if sex == "P" else "male"
    return (
        FLOOR_SNAPSHOT, number, nik, kk, name, place, birth, birth.year, sex_value,
        village, village[:5], status, None, date.fromisoformat(updated),
    )  # fmt: skip


async def run(kind: str, rows: int, path: Path, parsed: list[tuple[Any, ...]], rounds: int) -> None:
    schema = None
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="siks-refbench-"))
        database = folder / "bench.db"
        settings = Settings(database_url=f"sqlite+aiosqlite:///{database}")
    else:
        url = os.environ.get("SIKS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        schema = f"siks_refbench_{secrets.token_hex(3)}"
        admin = create_engine(Settings(database_url=url))
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        settings = Settings(database_url=url, database_schema=schema)
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        await seed_policies_if_empty(engine)
        await load_regions(engine, lokal_regions())
        async with engine.begin() as conn:  # the floor's rows hang off a snapshot row of their own
            await conn.execute(
                text(
                    "INSERT INTO reference_snapshots (id, source, status, file_name, sha256, rows_loaded, "
                    "rows_rejected, loaded_by, started_at) VALUES (1, 'bench', 'bench', 'floor', '-', 0, 0, "
                    "'bench', CURRENT_TIMESTAMP)"
                )
            )

        async def empty() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM reference_adminduk"))
                await conn.execute(text("DELETE FROM reference_snapshots WHERE id <> 1"))
            if kind == "postgresql":
                async with engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.exec_driver_sql("VACUUM reference_adminduk")

        async def ours() -> None:
            summary = await load_reference(engine, Source.ADMINDUK, path, request=cli_request())
            assert summary.loaded == rows and summary.rejected == 0, summary.line()

        if kind == "sqlite":
            names, marks = ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))
            statement = f"INSERT INTO reference_adminduk ({names}) VALUES ({marks})"
            as_text = [
                (*row[:6], row[6].isoformat(), *row[7:12], None, row[13].isoformat()) for row in parsed
            ]  # SQLite's stored form of dates, as SQLAlchemy's bind processor writes it

            async def floor() -> None:
                def write() -> None:
                    conn = sqlite3.connect(database)
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    for start in range(0, len(as_text), BATCH_ROWS):
                        with conn:
                            conn.executemany(statement, as_text[start : start + BATCH_ROWS])
                    conn.close()

                await asyncio.to_thread(write)
        else:
            dsn = settings.database_url.replace("postgresql+asyncpg", "postgresql")

            async def floor() -> None:
                conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
                try:
                    for start in range(0, len(parsed), BATCH_ROWS):
                        async with conn.transaction():
                            await conn.copy_records_to_table(
                                "reference_adminduk", records=parsed[start : start + BATCH_ROWS], columns=list(COLUMNS)
                            )
                finally:
                    await conn.close()

        medians = await interleaved_medians(rounds, {"ours": ours, "floor": floor}, before=empty)
        ours_rate, floor_rate = rows / medians["ours"], rows / medians["floor"]
        print(
            f"{kind:10} rows {rows:>9,}  ours {medians['ours']:7.1f} s {ours_rate:>9,.0f} rows/s  "
            f"floor {medians['floor']:7.1f} s {floor_rate:>9,.0f} rows/s  ratio {ours_rate / floor_rate:.2f}",
            flush=True,
        )
    finally:
        await engine.dispose()
        if schema is not None:
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="siks-refbench-") as folder:
        path = write_csv(
            Path(folder) / "adminduk.csv",
            (adminduk_row(number) for number in range(1, args.rows + 1)),
            header(Source.ADMINDUK),
        )
        parsed = [typed(number + 1, adminduk_row(number)) for number in range(1, args.rows + 1)]
        for kind in args.database or ["sqlite", "postgresql"]:
            await run(kind, args.rows, path, parsed, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
