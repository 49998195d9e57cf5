"""The public endpoint: its own GraphQL view at ``/public/graphql``, behind the per-client rate limit.

No login, no audit row per lookup (the public could otherwise fill the log at will); the rate
limit, the exact-match rule and the result cap are what keep names from being enumerated.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse

from core.nul import refuse_nul
from core.public.ratelimit import RateLimited, RateLimiter, make_limiter
from core.public.recap import RecapCache
from core.public.schema import PublicContext, build_public_schema
from core.schema.limits import encode_answer
from core.settings import Mode, Settings


class PublicGraphQL(GraphQL[PublicContext, None]):
    """strawberry's ASGI view over the public schema; GraphiQL in development mode only."""

    def __init__(self, app_state: Any, settings: Settings) -> None:
        super().__init__(
            build_public_schema(settings),
            graphql_ide="graphiql" if settings.mode is Mode.DEVELOPMENT else None,
            allow_queries_via_get=False,
        )
        self._state = app_state
        self._settings = settings
        self._recaps = RecapCache()

    async def get_context(self, request: Any, response: Any = None) -> PublicContext:
        await refuse_nul(request)
        return PublicContext(self._state.engine, self._settings, self._recaps)

    def encode_json(self, data: GraphQLHTTPResponse) -> bytes:  # type: ignore[override]
        return encode_answer(data, self._settings.max_response_bytes)


class PublicEndpoint:
    """The rate-limited public GraphQL view; ``aclose`` releases the limiter (its Redis connections)."""

    def __init__(self, app_state: Any, settings: Settings, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter or make_limiter(settings)
        self._app = RateLimited(PublicGraphQL(app_state, settings), self.limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def aclose(self) -> None:
        await self.limiter.aclose()
