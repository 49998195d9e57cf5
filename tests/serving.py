"""Serving the application for tests: in process over ASGI, or as a real uvicorn server on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp

from core.foundation.settings import Mode, Settings
from core.http.app import create_app

PRODUCTION_SECRET = "test-production-secret-0123456789abcdef"
PRODUCTION_AUDIT_KEY = "test-production-audit-key-0123456789abcdef"


def production(settings: Settings, **changes: object) -> Settings:
    """The same database in production mode (with a secret and an audit key production accepts)."""
    update = {"mode": Mode.PRODUCTION, "secret_key": PRODUCTION_SECRET, "audit_key": PRODUCTION_AUDIT_KEY}
    return settings.model_copy(update={**update, **changes})


@asynccontextmanager
async def serve(settings: Settings, client: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a new application made from ``settings`` (lifespan run, in process),
    its requests coming from the address ``client``."""
    async with serve_many(settings, client) as (http,):
        yield http


@asynccontextmanager
async def serve_many(settings: Settings, *clients: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """One new application, and an HTTP client for each address in ``clients`` talking to it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), AsyncExitStack() as stack:
        yield tuple(
            [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url="http://siks.test"
                    )
                )
                for address in clients
            ]
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def uvicorn_server(settings: Settings, wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 in a thread of its own, started as ``siks serve`` starts it
    (no proxy headers: the app believes ``SIKS_TRUSTED_PROXIES`` only); yields its base URL.
    ``wrap`` puts ASGI middleware of the test's own around the whole application (e.g. to record requests)."""
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        wrap(app) if wrap else app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
