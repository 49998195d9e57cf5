"""What both GraphQL views (``/graphql``, ``/public/graphql``) share over HTTP.

- queries over GET (a mutation over GET is refused with 405 ``METHOD_NOT_ALLOWED``), so urql's
  default client, which sends queries within the URL length limit as GET, works;
- automatic persisted queries (``core.http.persisted``);
- every refusal strawberry raises (400, 401, 404, 405) answered as JSON with a code;
- ``Cache-Control`` on every answer: ``private, no-store`` unless the view says a GET may be kept;
- GraphiQL from the package's own files (``core.http.graphiql``), in development mode only.
"""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData

from core.foundation.wording import say
from core.http.errors import error_response
from core.http.graphiql import graphiql_page
from core.http.persisted import PersistedQueryProblem, PersistedQueryStore, resolve

NO_STORE = "private, no-store"
_GET_MUTATION = "mutations are not allowed when using GET"


class HTTPConventions:
    """Mixin for strawberry's ASGI ``GraphQL`` view; set ``endpoint`` and ``graphiql_examples``.

    The view's ``_state`` (the application's state) holds the persisted queries (``PersistedQueries``).
    """

    endpoint = "main"
    #: (title, document) pairs GraphiQL opens with; the first is the editor's content.
    graphiql_examples: tuple[tuple[str, str], ...] = ()
    graphiql_hint: str = ""
    graphiql_headers: str = ""

    @property
    def persisted_queries(self) -> PersistedQueryStore:
        return self._state.persisted_queries.of(self.endpoint)  # type: ignore[attr-defined, no-any-return]

    def cache_control(self, request: Request, document: str | None) -> str:
        """``Cache-Control`` of a successful GET of ``document``; private and never stored unless overridden."""
        return NO_STORE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # type: ignore[misc]
            return
        request = Request(scope, receive)
        response: Response
        try:
            response = await self.run(request)  # type: ignore[attr-defined]
        except HTTPException as exc:
            response = _refusal(exc)
        except PersistedQueryProblem as problem:
            response = JSONResponse(problem.body, status_code=problem.status)
        if "cache-control" not in response.headers:
            response.headers["Cache-Control"] = self._cache_control(request, response)
        await response(scope, receive, send)

    def _cache_control(self, request: Request, response: Response) -> str:
        body = getattr(response, "body", None)  # a streamed answer has none: never stored
        if request.method != "GET" or response.status_code != 200 or body is None or b'"errors"' in bytes(body):
            return NO_STORE
        return self.cache_control(request, getattr(request.state, "graphql_document", None))

    async def process_result(self, request: Any, result: Any) -> GraphQLHTTPResponse:
        """The answer with its errors' messages in the request's language (``core.http.language``); codes unchanged."""
        answer: GraphQLHTTPResponse = await super().process_result(request, result)  # type: ignore[misc]
        for error in answer.get("errors") or ():
            error["message"] = say(error["message"])
        return answer

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        data = await super().parse_http_body(request)  # type: ignore[misc]
        if isinstance(data, GraphQLRequestData):
            data.query = await resolve(self.persisted_queries, data.query, data.extensions)
            request._request.state.graphql_document = data.query  # type: ignore[attr-defined]  # noqa: SLF001
        return data

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET carrying only a persisted query's hash is a query, not a browser asking for GraphiQL.
        has_extensions = request.query_params.get("extensions") is not None
        return super().should_render_graphql_ide(request) and not has_extensions  # type: ignore[misc]

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(request.url.path, self.graphiql_examples, self.graphiql_hint, self.graphiql_headers)


def _refusal(exc: HTTPException) -> Response:
    """strawberry's HTTP refusals with a JSON body and a code; a mutation over GET names the way out."""
    headers = dict(getattr(exc, "headers", None) or {})
    message = exc.reason
    status = exc.status_code
    if message == _GET_MUTATION:  # strawberry says 400; it is the method that is wrong
        status, message = 405, "mutations are not allowed when using GET; send them with POST"
        headers.setdefault("Allow", "POST")
    elif exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    elif exc.status_code == 404:
        message = "the API explorer page exists in development mode only; send GraphQL with POST, or queries with GET"
    return error_response(status, message, headers)
