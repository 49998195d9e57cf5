"""Cross-origin calls from browser apps: Starlette's CORSMiddleware on the two GraphQL endpoints only.

Allowed origins come from ``SIKS_CORS_ORIGINS`` (comma-separated, e.g.
``https://app.dinsos.example.go.id``); unset, no other origin may call the API from a browser, in
every mode. Credentials travel in headers (``Authorization``, ``X-API-Key``), never cookies, so no
``Access-Control-Allow-Credentials``. A refused preflight answers 400 with the JSON error shape.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

#: The paths browsers may call across origins.
PATHS = frozenset({"/graphql", "/public/graphql"})
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "X-Request-Id")
EXPOSED_HEADERS = ("X-Request-Id", "Retry-After")
CORS_REFUSED = "CORS_REFUSED"
PREFLIGHT_MAX_AGE_SECONDS = 600


class _JSONRefusals(CORSMiddleware):
    def preflight_response(self, request_headers: object) -> Response:  # type: ignore[override]
        response = super().preflight_response(request_headers)  # type: ignore[arg-type]
        if response.status_code < 400:
            return response
        reason = bytes(response.body).decode()
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        message = f"cross-origin request refused: {reason}; the server's SIKS_CORS_ORIGINS does not list it"
        body = {"errors": [{"message": message, "extensions": {"code": CORS_REFUSED}}]}
        return JSONResponse(body, status_code=response.status_code, headers=headers)


class CrossOrigin:
    """ASGI middleware: CORS for ``PATHS`` with the configured origins; other paths pass untouched."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = _JSONRefusals(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PATHS:
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
