"""``GET /metrics``: the Prometheus text exposition of the server's requests, its database pool and the
DCI outbox's counters.

Under ``siks serve --workers N`` the request counters and histograms live in prometheus-client's
multiprocess mode: every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (a folder
``siks serve`` makes and removes), and whichever worker answers a scrape sums them all.

- ``siks_http_requests_total{route, operation, outcome}`` and
  ``siks_http_request_duration_seconds{route, operation}`` count and time every request
  (``core.http.observe``); ``siks_rate_limit_refusals_total{route}`` counts the HTTP 429 answers.
- ``siks_db_pool_size`` / ``siks_db_pool_checked_out`` / ``siks_db_pool_overflow`` read the
  SQLAlchemy pool at each scrape (0 for a pool that keeps no count).
- The outbox gauges and the long jobs' progress (program cycles, ranking runs, identity runs, the
  newest import: ``core.operations.progress``) are read from the database on each scrape, so every
  server process answers the same, also for a job `siks` runs in a process of its own.

Every label takes values from a fixed set (routes, the schema's root fields, error codes, status
classes): no ids and no client text, so the series stay few. Nothing of any household is shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from core.dci.outbox import OutboxCounts, outbox_counts
from core.operations.progress import Progress, progress

#: The environment variable naming the folder of the workers' metric files (prometheus-client's own).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

#: Request durations, in seconds: from a cached answer to the request time limit.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def outcome_of(status: int, code: str | None = None) -> str:
    """``ok``; a GraphQL error code (upper-case word, as the project's codes are); else the status class (``4xx``)."""
    if code is not None and _CODE.match(code):
        return code
    if status < 400:
        return "ok"
    return f"{status // 100}xx"


class RequestMetrics:
    """The request counters and latency histograms, in a registry of their own: this process's, or, when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (``siks serve --workers N``), every worker's summed."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "siks_http_requests",
            "HTTP requests answered, by route, GraphQL root field (or route) and outcome.",
            ["route", "operation", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "siks_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and GraphQL root field (or route).",
            ["route", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "siks_rate_limit_refusals",
            "Requests refused with HTTP 429 (a rate limit or the login throttle), by route.",
            ["route"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The counters in Prometheus's text format: summed over the workers' files in multiprocess mode."""
        folder = os.environ.get(MULTIPROCESS_DIR)
        if not folder:
            return generate_latest(self.registry)
        summed = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(summed, path=folder)
        return generate_latest(summed)

    def observe(self, route: str, operation: str, outcome: str, status: int, seconds: float) -> None:
        self.requests.labels(route, operation, outcome).inc()
        self.duration.labels(route, operation).observe(seconds)
        if status == 429:
            self.refusals.labels(route).inc()


class _PoolCollector(Collector):
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.sync_engine.pool

        def read(name: str) -> int:
            method = getattr(pool, name, None)
            return int(method()) if callable(method) else 0

        yield GaugeMetricFamily("siks_db_pool_size", "Connections the database pool keeps open.", value=read("size"))
        yield GaugeMetricFamily(
            "siks_db_pool_checked_out", "Pooled connections in use by a request now.", value=read("checkedout")
        )
        yield GaugeMetricFamily(
            "siks_db_pool_overflow",
            "Connections open beyond the pool's size (negative: room left).",
            value=read("overflow"),
        )


class _OutboxCollector(Collector):
    def __init__(self, counts: OutboxCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        c = self.counts
        deliveries = GaugeMetricFamily(
            "siks_dci_outbox_deliveries", "DCI notifications in the outbox, by delivery status.", labels=["status"]
        )
        for status, value in (
            ("pending", c.pending),
            ("delivered", c.delivered),
            ("failed", c.failed),
            ("cancelled", c.cancelled),
        ):
            deliveries.add_metric([status], value)
        yield deliveries
        yield GaugeMetricFamily(
            "siks_dci_outbox_attempts", "Delivery attempts made for the notifications in the outbox.", value=c.attempts
        )
        yield GaugeMetricFamily(
            "siks_dci_outbox_events_waiting",
            "Registry events not yet fanned out to subscriptions.",
            value=c.events_waiting,
        )


class _ProgressCollector(Collector):
    def __init__(self, jobs: Progress) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cycles = GaugeMetricFamily(
            "siks_program_cycles",
            "Program cycles, by program and status (running, completed, approved).",
            labels=["program", "status"],
        )
        for (program, status), value in sorted(self.jobs.cycles.by_status.items()):
            cycles.add_metric([program, status], value)
        yield cycles
        yield GaugeMetricFamily(
            "siks_program_cycles_running_enrolled",
            "Households enrolled so far by the program cycles still running.",
            value=self.jobs.cycles.running_enrolled,
        )
        yield GaugeMetricFamily(
            "siks_program_cycles_running_refused",
            "Households refused so far by the program cycles still running.",
            value=self.jobs.cycles.running_refused,
        )
        ranking = GaugeMetricFamily(
            "siks_rank_runs", "Welfare ranking runs (siks rank apply), by status.", labels=["status"]
        )
        for status, value in sorted(self.jobs.ranking.by_status.items()):
            ranking.add_metric([status], value)
        yield ranking
        yield GaugeMetricFamily(
            "siks_rank_runs_running_scored",
            "Households scored so far by the ranking runs still running.",
            value=self.jobs.ranking.running_scored,
        )
        identity = GaugeMetricFamily(
            "siks_identity_runs", "Identity runs (check, dedup), by kind and status.", labels=["kind", "status"]
        )
        for (kind, status), value in sorted(self.jobs.identity.items()):
            identity.add_metric([kind, status], value)
        yield identity
        last = self.jobs.last_import
        yield GaugeMetricFamily(
            "siks_import_last_run_batches", "Batches the newest household import has committed.", value=last.batches
        )
        yield GaugeMetricFamily(
            "siks_import_last_run_rows",
            "The file row (the header is row 1) the newest household import has committed up to.",
            value=last.rows,
        )
        yield GaugeMetricFamily(
            "siks_import_last_run_loaded", "Households the newest household import has loaded.", value=last.loaded
        )
        yield GaugeMetricFamily(
            "siks_import_last_run_finished",
            "1 when the newest household import has ended (or none ran), 0 while it runs or after it was killed.",
            value=int(last.finished),
        )


def exposition(
    counts: OutboxCounts, requests: RequestMetrics | None = None, engine: Any = None, jobs: Progress | None = None
) -> bytes:
    """The counters in Prometheus's text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OutboxCollector(counts))
    if jobs is not None:
        registry.register(_ProgressCollector(jobs))
    if engine is not None:
        registry.register(_PoolCollector(engine))
    text = generate_latest(registry)
    return requests.exposition() + text if requests is not None else text


def metrics_endpoint(state: Any) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(_request: Request) -> Response:
        async with state.engine.connect() as conn:
            counts = await outbox_counts(conn)
            jobs = await progress(conn)
        body = exposition(counts, getattr(state, "request_metrics", None), state.engine, jobs)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
