"""Who sent a DCI request, and the message signatures (the seam ``core.dci`` calls).

This is the fallback used until the signing work lands: callers are the existing access tokens and
integrator API keys (``core.auth.requests``), no signature is checked, and SIKS's own messages carry
the placeholder signature ``unsigned``. The three names and their signatures are fixed: the signed
implementation replaces this module without a change to its callers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from core.auth import tokens
from core.auth.principal import Principal
from core.auth.users import principal_for_api_key
from core.foundation.settings import Settings

#: The signature value of an unsigned message.
UNSIGNED = "unsigned"


class DciUnauthorized(Exception):
    """The request names no valid caller; ``code`` is the spec's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DciSignatureRefused(Exception):
    """The request's signature is missing, malformed or does not verify; ``code`` is the spec's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def dci_caller(request: Request, conn: AsyncConnection, settings: Settings) -> Principal:
    """The caller of ``Authorization: Bearer <access token>`` or ``X-API-Key``; refused without either."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DciUnauthorized("err.request.unauthorized", "send the token as 'Authorization: Bearer <token>'")
        try:
            claims = tokens.decode(settings, token.strip(), "access")
        except tokens.TokenError as exc:
            raise DciUnauthorized("err.request.unauthorized", str(exc)) from None
        return Principal(username=claims.username, role=claims.role, scope=claims.scope, user_id=claims.user_id)
    if api_key is not None:
        principal = await principal_for_api_key(conn, api_key.strip())
        if principal is None:
            raise DciUnauthorized("err.request.unauthorized", "the API key is not valid or was revoked")
        return principal
    raise DciUnauthorized(
        "err.request.unauthorized", "send an 'Authorization: Bearer <token>' header or an 'X-API-Key' header"
    )


async def verify_signature(
    conn: AsyncConnection, settings: Settings, principal: Principal, envelope: dict[str, Any]
) -> None:
    """Accepts every envelope: this fallback checks no signature."""


async def sign_envelope(
    conn: AsyncConnection, settings: Settings, header: dict[str, Any], message: dict[str, Any]
) -> str:
    """The placeholder signature of an unsigned message."""
    return UNSIGNED
