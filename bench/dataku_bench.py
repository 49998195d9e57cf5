"""Benchmark: the Cek Bansos page (SIKS-Dataku) against the public GraphQL look-up doing the same search.

Seeds a demo database, enrolls every third household in an approved PKH cycle (as
``bench/public_bench.py``), starts one uvicorn process on 127.0.0.1 with the limits raised out of the
way, and drives it with ``--clients`` concurrent keep-alive httpx clients, ``--requests`` look-ups a
side (half registered people, half names nobody has, over many villages):

- **graphql**: ``POST /public/graphql`` with ``cekBansos(villageCode, fullName)``;
- **page**: ``POST /dataku/cek-bansos`` with the form (``desa``, ``nama``, a valid CSRF token for the
  client's cookie, the empty honeypot), the HTML answer; each client opens the form once first (its
  cookie and token), as a browser does, untimed;
- **floor**: ``GET /health`` through the same clients, what the server and the clients cost alone.

The sides take turns in every run (a drifting load hits all alike); the medians of ``--runs`` runs are
printed with page/graphql (target ≥ 0.8) and each side's share of the floor.

    python bench/dataku_bench.py [--databases sqlite postgresql] [--households 20000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchDatabase, free_port, fresh_database, start_server, wait_until_up  # noqa: E402
from bench.public_bench import LOOKUP, enroll_every_third_household, lookups  # noqa: E402
from core.dataku.csrf import COOKIE  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
RAISED = {
    "SIKS_PUBLIC_REQUESTS_PER_MINUTE": "100000000",
    "SIKS_DATAKU_REGION_STEPS_PER_MINUTE": "100000000",
    "SIKS_MODE": "development",
}
Ask = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[None]]


async def ask_graphql(http: httpx.AsyncClient, variables: dict[str, str], _token: str) -> None:
    response = await http.post("/public/graphql", json={"query": LOOKUP, "variables": variables})
    assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]


async def ask_page(http: httpx.AsyncClient, variables: dict[str, str], token: str) -> None:
    form = {"desa": variables["village"], "nama": variables["name"], "nik": "", "csrf_token": token, "website": ""}
    response = await http.post("/dataku/cek-bansos", data=form)
    assert response.status_code == 200 and 'id="answer"' in response.text, response.text[:300]


async def ask_floor(http: httpx.AsyncClient, _variables: dict[str, str], _token: str) -> None:
    response = await http.get("/health")
    assert response.status_code == 200


async def form_token(http: httpx.AsyncClient, village: str) -> str:
    """Open the look-up form of ``village`` and read its token; the client then sends the form's cookie as a
    fixed header, as a browser does (httpx's cookie jar, Python's ``http.cookiejar``, would add the load
    generator's own cost to every page request and to none of the GraphQL ones)."""
    parts = village.split(".")
    names = ("provinsi", "kabupaten", "kecamatan", "desa")
    params = {name: ".".join(parts[: i + 1]) for i, name in enumerate(names)}
    page = await http.get("/dataku/cek-bansos", params=params)
    match = TOKEN.search(page.text)
    assert page.status_code == 200 and match, page.text[:300]
    http.headers["cookie"] = f"{COOKIE}={http.cookies[COOKIE]}"
    http.cookies.clear()
    return match.group(1)


async def drive(clients: list[tuple[httpx.AsyncClient, str]], work: list[dict[str, str]], ask: Ask) -> float:
    """Requests a second: every look-up of ``work`` through the clients, each sending one at a time."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for variables in work:
        queue.put_nowait(variables)

    async def client(http: httpx.AsyncClient, token: str) -> None:
        while not queue.empty():
            await ask(http, queue.get_nowait(), token)

    started = time.perf_counter()
    await asyncio.gather(*(client(http, token) for http, token in clients))
    return len(work) / (time.perf_counter() - started)


async def measure(database: BenchDatabase, requests: int, clients: int, runs: int) -> dict[str, float]:
    await enroll_every_third_household(database.settings)
    work = await lookups(database.settings, requests)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(database.settings, port, RAISED)
    sides: dict[str, Ask] = {"floor": ask_floor, "graphql": ask_graphql, "page": ask_page}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    try:
        wait_until_up(url, process)
        https = [httpx.AsyncClient(base_url=url, timeout=30) for _ in range(clients)]
        try:
            opened = [(http, await form_token(http, work[0]["village"])) for http in https]
            for ask in sides.values():  # warm up
                await drive(opened, work[: max(len(work) // 10, clients)], ask)
            for _ in range(runs):
                for name, ask in sides.items():
                    rates[name].append(await drive(opened, work, ask))
        finally:
            for http in https:
                await http.aclose()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {name: statistics.median(values) for name, values in rates.items()}


def settings_label(settings: Settings) -> str:
    return "PostgreSQL" if settings.database_url.startswith("postgresql") else "SQLite"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=2000, help="look-ups a side a run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for kind in args.databases:
        database = await fresh_database(kind, args.households)
        try:
            rate = await measure(database, args.requests, args.clients, args.runs)
        finally:
            await database.cleanup()
        print(
            f"{settings_label(database.settings):10s} {args.requests} look-ups (half hits) a side by {args.clients} "
            f"clients, one uvicorn process, medians of {args.runs}: floor (GET /health) {rate['floor']:7.1f} /s, "
            f"GraphQL cekBansos {rate['graphql']:6.1f} /s ({rate['graphql'] / rate['floor']:.2f} of the floor), "
            f"page {rate['page']:6.1f} /s ({rate['page'] / rate['floor']:.2f} of the floor); "
            f"page/GraphQL {rate['page'] / rate['graphql']:.2f} (target ≥ 0.8)"
        )


if __name__ == "__main__":
    asyncio.run(main())
