"""Database outages: every endpoint answers at once with a JSON 503 and ``Retry-After``, never the driver's text.

An outage is an error that says the database cannot serve right now, wherever it surfaces
(``is_outage``): no connection could be made (``core.storage.db.DatabaseUnreachable``: refused, timed
out after ``SIKS_DB_CONNECT_TIMEOUT_SECONDS``, unopenable file), no pooled connection came free
within ``SIKS_DB_POOL_TIMEOUT_SECONDS``, a connection broke in use, or the driver reported an
operational failure (SQLite: locked beyond ``SIKS_DB_LOCK_TIMEOUT_SECONDS``, I/O error, read-only
or unopenable file). A plain SQL error (SQLite's generic code, PostgreSQL's statement errors) is
a bug, not an outage, and stays an internal error.

Three places turn an outage into the answer:

- ``OutageErrors``, a schema extension of both GraphQL schemas, replaces every outage error of a
  result with one that carries ``extensions.code = SERVICE_UNAVAILABLE`` and no driver text (in
  development mode too);
- ``AnswersOutages``, mixed into both GraphQL views, turns a result holding such an error into a
  ``DatabaseUnavailable`` exception, so a half-answered query becomes HTTP 503;
- ``DatabaseOutage``, ASGI middleware around every route, answers any outage raised out of a
  request (context creation, authentication, the audit of a refusal, the photo route, the
  result above) with the 503, and logs the error's type for the operator.

``/ready`` (``readiness``) asks the database ``SELECT 1`` within the connect timeout, then whether its
schema is current, then pings Redis when ``SIKS_REDIS_URL`` is set; ``/health`` only says that the process runs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import asyncpg
import redis.asyncio as redis
from alembic.runtime.migration import MigrationContext
from graphql import GraphQLError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from core.storage.db import DatabaseUnreachable
from core.storage.migrate import SchemaState, schema_state

CODE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_SECONDS = 5
MESSAGE = (
    f"the registry's database is unavailable right now; try again in {RETRY_AFTER_SECONDS} s "
    "(read back a change you sent before sending it again)"
)
#: SQLite's generic error code: a bad statement (no such table, a syntax error), which is a bug, not an outage.
SQLITE_STATEMENT_ERROR = sqlite3.SQLITE_ERROR

log = logging.getLogger("siks.outage")


class DatabaseUnavailable(Exception):
    """A GraphQL result held an outage error: the request is answered with HTTP 503."""


_OUTAGES: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    DatabaseUnreachable,
    sa_exc.TimeoutError,  # no pooled connection came free in time
    sa_exc.DisconnectionError,
    sa_exc.InterfaceError,  # the connection is unusable (closed under us)
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error``, then what explicitly caused it (``raise ... from``), and a GraphQL error's original error."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.original_error if isinstance(error, GraphQLError) else error.__cause__


def is_outage(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) says the database cannot serve right now."""
    for link in _chain(error):
        if isinstance(link, BaseExceptionGroup):
            return any(is_outage(member) for member in link.exceptions)
        if isinstance(link, _OUTAGES):
            return True
        if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, sa_exc.OperationalError):
            return _sqlite_code(link) != SQLITE_STATEMENT_ERROR
    return False


def _sqlite_code(error: sa_exc.OperationalError) -> int | None:
    """SQLite's primary result code behind ``error``, or None when it did not come from SQLite."""
    for link in _chain(error.orig):
        code = getattr(link, "sqlite_errorcode", None)
        if isinstance(link, sqlite3.Error) and code is not None:
            return int(code) & 0xFF
    return None


def unavailable(**extra: Any) -> JSONResponse:
    """The 503 answer: the GraphQL error shape with its code, and ``Retry-After``."""
    body = {**extra, "errors": [{"message": MESSAGE, "extensions": {"code": CODE}}]}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _describe(error: BaseException) -> str:
    """The error's types along its cause chain, for the server log (the driver's text can hold addresses)."""
    return " <- ".join(type(link).__name__ for link in _chain(error))


class OutageErrors(SchemaExtension):
    """Replaces each outage error of a result with a SERVICE_UNAVAILABLE error without the driver's text.

    Listed after the error-code and masking extensions, so it sees the original errors first.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        for position, error in enumerate(errors):
            if is_outage(error):
                log.warning("database unavailable in a resolver: %s", _describe(error))
                errors[position] = GraphQLError(MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": CODE})


class AnswersOutages:
    """Mixin for strawberry's ASGI views: a result holding a SERVICE_UNAVAILABLE error becomes HTTP 503."""

    async def process_result(self, request: Any, result: Any) -> Any:
        if any((error.extensions or {}).get("code") == CODE for error in result.errors or ()):
            raise DatabaseUnavailable
        return await super().process_result(request, result)  # type: ignore[misc]


class DatabaseOutage:
    """ASGI middleware: an outage raised while answering a request becomes the 503 answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if started or not is_outage(error):
                raise
            if not isinstance(error, DatabaseUnavailable):
                log.warning("database unavailable on %s: %s", scope.get("path", "?"), _describe(error))
            await unavailable()(scope, receive, send)


#: What ``/ready`` says when the schema is not the one this code needs, or Redis cannot be reached.
SCHEMA_MESSAGE = "the database's schema is not the one this version of SIKS needs; run `siks db upgrade`"
REDIS_MESSAGE = "the configured Redis (SIKS_REDIS_URL) does not answer; rate limits cannot be counted"


async def _redis_answers(url: str, seconds: float) -> bool:
    client = redis.from_url(url, socket_timeout=seconds, socket_connect_timeout=seconds)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


def _recorded_revisions(connection: Any) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def readiness(state: Any) -> Any:
    """``GET /ready``: 200 ``{"status": "ready"}`` when the database answers within the connect timeout with the
    current schema and the configured Redis (if any) answers its ping; else HTTP 503 naming the failing part
    (``failing``: ``database``, ``schema`` or ``redis``) with ``Retry-After``."""

    current: set[str] = set()  # the revisions last found current: only a change asks Alembic again (~25 ms)

    async def ready(_request: Request) -> JSONResponse:
        seconds = state.settings.db_connect_timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                async with state.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                    recorded = await conn.run_sync(_recorded_revisions)
                schema = SchemaState.CURRENT if current and recorded == current else await schema_state(state.engine)
        except Exception as error:  # not ready, whatever the reason; the log says which
            log.warning("not ready: %s", _describe(error))
            return unavailable(status="unavailable", failing="database")
        current.clear()
        if schema is SchemaState.CURRENT:
            current.update(recorded)
        else:
            log.warning("not ready: the schema is %s", schema.value)
            return _not_ready("schema", f"{SCHEMA_MESSAGE} (it is {schema.value})", schema=schema.value)
        url = state.settings.redis_url
        if url:
            try:
                async with asyncio.timeout(seconds):
                    answered = await _redis_answers(url, seconds)
            except Exception as error:
                log.warning("not ready: Redis %s", _describe(error))
                answered = False
            if not answered:
                return _not_ready("redis", REDIS_MESSAGE)
        replicas = getattr(state, "replicas", None)
        if replicas is not None:  # reported, never failing: queries go to the primary while it is not usable
            return JSONResponse({"status": "ready", **(await replicas.state()).report()})
        return JSONResponse({"status": "ready"})

    return ready


def _not_ready(part: str, message: str, **extra: Any) -> JSONResponse:
    body = {
        "status": "unavailable",
        "failing": part,
        **extra,
        "errors": [{"message": message, "extensions": {"code": CODE}}],
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
