"""DCI caller authentication and message signing — the local fallback until helper B's module lands.

These three names are the seam the DCI modules call; B's ``core.dci.security`` replaces this file
at merge with OAuth2 client credentials and Ed25519 signatures. Here: the caller is the existing
bearer access token or ``X-API-Key`` (``core.auth.requests``), no signature is checked, and SIKS's
own messages carry the spec's unsigned placeholder.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from core.auth import tokens
from core.auth.principal import Principal
from core.auth.users import principal_for_api_key
from core.foundation.settings import Settings

UNSIGNED = "unsigned"


class DciUnauthorized(Exception):
    """The request names no valid caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DciSignatureRefused(Exception):
    """The request's signature is missing, bad, expired or replayed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def dci_caller(request: Request, conn: AsyncConnection, settings: Settings) -> Principal:
    """The caller named by ``Authorization: Bearer <access token>`` or ``X-API-Key``."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DciUnauthorized("err.auth.invalid", "send the access token as 'Authorization: Bearer <token>'")
        try:
            claims = tokens.decode(settings, token.strip(), "access")
        except tokens.TokenError as exc:
            raise DciUnauthorized("err.auth.invalid", str(exc)) from None
        return Principal(username=claims.username, role=claims.role, scope=claims.scope, user_id=claims.user_id)
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        principal = await principal_for_api_key(conn, api_key.strip())
        if principal is not None:
            return principal
    raise DciUnauthorized("err.auth.invalid", "send an access token or an integrator's API key")


async def verify_signature(
    conn: AsyncConnection, settings: Settings, principal: Principal, envelope: dict[str, Any]
) -> None:
    """No signature is checked by the fallback."""


async def sign_envelope(
    conn: AsyncConnection, settings: Settings, header: dict[str, Any], message: dict[str, Any]
) -> str:
    """The spec's unsigned placeholder (the fallback signs nothing)."""
    return UNSIGNED
