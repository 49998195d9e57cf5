"""A real HTTP receiver of DCI notify messages for tests: uvicorn on a free port, in a thread.

It keeps every message it was sent (even the ones it answers 503 to, as a subscriber whose answer
was lost would), and refuses with 503 while ``down`` is set or ``refuse_next`` is above zero.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.serving import free_port


@dataclass
class Receiver:
    url: str = ""
    down: bool = False
    refuse_next: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)  # every POST, in order
    accepted: list[dict[str, Any]] = field(default_factory=list)  # the ones answered 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message_ids(self) -> list[str]:
        return [body["header"]["message_id"] for body in self.accepted]

    async def notify(self, request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        with self.lock:
            self.received.append(body)
            if self.down or self.refuse_next > 0:
                self.refuse_next = max(self.refuse_next - 1, 0)
                return JSONResponse({"error": "down for maintenance"}, status_code=503)
            self.accepted.append(body)
        header = body["header"]
        return JSONResponse(
            {
                "message": {
                    "ack_status": "ACK",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "correlation_id": header["message_id"],
                }
            }
        )


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver listening at ``receiver.url`` (its notify URI) until the block ends."""
    receiver = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/notify", receiver.notify, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"receiver-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test receiver did not start")
        time.sleep(0.02)
    receiver.url = f"http://127.0.0.1:{port}/notify"
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=30)
