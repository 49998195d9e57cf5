"""Who sends a DCI request: OAuth2 client credentials, the bearer tokens they buy, and API keys.

An integrator's client credentials are its API key (``siks users key``) in two halves: the key
``siks_<prefix>_<secret>`` is ``client_id`` = ``<prefix>`` and ``client_secret`` = ``<secret>``. Only the
secret's SHA-256 is stored (``api_keys``), so revoking the key revokes the credentials. The token endpoint
(RFC 6749 section 4.4) exchanges them for an ordinary SIKS access token (``core.auth.tokens``, lifetime
``SIKS_ACCESS_TOKEN_MINUTES``), which DCI requests send as ``Authorization: Bearer``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from core.auth import tokens
from core.auth.principal import Principal
from core.auth.users import KEY_PREFIX, principal_for_api_key
from core.dci.security.errors import UNAUTHORIZED, DciUnauthorized
from core.foundation.settings import Settings


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    principal: Principal


def client_credentials(api_key: str) -> tuple[str, str]:
    """The (client_id, client_secret) pair of an API key."""
    _prefix, client_id, client_secret = api_key.split("_", 2)
    return client_id, client_secret


async def principal_for_client(conn: AsyncConnection, client_id: str, client_secret: str) -> Principal | None:
    """The principal whose unrevoked API key these credentials are, or None."""
    if not client_id or not client_secret or "_" in client_id:
        return None
    return await principal_for_api_key(conn, f"{KEY_PREFIX}_{client_id}_{client_secret}")


def issue_token(settings: Settings, principal: Principal) -> IssuedToken:
    assert principal.user_id is not None
    token, _claims = tokens.issue(
        settings,
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        scope=principal.scope,
        kind="access",
    )
    return IssuedToken(token, settings.access_token_minutes * 60, principal)


async def dci_caller(request: Request, conn: AsyncConnection, settings: Settings) -> Principal:
    """The caller of a DCI request: ``Authorization: Bearer <access token>`` (from the token endpoint, or a login)
    or ``X-API-Key``; DciUnauthorized (``err.request.unauthorized``, HTTP 401) without valid credentials. As on
    ``/graphql``, a token is trusted for its short life: disabling the user or revoking the key stops new tokens
    and the key itself at once, and an issued token when it expires."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DciUnauthorized(UNAUTHORIZED, "send the access token as 'Authorization: Bearer <token>'")
        try:
            claims = tokens.decode(settings, token.strip(), "access")
        except tokens.TokenError as exc:
            raise DciUnauthorized(UNAUTHORIZED, str(exc)) from None
        return Principal(username=claims.username, role=claims.role, scope=claims.scope, user_id=claims.user_id)
    if api_key is not None:
        principal = await principal_for_api_key(conn, api_key.strip())
        if principal is None:
            raise DciUnauthorized(UNAUTHORIZED, "the API key is not valid or was revoked")
        return principal
    raise DciUnauthorized(
        UNAUTHORIZED,
        "send 'Authorization: Bearer <token>' (POST /oauth2/client/token with your client credentials) or X-API-Key",
    )
