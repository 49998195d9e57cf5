"""The public endpoint: its own GraphQL view at ``/public/graphql``, behind the per-client rate limit.

No login, no audit row per lookup (the public could otherwise fill the log at will); the rate
limit (one look-up a request, so requests counted are look-ups counted), the budget of NIK
look-ups per name, the exact-match rule and the result cap are what keep names and NIKs from
being enumerated.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse

from core.foundation.nul import refuse_nul
from core.foundation.settings import Mode, Settings
from core.http.examples import PUBLIC_EXAMPLES, PUBLIC_HINT
from core.http.view import NO_STORE, HTTPConventions
from core.public.recap import RecapCache
from core.public.schema import PublicContext, build_public_schema
from core.runtime.guards import Guards
from core.runtime.outage import AnswersOutages
from core.runtime.ratelimit import RateLimited
from core.schema.limits import encode_answer

#: How long browsers and proxies may keep a recap fetched with GET (recaps change with verifications, slowly).
RECAP_MAX_AGE_SECONDS = 60


class PublicGraphQL(HTTPConventions, AnswersOutages, GraphQL[PublicContext, None]):
    """strawberry's ASGI view over the public schema; GraphiQL in development mode only; an outage answers 503."""

    def __init__(self, app_state: Any, settings: Settings, guards: Guards) -> None:
        super().__init__(
            build_public_schema(settings),
            graphql_ide="graphiql" if settings.mode is Mode.DEVELOPMENT else None,
            allow_queries_via_get=True,  # queries only (core.http.view)
        )
        self._state = app_state
        self._settings = settings
        self._guards = guards
        self._recaps = RecapCache()

    async def get_context(self, request: Any, response: Any = None) -> PublicContext:
        await refuse_nul(request)
        return PublicContext(
            self._state.engine, self._settings, self._recaps, self._guards.nik_checks, self._state.registry
        )

    def encode_json(self, data: GraphQLHTTPResponse) -> bytes:  # type: ignore[override]
        return encode_answer(data, self._settings.max_response_bytes)

    endpoint = "public"
    graphiql_examples = PUBLIC_EXAMPLES
    graphiql_hint = PUBLIC_HINT

    def cache_control(self, request: Any, document: str | None) -> str:
        """A GET asking for recaps only may be kept a minute by anyone; a lookup of people never."""
        if document is not None and asks_only_for_recaps(document):
            return f"public, max-age={RECAP_MAX_AGE_SECONDS}"
        return NO_STORE


def asks_only_for_recaps(document: str) -> bool:
    """Whether every operation of ``document`` asks for ``recap`` (or ``__typename``) and nothing else at its top."""
    try:
        parsed = parse(document)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations or len(operations) != len(parsed.definitions):
        return False
    return all(
        isinstance(selection, FieldNode) and selection.name.value in ("recap", "__typename")
        for operation in operations
        for selection in operation.selection_set.selections
    )


class PublicEndpoint:
    """The public GraphQL view behind the per-address limit of ``guards`` (closed with the application)."""

    def __init__(self, app_state: Any, settings: Settings, guards: Guards) -> None:
        self.limiter = guards.public
        self._app = RateLimited(PublicGraphQL(app_state, settings, guards), self.limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
