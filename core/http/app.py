"""The HTTP application: Starlette serving the GraphQL schema at /graphql.

HTTP conventions (``core.http``): CORS for the configured origins, an ``X-Request-Id`` on every
response, JSON error bodies with codes, queries over GET and persisted queries, ``Cache-Control``,
and GraphiQL from the package's own files in development mode.

``/health`` says the process runs; ``/ready`` that it can reach its database. A database outage
answers every route with a JSON 503 and ``Retry-After`` (``core.runtime.outage``). While it runs, the
server anchors the audit log's head in the checkpoint file (``core.audit.checkpoints``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from graphql import ExecutionResult
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as RoutingRefusal
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from core.access.enforcer import AccessControl
from core.audit.checkpoints import checkpoint_periodically
from core.audit.log import record
from core.auth.gate import CallerGate, caller_of
from core.dataku.pages import PREFIX as DATAKU
from core.dataku.routes import dataku_app
from core.dci.delivery import delivering
from core.dci.routes import dci_routes
from core.dci.security.routes import security_routes
from core.foundation.logs import configure_json_logs
from core.foundation.nul import refuse_nul
from core.foundation.settings import Mode, Settings, get_settings
from core.grievances.schedule import escalating
from core.http import errors as http_errors
from core.http.cors import CrossOrigin
from core.http.examples import MAIN_EXAMPLES, MAIN_HEADERS, MAIN_HINT
from core.http.graphiql import static_files
from core.http.language import ApiLanguage
from core.http.metrics import RequestMetrics, metrics_endpoint
from core.http.middleware import BodySizeLimit, TimeLimit
from core.http.observe import Observed
from core.http.persisted import PersistedQueries, closing_persisted_queries
from core.http.photos import photo_endpoint
from core.http.request_id import RequestId
from core.http.view import HTTPConventions
from core.programs.registry import ProgramRegistry, registry_from_settings
from core.public.app import PublicEndpoint
from core.runtime.background import running
from core.runtime.guards import Guards
from core.runtime.outage import AnswersOutages, DatabaseOutage, readiness
from core.runtime.pauses import start_up_frozen
from core.schema.build import build_schema
from core.schema.context import Context
from core.schema.limits import encode_answer
from core.schema.list_sizes import Known
from core.storage.db import create_engine, write_transaction
from core.storage.migrate import require_current
from core.storage.replica import ReplicaRouter

#: Error codes of documents refused before any resolver ran (see core/schema/hardening.py).
REFUSED_CODES = frozenset({"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"})
#: Room in a photo upload's request for the multipart framing and the GraphQL document.
UPLOAD_OVERHEAD_BYTES = 256 * 1024


class GraphQLApp(HTTPConventions, AnswersOutages, GraphQL[Context, None]):
    """strawberry's ASGI view with our context and a faster JSON encoder; a database outage answers 503."""

    def __init__(
        self,
        app_state: Any,
        settings: Settings,
        guards: Guards,
        registry: ProgramRegistry,
        known: Known | None = None,
    ) -> None:
        super().__init__(
            build_schema(settings, known, registry=registry),
            graphql_ide="graphiql" if settings.mode is Mode.DEVELOPMENT else None,
            allow_queries_via_get=True,  # queries only; a mutation over GET is refused (core.http.view)
            multipart_uploads_enabled=True,  # photo uploads; credentials travel in headers, never cookies (no CSRF)
        )
        self._state = app_state
        self._settings = settings
        self._guards = guards
        self._registry = registry

    async def get_context(self, request: Any, response: Any = None) -> Context:
        await refuse_nul(request)
        caller = caller_of(request.scope)  # authenticated (or found anonymous) by the CallerGate
        await self._state.access.refresh()
        info = caller.request_info()
        request.state.siks_request_info = info
        context = Context.create(
            self._state.engine,
            self._settings,
            self._state.access,
            caller.principal,
            info,
            request=request,
            response=response,
            guards=self._guards,
            registry=self._registry,
        )
        context.replicas = self._state.replicas  # the operation's reads may go to a replica (core.schema.routing)
        return context

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Audit documents refused before execution (parse errors, limits, unknown fields) as denied attempts."""
        refused = [
            error.message for error in result.errors or [] if (error.extensions or {}).get("code") in REFUSED_CODES
        ]
        info = getattr(request.state, "siks_request_info", None)
        if refused and info is not None:
            errors = [message[:200] for message in refused[:5]]
            if info.principal.is_public:  # anyone can send these: one row an address and window, not a request
                reason = "the document was refused before execution"
                await self._guards.refusals.refused(
                    info, operation="refusedDocument", entity="graphql", reason=reason, after={"errors": errors}
                )
            else:
                async with write_transaction(self._state.engine) as conn:
                    await record(
                        conn,
                        info,
                        operation="refusedDocument",
                        entity="graphql",
                        entity_id="-",
                        outcome="denied",
                        after={"errors": errors},
                    )
        return await super().process_result(request, result)

    def encode_json(self, data: GraphQLHTTPResponse) -> bytes:  # type: ignore[override]
        return encode_answer(data, self._settings.max_response_bytes)

    graphiql_examples = MAIN_EXAMPLES
    graphiql_hint = MAIN_HINT
    graphiql_headers = MAIN_HEADERS


@contextlib.asynccontextmanager
async def _checkpoints(engine: Any, settings: Settings) -> AsyncIterator[None]:
    """While the server runs, a checkpoint of the audit log every ``SIKS_AUDIT_CHECKPOINT_SECONDS`` (0: none)."""
    if not settings.audit_checkpoint_seconds:
        yield
        return
    work = checkpoint_periodically(engine, settings.audit_checkpoint_file, settings.audit_checkpoint_seconds)
    async with running(work, "siks-audit-checkpoints"):
        yield


def trusted_proxies(settings: Settings) -> list[Middleware]:
    """Believe ``X-Forwarded-For`` from the proxies of ``SIKS_TRUSTED_PROXIES`` only (none by default).

    uvicorn's own middleware, placed first, rewrites the request's client before anything reads it, so
    rate limits, the login throttle and audit rows all see the same address. ``siks serve`` turns
    uvicorn's built-in proxy handling off (it trusts loopback by default).
    """
    networks = settings.trusted_proxy_networks()
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=networks)] if networks else []


def create_app(settings: Settings | None = None, registry: ProgramRegistry | None = None) -> Starlette:
    """The application; it refuses to start on a database whose schema is not current.

    The application serves the plugins of its own registry (``registry``, or one built from
    ``settings.plugins``), which reaches the schema, every request's context and the cycle runs; it is
    ``app.state.registry``.
    """
    settings = settings or get_settings()
    registry = registry or registry_from_settings(settings)
    known = Known()  # the sizes queries are priced with, read from the database at start
    if settings.json_logs():
        configure_json_logs()
    request_metrics = RequestMetrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        problem = settings.secret_problem()
        if problem:
            raise RuntimeError(f"refusing to start in {settings.mode.value} mode: {problem}")
        app.state.engine = create_engine(settings)
        replicated = settings.database_replica_url and not settings.is_sqlite
        app.state.replicas = ReplicaRouter(app.state.engine, settings) if replicated else None
        flusher: asyncio.Task[None] | None = None
        try:
            await require_current(app.state.engine)
            await known.load(app.state.engine)
            app.state.access = AccessControl(app.state.engine)
            await app.state.access.refresh(force=True)
            flusher = asyncio.create_task(guards.refusals.run(), name="siks-refusal-flusher")
            async with (
                _checkpoints(app.state.engine, settings),
                delivering(app.state.engine, settings),
                escalating(app.state.engine, settings),
            ):
                with start_up_frozen():
                    yield
        finally:
            if flusher is not None:
                flusher.cancel()
            try:
                await guards.aclose()
                if app.state.replicas is not None:
                    await app.state.replicas.aclose()
            finally:
                await app.state.engine.dispose()

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    limits = [
        *trusted_proxies(settings),
        Middleware(
            BodySizeLimit,
            max_bytes=settings.max_request_bytes,
            max_upload_bytes=settings.max_photo_bytes + UPLOAD_OVERHEAD_BYTES,
            own_limits=(DATAKU,),  # the citizens' pages answer a too-large form with a page (core.dataku.routes)
        ),
        Middleware(TimeLimit, seconds=settings.request_timeout_seconds),
        Middleware(DatabaseOutage),
    ]
    conventions = [Middleware(RequestId), Middleware(ApiLanguage), Middleware(Observed, metrics=request_metrics)]
    if settings.cors_origin_list():
        conventions.append(Middleware(CrossOrigin, origins=settings.cors_origin_list()))
    refusals = {RoutingRefusal: http_errors.http_exception, 500: http_errors.server_error}
    app = Starlette(
        lifespan=closing_persisted_queries(lifespan), middleware=conventions + limits, exception_handlers=refusals
    )
    app.state.persisted_queries = PersistedQueries(settings)
    app.state.settings = settings
    app.state.request_metrics = request_metrics
    app.state.registry = registry
    app.state.guards = guards = Guards.make(app.state, settings)
    graphql_view = GraphQLApp(app.state, settings, guards, registry, known)
    graphql = CallerGate(graphql_view, app.state, settings, guards.anonymous, guards.refusals)
    public = PublicEndpoint(app.state, settings, guards)
    app.router.routes.extend(
        [
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/public/graphql", public, methods=["GET", "POST"]),
            Route("/photos/{photo_id}", photo_endpoint(app.state), methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", readiness(app.state), methods=["GET"]),
            *security_routes(app.state),
            Route("/metrics", metrics_endpoint(app.state), methods=["GET"]),
            *dci_routes(app.state),
            Mount(DATAKU, dataku_app(app.state)),  # the citizens' pages (docs/dataku.md)
        ]
    )
    if settings.mode is Mode.DEVELOPMENT:
        app.router.routes.append(static_files())
    return app
