"""Who sent an HTTP request: a bearer access token, an integrator's API key, or nobody (the public)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import tokens
from core.auth.principal import PUBLIC, Principal
from core.auth.users import principal_for_api_key
from core.foundation.settings import Settings


class NotAuthenticated(ValueError):
    """Credentials were sent but are not valid; the request is refused (401)."""


async def principal_of(headers: dict[str, str], engine: AsyncEngine, settings: Settings) -> Principal:
    """The caller named by ``Authorization: Bearer <access token>`` or ``X-API-Key``; PUBLIC without either."""
    authorization = headers.get("authorization")
    api_key = headers.get("x-api-key")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("send the access token as 'Authorization: Bearer <token>'")
        try:
            claims = tokens.decode(settings, token.strip(), "access")
        except tokens.TokenError as exc:
            raise NotAuthenticated(str(exc)) from None
        return Principal(username=claims.username, role=claims.role, scope=claims.scope, user_id=claims.user_id)
    if api_key is not None:
        async with engine.connect() as conn:
            principal = await principal_for_api_key(conn, api_key.strip())
        if principal is None:
            raise NotAuthenticated("the API key is not valid or was revoked")
        return principal
    return PUBLIC
