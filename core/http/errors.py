"""JSON bodies for HTTP-level refusals, in the GraphQL error shape with an ``extensions.code`` a client can branch on.

``{"errors": [{"message": "...", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}`` — the same shape
whether the refusal came from routing (404, 405), a limit (413, 429, 503) or the GraphQL view
(400, 401, 405). docs/integrators.md lists every code.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.foundation.wording import say

BAD_REQUEST = "BAD_REQUEST"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

#: Messages for the statuses Starlette's router answers with a bare reason phrase.
_ROUTING_MESSAGES = {
    404: "there is nothing at this path; the API is at /graphql and /public/graphql",
    405: "this path does not answer that HTTP method; send GraphQL with POST (or queries with GET)",
}


def error_code(status: int) -> str:
    """The ``extensions.code`` of an HTTP-level refusal with ``status``."""
    if status == 400:
        return BAD_REQUEST
    if status == 401:
        return UNAUTHENTICATED
    if status == 403:
        return FORBIDDEN
    if status == 404:
        return NOT_FOUND
    if status == 405:
        return METHOD_NOT_ALLOWED
    if status == 413:
        return PAYLOAD_TOO_LARGE
    if status == 429:
        return TOO_MANY_REQUESTS
    if status == 503:
        return SERVICE_UNAVAILABLE
    return INTERNAL_SERVER_ERROR


def error_body(message: str, code: str, **extra: Any) -> dict[str, Any]:
    """One GraphQL-shaped error, its message in the request's language (``core.http.language``)."""
    return {**extra, "errors": [{"message": say(message), "extensions": {"code": code}}]}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, error_code(status)), status_code=status, headers=headers)


async def http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for its routing refusals (404, 405 with ``Allow``)."""
    assert isinstance(exc, HTTPException)
    message = _ROUTING_MESSAGES.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, message, dict(exc.headers or {}))


async def server_error(request: Request, _exc: Exception) -> Response:
    """The answer to an unhandled exception (the traceback goes to the server log, never to the client).

    Starlette calls it outside every middleware, so it repeats the request's ``X-Request-Id`` itself.
    """
    request_id = getattr(request.state, "request_id", None)
    headers = {"X-Request-Id": request_id} if isinstance(request_id, str) else None
    return error_response(500, "the server failed on its side; the failure was logged; retry later", headers)
