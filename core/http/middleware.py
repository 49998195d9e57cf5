"""HTTP limits for every path: the size of a request body and the time a request may take.

Both are plain ASGI middleware (no buffering of the response) and answer in the GraphQL error
shape, ``{"errors": [{"message": ..., "extensions": {"code": ...}}]}``, so clients read them like any other error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.http.errors import error_body, error_code
from core.runtime.deadline import TIMEOUT_CODE, deadline_in


async def send_error(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None
) -> None:
    """Answer with ``status`` and one GraphQL-shaped error with ``code`` (by default the status's, ``core.http``)."""
    body = orjson.dumps(error_body(message, code or error_code(status)))
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class _ResponseTracker:
    """Wraps ``send`` to know whether the response has started (after which no error can be sent)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


#: Answers a request whose body is too large: (scope, receive, send, whether it is a multipart upload).
Refuse = Callable[[Scope, Receive, Send, bool], Awaitable[None]]


class BodySizeLimit:
    """Refuses request bodies larger than ``max_bytes`` with HTTP 413, by the declared length or while reading.

    A multipart request (a photo upload) may carry up to ``max_upload_bytes`` instead. ``refuse``
    words the answer (by default a GraphQL-shaped error); paths under ``own_limits`` (``/dataku``)
    pass untouched: their application limits its bodies itself, with this class, answering in pages.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_upload_bytes: int | None = None,
        *,
        refuse: Refuse | None = None,
        own_limits: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes or max_bytes
        self.refuse = refuse or self._refuse
        self.own_limits = own_limits

    async def _refuse(self, _scope: Scope, _receive: Receive, send: Send, upload: bool) -> None:
        await send_error(send, 413, self._message(upload))

    def _limits_itself(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.own_limits)

    def _message(self, upload: bool) -> str:
        if upload:
            return (
                f"the upload is larger than the limit of {self.max_upload_bytes:,} bytes; "
                "send one photo per request, within SIKS_MAX_PHOTO_BYTES"
            )
        return (
            f"the request body is larger than the limit of {self.max_bytes:,} bytes; "
            "send a shorter query, fewer variables or several smaller requests"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._limits_itself(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.refuse(scope, receive, send, upload)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        tracker = _ResponseTracker(send)
        try:
            await self.app(scope, limited_receive, tracker)
        except _BodyTooLarge:
            if tracker.started:
                raise
            await self.refuse(scope, receive, send, upload)


class TimeLimit:
    """Stops a request still running after ``seconds`` and answers HTTP 503 saying so.

    ``asyncio.timeout`` stops it where it awaits; the same deadline is set for the request
    (``core.runtime.deadline``) so that synchronous work — completing GraphQL values, encoding the answer —
    stops itself too, raising ``TimeoutError`` or ending in an error at its next check, instead of
    holding the event loop for every other client.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracker = _ResponseTracker(send)
        with deadline_in(self.seconds) as deadline:
            try:
                async with asyncio.timeout(self.seconds):
                    await self.app(scope, receive, tracker)
            except TimeoutError:
                if tracker.started:
                    raise
                await send_error(send, 503, deadline.message, code=TIMEOUT_CODE)
