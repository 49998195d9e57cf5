"""Logging in and refreshing: access tokens plus rotating, single-use refresh tokens.

Logins pass the login throttle first (``core.auth.throttle``): a locked account or address is
refused before its password is checked. Every login is audited: a success and a wrong password
one row each, a throttled attempt in aggregate (``core.auth.refusals``).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo, record
from core.auth import tokens
from core.auth.refusals import RefusalLog
from core.auth.throttle import LoginThrottle
from core.auth.users import UserRecord, authenticate, user_by_id
from core.foundation.settings import Settings
from core.models import RefreshToken
from core.runtime.ratelimit import LimiterUnavailable
from core.storage.db import write_transaction

REFRESH = RefreshToken.__table__


class RefusalCode(StrEnum):
    """Why no tokens were issued."""

    WRONG_CREDENTIALS = "wrong_credentials"  # wrong username or password, or a disabled account
    TOKEN_REFUSED = "token_refused"  # a refresh token that is invalid, expired, used, or of a disabled user
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # the login throttle: wait retry_after seconds
    UNAVAILABLE = "unavailable"  # the attempt counter cannot be reached; nothing was checked


class LoginRefused(ValueError):
    """Wrong credentials, a disabled user, or a refresh token that cannot be used (one message for all)."""

    code = RefusalCode.WRONG_CREDENTIALS
    retry_after: int | None = None


class TokenRefused(LoginRefused):
    code = RefusalCode.TOKEN_REFUSED


class TooManyAttempts(LoginRefused):
    """The account or the address failed too often; the password was not checked."""

    code = RefusalCode.TOO_MANY_ATTEMPTS

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins for this account or from your address; try again in {retry_after} s")
        self.retry_after = retry_after


class AttemptsUncounted(LoginRefused):
    code = RefusalCode.UNAVAILABLE
    retry_after = 60


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


async def login(
    engine: AsyncEngine,
    settings: Settings,
    throttle: LoginThrottle,
    refusals: RefusalLog,
    request: RequestInfo,
    username: str,
    password: str,
) -> Session:
    """A new session for the user with this password, audited; LoginRefused (a subclass saying why) otherwise."""
    try:
        verdict = await throttle.attempt(username, request.client)
    except LimiterUnavailable:
        raise AttemptsUncounted(
            "logins cannot be counted right now, so none is checked; try again in a minute"
        ) from None
    if not verdict.allowed:
        refused = TooManyAttempts(verdict.retry_after)
        await refusals.refused(
            request, operation="login", entity="user", entity_id=username[:64], reason="too many failed logins"
        )
        raise refused
    async with write_transaction(engine) as conn:
        user = await authenticate(conn, username, password)
        if user is not None:
            session = await _issue(conn, settings, user)
            who = RequestInfo(user.principal(), request.client, request.request_id)
            await record(conn, who, operation="login", entity="user", entity_id=user.id)
        else:
            await record(conn, request, operation="login", entity="user", entity_id=username[:64], outcome="denied")
    if user is None:
        raise LoginRefused("wrong username or password, or the account is disabled")
    with suppress(LimiterUnavailable):  # the session is issued; the failures are forgotten within the hour anyway
        await throttle.succeeded(username, request.client)
    return session


async def refresh(conn: AsyncConnection, settings: Settings, refresh_token: str) -> Session:
    """Trade a refresh token for a new pair; each refresh token works once."""
    try:
        claims = tokens.decode(settings, refresh_token, "refresh")
    except tokens.TokenError as exc:
        raise TokenRefused(str(exc)) from None
    used = await conn.execute(
        update(REFRESH)
        .where(REFRESH.c.jti == claims.jti, REFRESH.c.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    if used.rowcount != 1:
        raise TokenRefused("this refresh token was already used or is unknown; log in again")
    user = await user_by_id(conn, claims.user_id)
    if user is None or not user.active:
        raise TokenRefused("the account is disabled")
    return await _issue(conn, settings, user)


async def unused_refresh_tokens(conn: AsyncConnection, user_id: int) -> int:
    rows = await conn.execute(select(REFRESH.c.jti).where(REFRESH.c.user_id == user_id, REFRESH.c.used_at.is_(None)))
    return len(rows.all())
