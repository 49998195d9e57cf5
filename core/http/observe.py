"""Every request counted, timed and logged: ASGI middleware just inside ``RequestId``.

It labels the request with its route (the first segment of a known path, else ``other``), its
operation (the GraphQL root field that ``core.schema.operation_label`` noted, else the route) and its
outcome (``core.http.metrics.outcome_of``), adds it to the process's ``RequestMetrics`` and writes one
``siks.request`` log line (method, path, status, duration in ms, with the request id). The request id
is also set for every other log line written while the request is answered.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.foundation.logs import current_request_id
from core.http.metrics import RequestMetrics, outcome_of
from core.schema.operation_label import OPERATION_KEY, OUTCOME_KEY

#: The routes requests are counted under (the first segment of the path).
ROUTES = frozenset({"graphql", "public", "photos", "health", "ready", "metrics", "dci", "dataku", "security"})

log = logging.getLogger("siks.request")


def route_of(path: str) -> str:
    """The route label of ``path``: ``graphql``, ``public``, ``dci``, ... or ``other``."""
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in ROUTES else "other"


class Observed:
    """ASGI middleware: counts, times and logs each HTTP request."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        token = current_request_id.set(state.get("request_id"))
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope.get("path", ""))
            operation = str(state.get(OPERATION_KEY) or route)
            outcome = outcome_of(status, state.get(OUTCOME_KEY))
            self.metrics.observe(route, operation, outcome, status, seconds)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d",
                    scope.get("method", "?"),
                    scope.get("path", ""),
                    status,
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "operation": operation,
                        "outcome": outcome,
                    },
                )
            current_request_id.reset(token)
