"""GraphQL: logging in, refreshing tokens, and who am I."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from core.audit.log import RequestInfo, record
from core.auth.sessions import LoginRefused, Session, login, refresh
from core.db import write_transaction
from core.schema.authorization import unguarded
from core.schema.context import Context


@unguarded
@strawberry.type(description="The caller as the server sees them.")
class Me:
    username: str
    role: str
    scope: str = strawberry.field(description="Region code the caller works in; empty = national.")


@unguarded
@strawberry.type(description="A session: a short-lived access token and a single-use refresh token.")
class Tokens:
    access_token: str = strawberry.field(description="Send as 'Authorization: Bearer <token>'.")
    refresh_token: str = strawberry.field(description="Trade once for a new pair with refreshTokens.")
    access_expires_at: datetime
    me: Me

    @classmethod
    def of(cls, session: Session) -> Tokens:
        user = session.user
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            access_expires_at=session.access_expires_at,
            me=Me(username=user.username, role=user.role, scope=user.region_code),
        )


@unguarded
@strawberry.type(description="Why no tokens were issued.")
class LoginFailed:
    message: str


LoginResult = Annotated[Tokens | LoginFailed, strawberry.union("LoginResult")]


@strawberry.type
class AuthQuery:
    @strawberry.field(description="Who the server takes the caller to be.")
    def me(self, info: Info[Context, None]) -> Me:
        principal = info.context.principal
        return Me(username=principal.username, role=principal.role, scope=principal.scope)


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Log in with a username and password.")
    async def login(self, info: Info[Context, None], username: str, password: str) -> LoginResult:
        context = info.context
        try:
            async with write_transaction(context.engine) as conn:
                session = await login(conn, context.settings, username, password)
                await record(
                    conn,
                    RequestInfo(session.user.principal(), context.request_info.client, context.request_info.request_id),
                    operation="login",
                    entity="user",
                    entity_id=session.user.id,
                )
        except LoginRefused as refused:
            async with write_transaction(context.engine) as conn:
                await record(
                    conn,
                    context.request_info,
                    operation="login",
                    entity="user",
                    entity_id=username[:64],
                    outcome="denied",
                )
            return LoginFailed(message=str(refused))
        return Tokens.of(session)

    @strawberry.mutation(description="Trade a refresh token (single use) for a new access and refresh token.")
    async def refresh_tokens(self, info: Info[Context, None], refresh_token: str) -> LoginResult:
        context = info.context
        try:
            async with write_transaction(context.engine) as conn:
                session = await refresh(conn, context.settings, refresh_token)
        except LoginRefused as refused:
            async with write_transaction(context.engine) as conn:
                await record(
                    conn,
                    context.request_info,
                    operation="refreshTokens",
                    entity="token",
                    entity_id="-",
                    outcome="denied",
                    after={"reason": str(refused)},
                )
            return LoginFailed(message=str(refused))
        return Tokens.of(session)
