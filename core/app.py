"""The HTTP application: Starlette serving the GraphQL schema at /graphql."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from graphql import ExecutionResult
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse

from core.access.enforcer import AccessControl
from core.audit.log import RequestInfo, record
from core.auth.principal import PUBLIC
from core.auth.requests import NotAuthenticated, principal_of
from core.db import create_engine, write_transaction
from core.middleware import BodySizeLimit, TimeLimit
from core.migrate import require_current
from core.nul import refuse_nul
from core.pauses import start_up_frozen
from core.photo_route import photo_endpoint
from core.public.app import PublicEndpoint
from core.schema.build import build_schema
from core.schema.context import Context
from core.schema.limits import encode_answer
from core.schema.list_sizes import Known
from core.settings import Mode, Settings, get_settings

#: Error codes of documents refused before any resolver ran (see core/schema/hardening.py).
REFUSED_CODES = frozenset({"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"})
#: Room in a photo upload's request for the multipart framing and the GraphQL document.
UPLOAD_OVERHEAD_BYTES = 256 * 1024


class GraphQLApp(GraphQL[Context, None]):
    """strawberry's ASGI view with our context and a faster JSON encoder."""

    def __init__(self, app_state: Any, settings: Settings, known: Known | None = None) -> None:
        super().__init__(
            build_schema(settings, known),
            graphql_ide="graphiql" if settings.mode is Mode.DEVELOPMENT else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=True,  # photo uploads; credentials travel in headers, never cookies (no CSRF)
        )
        self._state = app_state
        self._settings = settings

    async def get_context(self, request: Any, response: Any = None) -> Context:
        await refuse_nul(request)
        engine, access = self._state.engine, self._state.access
        client = request.client.host if request.client else "unknown"
        request_id = request.headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        try:
            principal = await principal_of(dict(request.headers), engine, self._settings)
        except NotAuthenticated as exc:
            async with write_transaction(engine) as conn:
                await record(
                    conn,
                    RequestInfo(PUBLIC, client, request_id),
                    operation="authenticate",
                    entity="credentials",
                    entity_id="-",
                    outcome="denied",
                    after={"reason": str(exc)},
                )
            raise HTTPException(401, f"not authenticated: {exc}") from None
        await access.refresh()
        info = RequestInfo(principal, client=client, request_id=request_id)
        request.state.siks_request_info = info
        return Context.create(engine, self._settings, access, principal, info, request=request, response=response)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Audit documents refused before execution (parse errors, limits, unknown fields) as denied attempts."""
        refused = [
            error.message for error in result.errors or [] if (error.extensions or {}).get("code") in REFUSED_CODES
        ]
        info = getattr(request.state, "siks_request_info", None)
        if refused and info is not None:
            async with write_transaction(self._state.engine) as conn:
                await record(
                    conn,
                    info,
                    operation="refusedDocument",
                    entity="graphql",
                    entity_id="-",
                    outcome="denied",
                    after={"errors": [message[:200] for message in refused[:5]]},
                )
        return await super().process_result(request, result)

    def encode_json(self, data: GraphQLHTTPResponse) -> bytes:  # type: ignore[override]
        return encode_answer(data, self._settings.max_response_bytes)


def create_app(settings: Settings | None = None) -> Starlette:
    """The application; it refuses to start on a database whose schema is not current."""
    settings = settings or get_settings()
    known = Known()  # the sizes queries are priced with, read from the database at start

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        problem = settings.secret_problem()
        if problem:
            raise RuntimeError(f"refusing to start in {settings.mode.value} mode: {problem}")
        app.state.engine = create_engine(settings)
        try:
            await require_current(app.state.engine)
            await known.load(app.state.engine)
            app.state.access = AccessControl(app.state.engine)
            await app.state.access.refresh(force=True)
            with start_up_frozen():
                yield
        finally:
            await public.aclose()
            await app.state.engine.dispose()

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    limits = [
        Middleware(
            BodySizeLimit,
            max_bytes=settings.max_request_bytes,
            max_upload_bytes=settings.max_photo_bytes + UPLOAD_OVERHEAD_BYTES,
        ),
        Middleware(TimeLimit, seconds=settings.request_timeout_seconds),
    ]
    app = Starlette(lifespan=lifespan, middleware=limits)
    app.state.settings = settings
    graphql = GraphQLApp(app.state, settings, known)
    public = PublicEndpoint(app.state, settings)
    app.router.routes.extend(
        [
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/public/graphql", public, methods=["GET", "POST"]),
            Route("/photos/{photo_id}", photo_endpoint(app.state), methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    return app
