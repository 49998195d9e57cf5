"""Short-lived JWT access tokens and rotating refresh tokens (PyJWT, HS256 only)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from core.foundation.settings import Settings

ALGORITHM = "HS256"
ISSUER = "siks"


class TokenError(ValueError):
    """A token that is missing, malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    username: str
    role: str
    scope: str
    kind: str
    jti: str
    expires_at: datetime


def issue(settings: Settings, *, user_id: int, username: str, role: str, scope: str, kind: str) -> tuple[str, Claims]:
    """A signed token of ``kind`` (access or refresh) and its claims."""
    now = datetime.now(UTC)
    lifetime = (
        timedelta(minutes=settings.access_token_minutes)
        if kind == "access"
        else timedelta(days=settings.refresh_token_days)
    )
    claims = Claims(user_id, username, role, scope, kind, secrets.token_hex(16), now + lifetime)
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user_id),
        "name": username,
        "role": role,
        "scope": scope,
        "typ": kind,
        "jti": claims.jti,
        "iat": now,
        "exp": claims.expires_at,
    }
    return jwt.encode(payload, settings.secret_key, algorithm=ALGORITHM), claims


def decode(settings: Settings, token: str, kind: str) -> Claims:
    """The claims of a valid token of ``kind``; TokenError saying why otherwise (never which part was wrong)."""
    try:
        payload = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "typ", "jti", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired; log in again or use your refresh token") from None
    except jwt.InvalidTokenError:
        raise TokenError("the token is not valid") from None
    if payload.get("typ") != kind:
        raise TokenError(f"this is not an {kind} token")
    return Claims(
        user_id=int(payload["sub"]),
        username=str(payload.get("name", "")),
        role=str(payload.get("role", "")),
        scope=str(payload.get("scope", "")),
        kind=kind,
        jti=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )
