"""``GET /metrics``: the Prometheus text exposition of the DCI outbox's counters.

Counts only (deliveries by status, attempts, events not yet fanned out), read from the database
on each scrape, so every server process answers the same; nothing of any household is shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from core.dci.outbox import OutboxCounts, outbox_counts


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


def exposition(counts: OutboxCounts) -> bytes:
    """The counters in Prometheus's text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OutboxCollector(counts))
    return generate_latest(registry)


def metrics_endpoint(state: Any) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(_request: Request) -> Response:
        async with state.engine.connect() as conn:
            counts = await outbox_counts(conn)
        return Response(exposition(counts), media_type=CONTENT_TYPE_LATEST)

    return metrics
