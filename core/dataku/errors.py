"""The pages' own refusals as small HTML pages in the request's language, never Starlette's plain text
or the API's JSON: 404 (nothing at that path), 405 (a method the path does not answer, with ``Allow``),
429/503 from the limits (``limited``), 500 (an unexpected exception: logged with its traceback, the page
gives only the request id) and 503 (a database outage, ``core.runtime.outage.is_outage``, with
``Retry-After``). They are rendered inside ``SecurityHeaders``, so they carry the same headers as
every page.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from core.dataku.i18n import N_, Message
from core.dataku.limits import Refused
from core.dataku.pages import render
from core.runtime.outage import RETRY_AFTER_SECONDS, is_outage

TEMPLATE = "error.html"
log = logging.getLogger("siks.dataku")

NOT_FOUND = (N_("Page not found"), Message(N_("There is no page at this address. Start again from the home page.")))
METHOD_NOT_ALLOWED = (
    N_("This page cannot do that"),
    Message(N_("This page does not accept that kind of request. Open it again from the home page.")),
)
SERVER_ERROR = (
    N_("Something went wrong"),
    Message(N_("The page failed on our side and the failure was recorded. Please try again later.")),
)
UNAVAILABLE = (
    N_("Not available right now"),
    Message(
        N_("The registry cannot answer right now. Please try again in %(seconds)s s."), {"seconds": RETRY_AFTER_SECONDS}
    ),
)
TOO_MANY = N_("Too many requests")
#: What other HTTP refusals say (none are raised by the pages today; a 4xx from Starlette would be one).
OTHER = (N_("The request was refused"), Message(N_("This request cannot be answered. Start again from the home page.")))


def error_page(
    request: Request, title: str, message: Message, status: int, headers: dict[str, str] | None = None
) -> Response:
    response = render(
        request, TEMPLATE, {"title": title, "message": message, "request_id": _request_id(request)}, status
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def limited(request: Request, refused: Refused) -> Response:
    """A limit's refusal (429 or 503) as a page of its own, with ``Retry-After``."""
    return error_page(request, TOO_MANY, refused.message, refused.status, {"retry-after": str(refused.retry_after)})


def _request_id(request: Request) -> str | None:
    found = getattr(request.state, "request_id", None)
    return found if isinstance(found, str) else None


def _allowed(routes: list[BaseRoute], request: Request) -> str:
    """Every method some route of the path answers (Starlette's own ``Allow`` names the first route's only)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


class PageErrors:
    """ASGI wrapper answering the pages' refusals with ``error_page``: HTTP exceptions (routing's 404 and
    405, anywhere inside ``app``) through Starlette's ``ExceptionMiddleware``, and any other exception raised
    out of ``app`` before a response started. Only what comes out of ``app`` is caught, so middleware
    inside it that answers its own exceptions (a body size limit) still does."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.routes = routes
        self.app = ExceptionMiddleware(app, handlers={HTTPException: self.http_error})

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_page(request, *NOT_FOUND, 404)
        if exc.status_code == 405:
            return error_page(request, *METHOD_NOT_ALLOWED, 405, {"allow": _allowed(self.routes, request)})
        return error_page(request, *OTHER, exc.status_code, dict(exc.headers or {}))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: AsgiMessage) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            response = unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)


def unexpected(request: Request, exc: Exception) -> Response:
    """A database outage's 503 page, or the 500 page of anything else (logged with its traceback)."""
    if is_outage(exc):
        log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
        return error_page(request, *UNAVAILABLE, 503, {"retry-after": str(RETRY_AFTER_SECONDS)})
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, *SERVER_ERROR, 500)
