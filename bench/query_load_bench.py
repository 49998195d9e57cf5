"""Benchmark: does one heavy GraphQL client starve the others? A bounded loopback load.

Seeds a demo database on SQLite (``siks demo``'s generator, ``--households``), starts one uvicorn
process on 127.0.0.1 and, in each of ``--rounds`` rounds, lets one client send the nastiest query
the limits still allow (``--query``) ``--iterations`` times in a row (or until ``--time-cap``
seconds), while another client sends ``{ me { username } }`` one after the other. Prints the
``me`` latency p50 / p99 (target: p99 under 200 ms), how long the heavy query took, and the
server's resident memory before the round and after it (target: within 20% of before), each the
median of the rounds; and, first, the ``me`` latency with no heavy client, for what the machine's
own load gives.

    python bench/query_load_bench.py [--households 3000] [--rounds 3] [--iterations 5] [--query regions]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, fresh_database, start_server, wait_until_up  # noqa: E402
from core.auth import tokens  # noqa: E402
from core.auth.users import create_user  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.storage.db import create_engine, write_transaction  # noqa: E402

#: The heaviest queries the cost limit (200,000 by default) still lets through, by what they stress.
HEAVY = {
    # 7,285 districts, each with three async parent look-ups: cost 87,421, 1.5 MB of answer
    "regions": "{ regions(level: DISTRICT) { code name level parent { code name level parent { code name level "
    "parent { code name } } } } }",
    # a page of 1,000 households with their members, villages and the villages' parents: cost 175,003
    "households": "{ households(first: 1000) { totalCount edges { node { id kkNumber address rt rw floorArea "
    "region { code name parent { name parent { name } } } members { id nik name sex birthDate relationship "
    "education occupation } } } } }",
}
ME = "{ me { username } }"


@dataclass(frozen=True)
class Round:
    me_p50_ms: float
    me_p99_ms: float
    me_requests: int
    heavy_seconds: float
    heavy_statuses: tuple[int, ...]
    rss_before_mb: float
    rss_after_mb: float


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` (Linux)."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def access_token(settings: Settings) -> str:
    engine = create_engine(settings)
    async with write_transaction(engine) as conn:
        user = await create_user(conn, "bench-centre", "bench-password-0123", "data_centre", "")
    await engine.dispose()
    token, _claims = tokens.issue(
        settings, user_id=user.id, username=user.username, role="data_centre", scope="", kind="access"
    )
    return token


async def me_alone(url: str, headers: dict[str, str], seconds: float) -> tuple[float, float]:
    """``me`` p50 and p99 (ms) with no heavy client: what this machine's load gives anyway."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            sent = time.perf_counter()
            await http.post("/graphql", json={"query": ME})
            latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(0.01)
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49] * 1000, quantiles[98] * 1000


async def one_round(url: str, pid: int, headers: dict[str, str], heavy: str, iterations: int, cap: float) -> Round:
    rss_before = rss_mb(pid)
    done = asyncio.Event()
    latencies: list[float] = []
    statuses: list[int] = []
    heavy_times: list[float] = []

    async def heavy_client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            started = time.perf_counter()
            for _ in range(iterations):
                if time.perf_counter() - started > cap:
                    break
                sent = time.perf_counter()
                response = await http.post("/graphql", json={"query": heavy})
                heavy_times.append(time.perf_counter() - sent)
                statuses.append(response.status_code)
                answered = response.status_code == 200 and response.json().get("data") is not None
                assert answered or response.status_code == 503, response.text[:300]
        done.set()

    async def me_client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            while not done.is_set():
                sent = time.perf_counter()
                response = await http.post("/graphql", json={"query": ME})
                latencies.append(time.perf_counter() - sent)
                assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]
                await asyncio.sleep(0.01)

    await asyncio.gather(heavy_client(), me_client())
    await asyncio.sleep(2)  # what a stopped request left running settles
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0] * 1000] * 99
    return Round(
        me_p50_ms=quantiles[49] * 1000,
        me_p99_ms=quantiles[98] * 1000,
        me_requests=len(latencies),
        heavy_seconds=statistics.median(heavy_times),
        heavy_statuses=tuple(sorted(set(statuses))),
        rss_before_mb=rss_before,
        rss_after_mb=rss_mb(pid),
    )


async def measure(args: argparse.Namespace) -> tuple[tuple[float, float], list[Round]]:
    database = await fresh_database("sqlite", args.households)
    try:
        token = await access_token(database.settings)
        headers = {"Authorization": f"Bearer {token}"}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        environment = {"SIKS_MODE": "development"}
        if args.timeout is not None:
            environment["SIKS_REQUEST_TIMEOUT_SECONDS"] = str(args.timeout)
        process = start_server(database.settings, port, environment)
        try:
            wait_until_up(url, process)
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:  # warm up
                for query in (ME, HEAVY[args.query]):
                    await http.post("/graphql", json={"query": query})
            alone = await me_alone(url, headers, 10)
            rounds = []
            for _ in range(args.rounds):
                heavy = HEAVY[args.query]
                rounds.append(await one_round(url, process.pid, headers, heavy, args.iterations, args.time_cap))
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        await database.cleanup()
    return alone, rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=5, help="heavy queries a round")
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds a round sends heavy queries at most")
    parser.add_argument("--query", choices=sorted(HEAVY), default="regions")
    parser.add_argument("--timeout", type=float, default=None, help="SIKS_REQUEST_TIMEOUT_SECONDS for the server")
    args = parser.parse_args()
    alone, rounds = asyncio.run(measure(args))
    print(f"me alone (no heavy client, 10 s): p50 {alone[0]:.1f} ms, p99 {alone[1]:.1f} ms")
    for number, figures in enumerate(rounds, start=1):
        print(
            f"round {number}: me p50 {figures.me_p50_ms:6.1f} ms p99 {figures.me_p99_ms:6.1f} ms "
            f"({figures.me_requests} requests); heavy {figures.heavy_seconds:5.2f} s (HTTP "
            f"{','.join(map(str, figures.heavy_statuses))}); RSS {figures.rss_before_mb:.0f} → "
            f"{figures.rss_after_mb:.0f} MB"
        )
    before = statistics.median(r.rss_before_mb for r in rounds)
    after = statistics.median(r.rss_after_mb for r in rounds)
    print(
        f"median of {len(rounds)} rounds, '{args.query}' query, {args.households} households (SQLite): "
        f"me p50 {statistics.median(r.me_p50_ms for r in rounds):.1f} ms, "
        f"p99 {statistics.median(r.me_p99_ms for r in rounds):.1f} ms; heavy query "
        f"{statistics.median(r.heavy_seconds for r in rounds):.2f} s; RSS {before:.0f} MB before, {after:.0f} MB "
        f"after ({(after - before) / before:+.0%})"
    )


if __name__ == "__main__":
    main()
