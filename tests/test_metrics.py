"""``/metrics``: requests by route, operation and outcome, latencies, the database pool and 429 refusals,
counted by the real application on the test database (SQLite or PostgreSQL), beside the outbox gauges."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.importer import ImportOptions, import_households
from core.foundation.settings import Settings
from core.http.metrics import outcome_of
from core.http.observe import route_of
from core.models import WelfareRankRun
from core.programs.cycles import CycleRecord, run_cycle
from tests.bulk_files import IMPORTER, numbered_households, write_households
from tests.conftest import token_headers
from tests.programs_support import builtin_registry
from tests.serving import serve

QUERY = "{ regions(level: PROVINCE) { code } }"


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_graphql_query_is_counted_by_its_root_field_and_timed(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings) as http:
        answer = await http.post("/graphql", json={"query": QUERY}, headers=token_headers(settings, "data_centre"))
        assert answer.status_code == 200 and len(answer.json()["data"]["regions"]) == 38
        bad = await http.post(
            "/graphql", json={"query": "{ noSuchField }"}, headers=token_headers(settings, "data_centre")
        )
        assert bad.status_code == 200 and "errors" in bad.json()
        samples = await scrape(http)
    ok = {"route": "graphql", "operation": "query:regions"}
    assert sample(samples, "siks_http_requests_total", **ok, outcome="ok") == 1
    assert sample(samples, "siks_http_request_duration_seconds_count", **ok) == 1
    assert sample(samples, "siks_http_request_duration_seconds_sum", **ok) > 0
    assert sample(samples, "siks_http_request_duration_seconds_bucket", **ok, le="+Inf") == 1
    invalid = {"route": "graphql", "operation": "query:invalid", "outcome": "GRAPHQL_VALIDATION_FAILED"}
    assert sample(samples, "siks_http_requests_total", **invalid) == 1
    # the pool is read at the scrape; the outbox gauges are still there
    assert sample(samples, "siks_db_pool_size") >= 0
    assert ("siks_db_pool_checked_out", ()) in samples
    assert sample(samples, "siks_dci_outbox_deliveries", status="pending") == 0
    # no label carries a client's text: every operation is a route or <type>:<root field of the schema>
    operations = {dict(labels).get("operation") for (name, labels) in samples if name == "siks_http_requests_total"}
    assert operations == {"query:regions", "query:invalid"}


async def test_a_refused_request_is_counted_as_a_rate_limit_refusal(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings.model_copy(update={"anonymous_requests_per_minute": 1})) as http:
        first = await http.post("/graphql", json={"query": "{ me { role } }"})
        refused = await http.post("/graphql", json={"query": "{ me { role } }"})
        assert first.status_code != 429
        assert refused.status_code == 429 and refused.headers["retry-after"]
        samples = await scrape(http)
    assert sample(samples, "siks_rate_limit_refusals_total", route="graphql") == 1
    # refused before any GraphQL ran: counted under its route and status class
    refusal = {"route": "graphql", "operation": "graphql", "outcome": "4xx"}
    assert sample(samples, "siks_http_requests_total", **refusal) == 1, sorted(samples)


async def test_other_routes_are_counted_by_route_and_status_class(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/no/such/page/12345")).status_code == 404
        samples = await scrape(http)
    assert sample(samples, "siks_http_requests_total", route="health", operation="health", outcome="ok") == 1
    assert sample(samples, "siks_http_requests_total", route="other", operation="other", outcome="4xx") == 1


def test_labels_come_from_fixed_sets() -> None:
    assert route_of("/photos/8812") == "photos"
    assert route_of("/dci/registry/sync/search") == "dci"
    assert route_of("/wp-admin/x?y") == "other"
    assert outcome_of(200) == "ok"
    assert outcome_of(503) == "5xx"
    assert outcome_of(200, "FORBIDDEN") == "FORBIDDEN"
    assert outcome_of(400, "drop table; --") == "4xx"


async def test_the_cost_of_counting_a_request_is_small(db: AsyncEngine, settings: Settings) -> None:
    """Counting, timing and the log check take well under a millisecond a request (measured: ~20 µs)."""
    from core.http.metrics import RequestMetrics

    metrics = RequestMetrics()
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        metrics.observe("graphql", "query:regions", "ok", 200, 0.01)
    per_request = (time.perf_counter() - started) / rounds
    assert per_request < 0.0005, per_request


async def test_the_long_jobs_progress_is_read_from_the_database(
    db: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """A cycle, an import in three batches and a ranking run still going, each made as `siks` makes them
    (in this process here, in another one in production): the gauges show them on the next scrape."""
    households = numbered_households(5)
    summary = await import_households(
        db,
        write_households(tmp_path / "five.csv", households),
        request=IMPORTER,
        options=ImportOptions(workers=0, batch_households=2),
    )
    assert summary.loaded == 5
    cycle = await run_cycle(db, builtin_registry(), "bst", "2026-02", "32.01", "tester")
    assert isinstance(cycle, CycleRecord)
    async with db.begin() as conn:
        await conn.execute(
            insert(WelfareRankRun.__table__).values(
                id=1,
                model_version="pmt-1",
                status="running",
                as_of=date(2026, 1, 1),
                households_scored=1234,
                started_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    async with serve(settings) as http:
        samples = await scrape(http)
    assert sample(samples, "siks_program_cycles", program="bst", status=cycle.status) == 1
    assert sample(samples, "siks_import_last_run_batches") == 3
    assert sample(samples, "siks_import_last_run_loaded") == 5
    assert sample(samples, "siks_import_last_run_rows") == summary.rows + 1  # numbered as the file shows: header is 1
    assert sample(samples, "siks_import_last_run_finished") == 1
    assert sample(samples, "siks_rank_runs", status="running") == 1
    assert sample(samples, "siks_rank_runs_running_scored") == 1234
