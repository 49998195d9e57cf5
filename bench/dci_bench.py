"""Benchmark: DCI sync search against a served SIKS (targets from issue 15).

1. Sync search by NIK (``/registry/sync/search``, ``idtype-value``) against the GraphQL ``eligibility``
   lookup of the same NIK, both over HTTP to one uvicorn process, taking turns: median of each and the
   ratio (target: DCI within 1.5x).
2. Expression search: one regency (the one with most households), decile <= 3, a page of 100 sorted by
   decile: median milliseconds (target: <= 150 ms over 1,000,000 households).

Seeds N demo households into a fresh database and gives them deciles in one statement (``id % 10 + 1``:
the benchmark measures the search, not the ranking), creates an integrator with an API key, and serves
the database with ``uvicorn`` in a process of its own.

    python bench/dci_bench.py [--databases sqlite postgresql] [--households 100000] [--runs 31]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, fresh_database, start_server, wait_until_up  # noqa: E402
from core.auth.users import create_api_key, create_user  # noqa: E402
from core.storage.db import create_engine, write_transaction  # noqa: E402
from core.storage.records import HOUSEHOLDS, MEMBERS  # noqa: E402

ELIGIBILITY = "query($nik: String!) { eligibility(nik: $nik) { found programs { program eligible summary } } }"
RANKS_SQL = (
    "INSERT INTO welfare_ranks (household_id, model_version, score, decile, regency_decile, ranked_at) "
    "SELECT id, 'bench', id % 10 + 1, id % 10 + 1, id % 10 + 1, :now FROM households"
)


def envelope(criteria: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "signature": "unsigned",
        "header": {
            "version": "1.0.0",
            "message_id": secrets.token_hex(8),
            "message_ts": now,
            "action": "search",
            "sender_id": "bench",
            "total_count": 1,
        },
        "message": {
            "transaction_id": secrets.token_hex(8),
            "search_request": [{"reference_id": "r-1", "timestamp": now, "search_criteria": criteria}],
        },
    }


async def prepare(settings: Any) -> tuple[str, list[str], str]:
    """An integrator's API key, NIKs of active members spread over the registry, and the largest regency."""
    engine = create_engine(settings)
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(text(RANKS_SQL), {"now": datetime.now(UTC)})
            await create_user(conn, "bench-integrator", "bench-integrator-password", "integrator", "")
            key, _prefix = await create_api_key(conn, "bench-integrator", "bench")
        async with engine.begin() as conn:  # statistics for the new ranks (committed: ANALYZE is transactional)
            await conn.execute(text("ANALYZE"))
        async with engine.connect() as conn:
            niks = list(
                (await conn.execute(select(MEMBERS.c.nik).where(MEMBERS.c.status == "active").limit(2000))).scalars()
            )
            regency = func.substr(HOUSEHOLDS.c.village_code, 1, 5)
            largest = (
                await conn.execute(select(regency).group_by(regency).order_by(func.count().desc()).limit(1))
            ).scalar_one()
    finally:
        await engine.dispose()
    return key, niks[:: max(1, len(niks) // 200)], largest


def timed(client: httpx.Client, url: str, body: dict[str, Any], check: Any) -> float:
    start = time.perf_counter()
    response = client.post(url, json=body)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    check(response.json())
    return elapsed


async def measure(kind: str, households: int, runs: int) -> None:
    database = await fresh_database(kind, households)
    port = free_port()
    server = None
    try:
        key, niks, regency = await prepare(database.settings)
        server = start_server(database.settings, port)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as client:

            def found_group(body: dict[str, Any]) -> None:
                assert len(body["message"]["search_response"][0]["data"]["reg_records"]) == 1

            def found_answer(body: dict[str, Any]) -> None:
                assert "errors" not in body and body["data"]["eligibility"]["found"]

            dci: list[float] = []
            graphql: list[float] = []
            for round_number in range(runs + 3):  # three warm-up rounds
                nik = niks[round_number % len(niks)]
                search = envelope({"query_type": "idtype-value", "query": {"type": "NIK", "value": nik}})
                lookup = {"query": ELIGIBILITY, "variables": {"nik": nik}}
                first, second = (dci, graphql) if round_number % 2 == 0 else (graphql, dci)
                for side in (first, second):
                    if side is dci:
                        elapsed = timed(client, "/registry/sync/search", search, found_group)
                    else:
                        elapsed = timed(client, "/graphql", lookup, found_answer)
                    if round_number >= 3:
                        side.append(elapsed)
            dci_median, graphql_median = statistics.median(dci), statistics.median(graphql)
            print(
                f"{kind:10s} {households:,} households: search by NIK {dci_median * 1000:.1f} ms, GraphQL eligibility "
                f"{graphql_median * 1000:.1f} ms, ratio {dci_median / graphql_median:.2f} (target <= 1.5), "
                f"median of {runs}"
            )
            criteria = {
                "query_type": "expression",
                "query": {
                    "collection": "Group",
                    "query": {"$and": [{"region_code": {"$eq": regency}}, {"poverty_score": {"$lte": 3}}]},
                },
                "sort": [{"attribute_name": "poverty_score", "sort_order": "asc"}],
                "pagination": {"page_size": 100, "page_number": 1},
            }
            totals: list[int] = []

            def full_page(body: dict[str, Any]) -> None:
                answer = body["message"]["search_response"][0]
                total = answer["pagination"]["total_count"]
                assert answer["status"] == "succ" and len(answer["data"]["reg_records"]) == min(100, total)
                totals.append(total)

            pages = [timed(client, "/registry/sync/search", envelope(criteria), full_page) for _ in range(runs + 3)][3:]
            print(
                f"{kind:10s} {households:,} households: expression search (regency {regency}, decile <= 3, "
                f"{totals[0]:,} match, page of 100) {statistics.median(pages) * 1000:.1f} ms median of {runs} "
                "(target <= 150 ms at 1,000,000)"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        await database.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=31)
    arguments = parser.parse_args()
    for kind in arguments.databases:
        asyncio.run(measure(kind, arguments.households, arguments.runs))


if __name__ == "__main__":
    main()
