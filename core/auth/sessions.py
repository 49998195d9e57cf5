"""Logging in and refreshing: access tokens plus rotating, single-use refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.auth import tokens
from core.auth.users import UserRecord, authenticate, user_by_id
from core.models import RefreshToken
from core.settings import Settings

REFRESH = RefreshToken.__table__


class LoginRefused(ValueError):
    """Wrong credentials, a disabled user, or a refresh token that cannot be used (one message for all)."""


@dataclass(frozen=True, slots=True)
class Session:
    user: UserRecord
    access_token: str
    refresh_token: str
    access_expires_at: datetime


async def _issue(conn: AsyncConnection, settings: Settings, user: UserRecord) -> Session:
    fields = {"user_id": user.id, "username": user.username, "role": user.role, "scope": user.region_code}
    access, access_claims = tokens.issue(settings, kind="access", **fields)
    refresh, refresh_claims = tokens.issue(settings, kind="refresh", **fields)
    await conn.execute(
        insert(REFRESH).values(jti=refresh_claims.jti, user_id=user.id, expires_at=refresh_claims.expires_at)
    )
    return Session(user, access, refresh, access_claims.expires_at)


async def login(conn: AsyncConnection, settings: Settings, username: str, password: str) -> Session:
    user = await authenticate(conn, username, password)
    if user is None:
        raise LoginRefused("wrong username or password, or the account is disabled")
    return await _issue(conn, settings, user)


async def refresh(conn: AsyncConnection, settings: Settings, refresh_token: str) -> Session:
    """Trade a refresh token for a new pair; each refresh token works once."""
    try:
        claims = tokens.decode(settings, refresh_token, "refresh")
    except tokens.TokenError as exc:
        raise LoginRefused(str(exc)) from None
    used = await conn.execute(
        update(REFRESH)
        .where(REFRESH.c.jti == claims.jti, REFRESH.c.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    if used.rowcount != 1:
        raise LoginRefused("this refresh token was already used or is unknown; log in again")
    user = await user_by_id(conn, claims.user_id)
    if user is None or not user.active:
        raise LoginRefused("the account is disabled")
    return await _issue(conn, settings, user)


async def unused_refresh_tokens(conn: AsyncConnection, user_id: int) -> int:
    rows = await conn.execute(select(REFRESH.c.jti).where(REFRESH.c.user_id == user_id, REFRESH.c.used_at.is_(None)))
    return len(rows.all())
