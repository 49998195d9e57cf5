"""``X-Request-Id``: every response carries one, and the audit log records it as the request's id.

A client may send its own id (a correlation id of its system); it is kept to letters, digits and
``._:-`` and to 64 characters, so it can never inject anything into logs or headers. A request
without a usable id gets a random one.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
MAX_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


def sanitise(value: str | None) -> str:
    """The client's id reduced to the safe characters and length, or a new random id when nothing is left."""
    cleaned = _UNSAFE.sub("", value or "")[:MAX_LENGTH]
    return cleaned or secrets.token_hex(16)


def request_id_of(connection: HTTPConnection) -> str:
    """The id ``RequestId`` gave this request (a new one when the middleware did not run, e.g. in a unit test)."""
    value = getattr(connection.state, "request_id", None)
    return value if isinstance(value, str) else sanitise(connection.headers.get(HEADER))


class RequestId:
    """ASGI middleware: gives each request its id (``request.state.request_id``) and echoes it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == HEADER.encode()), b"")
        request_id = sanitise(sent.decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        # Whatever reads the header further in (the audit of a request, the photo route) sees the same id.
        others = [(name, value) for name, value in scope["headers"] if name != HEADER.encode()]
        scope["headers"] = [*others, (HEADER.encode(), request_id.encode())]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
