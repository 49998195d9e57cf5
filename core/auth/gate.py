"""The door of ``/graphql``: who is asking, and a per-address limit for callers without valid credentials.

A request with a valid access token or API key goes through uncounted: its caller is known and
accountable. A request with none (the anonymous caller: logging in, refreshing, probing) or with
credentials that fail counts against its address's ``SIKS_ANONYMOUS_REQUESTS_PER_MINUTE``; over
it the answer is HTTP 429 with ``Retry-After``. Failed credentials answer HTTP 401. Both refusals
are audited in aggregate (``core.auth.refusals``), so a flood of bad tokens costs the log a couple
of rows a minute, not one a request.

The caller and the request id are left in the ASGI scope's state for the GraphQL view.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from core.audit.log import RequestInfo
from core.auth.principal import PUBLIC, Principal
from core.auth.refusals import RefusalLog
from core.auth.requests import NotAuthenticated, principal_of
from core.foundation.settings import Settings
from core.http.middleware import send_error
from core.runtime.ratelimit import (
    LimiterUnavailable,
    RateLimiter,
    address_key,
    client_host,
    send_too_many,
    send_unavailable,
)

#: Where the gate leaves the caller in ``scope["state"]``.
CALLER = "siks_caller"
UNAUTHENTICATED = "UNAUTHENTICATED"


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    client: str
    request_id: str

    def request_info(self) -> RequestInfo:
        return RequestInfo(self.principal, self.client, self.request_id)


def caller_of(scope: Scope) -> Caller:
    """The caller the gate let through (anonymous when the gate was not on the path)."""
    caller = scope.get("state", {}).get(CALLER)
    return caller if isinstance(caller, Caller) else Caller(PUBLIC, client_host(scope), secrets.token_hex(8))


class CallerGate:
    """ASGI wrapper: authenticates, rate-limits callers without valid credentials, audits refusals in aggregate."""

    def __init__(
        self, app: ASGIApp, state: Any, settings: Settings, limiter: RateLimiter, refusals: RefusalLog
    ) -> None:
        self.app = app
        self._state = state
        self._settings = settings
        self.limiter = limiter
        self.refusals = refusals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = client_host(scope)
        request_id = headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        failure: str | None = None
        try:
            principal = await principal_of(dict(headers), self._state.engine, self._settings)
        except NotAuthenticated as exc:
            principal, failure = PUBLIC, str(exc)
        if principal.is_public:
            counted = RequestInfo(PUBLIC, client, request_id)
            try:
                verdict = await self.limiter.hit(address_key(client))
            except LimiterUnavailable:
                await send_unavailable(send, "requests without credentials")
                return
            if not verdict.allowed:
                reason = "too many requests without valid credentials"
                await self.refusals.refused(counted, operation="rateLimited", entity="graphql", reason=reason)
                await send_too_many(send, self.limiter, verdict.retry_after, "requests without valid credentials")
                return
            if failure is not None:
                await self.refusals.refused(counted, operation="authenticate", entity="credentials", reason=failure)
                await send_error(
                    send, 401, f"not authenticated: {failure}", {"WWW-Authenticate": "Bearer"}, code=UNAUTHENTICATED
                )
                return
        scope.setdefault("state", {})[CALLER] = Caller(principal, client, request_id)
        await self.app(scope, receive, send)
