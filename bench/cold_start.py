"""Cold start: from launching `siks serve` to its first answers, on a warm disk (issue 17 item 4: ≤ 3 s).

    python bench/cold_start.py [--runs 5]

A temporary SQLite database is made by a first `siks serve` (migrated, regions loaded, demo
households seeded; not timed). Then, ``--runs`` times, `siks serve` is started as a fresh process on
that database and the clock runs until ``GET /health`` answers 200, then until a real GraphQL query
(the public ``cekBansos`` look-up, which builds the schema, opens the database and reads) answers.
The floor, measured in the same run, is a bare Python process importing nothing of SIKS
(``python -c pass``) plus the same HTTP polling: what any Python server pays. Medians are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import free_port

SIKS = str(Path(sys.executable).with_name("siks"))
QUERY = '{ cekBansos(villageCode: "32.01.11.2001", fullName: "Nama Yang Tidak Ada") { __typename } }'


def _environment(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SIKS_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'cold.db'}",
        "SIKS_MODEL_DIR": str(folder / "models"),
        "SIKS_PHOTO_DIR": str(folder / "photos"),
    }


def _wait(url: str, started: float, process: subprocess.Popen[bytes], deadline: float = 120.0) -> float:
    while time.perf_counter() - started < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"no answer from {url} within {deadline} s")


def _first_answers(folder: Path) -> tuple[float, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [SIKS, "serve", "--port", str(port)],
        env=_environment(folder),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = _wait(f"{base}/health", started, process)
        response = httpx.post(f"{base}/public/graphql", json={"query": QUERY}, timeout=30.0)
        response.raise_for_status()
        if "errors" in response.json():
            raise SystemExit(f"the public query failed: {response.text}")
        return health, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def _floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="siks-cold-"))
    try:
        _first_answers(folder)  # the first start migrates and seeds: not timed
        floors, healths, queries = [], [], []
        for _ in range(arguments.runs):
            floors.append(_floor())
            health, query = _first_answers(folder)
            healths.append(health)
            queries.append(query)
            print(f"run: floor {floors[-1]:.2f} s, /health {health:.2f} s, first GraphQL answer {query:.2f} s")
        print(
            f"median of {arguments.runs}: bare python {statistics.median(floors):.2f} s, "
            f"/health {statistics.median(healths):.2f} s, first GraphQL answer {statistics.median(queries):.2f} s "
            f"(target ≤ 3 s); load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
