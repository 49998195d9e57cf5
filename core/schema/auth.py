"""GraphQL: logging in, refreshing tokens, and who am I."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from core.auth import sessions
from core.runtime.guards import Guards
from core.schema.authorization import unguarded
from core.schema.context import Context
from core.schema.single_fields import once_per_document
from core.storage.db import write_transaction


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
    def of(cls, session: sessions.Session) -> Tokens:
        user = session.user
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            access_expires_at=session.access_expires_at,
            me=Me(username=user.username, role=user.role, scope=user.region_code),
        )


#: LoginFailed.code becomes ``ErrorCode!`` (LOGIN_FAILED) and LoginFailed implements Error, once the contract's 90
#: days of deprecation have passed (contract/intended-changes.toml).
LOGIN_CODE_CHANGE = (
    "Read reason instead. On 2027-03-07 code changes type to ErrorCode! (always LOGIN_FAILED) and LoginFailed "
    "implements the Error interface like every other typed error."
)

LoginFailureCode = strawberry.enum(
    sessions.RefusalCode, name="LoginFailureCode", description="Why no tokens were issued."
)


@unguarded
@strawberry.type(description="Why no tokens were issued.")
class LoginFailed:
    message: str
    code: LoginFailureCode = strawberry.field(deprecation_reason=LOGIN_CODE_CHANGE)
    reason: LoginFailureCode = strawberry.field(description="Why no tokens were issued (what code says until then).")
    retry_after: int | None = strawberry.field(
        default=None, description="Seconds to wait before trying again (TOO_MANY_ATTEMPTS, UNAVAILABLE)."
    )

    @classmethod
    def of(cls, refused: sessions.LoginRefused) -> LoginFailed:
        return cls(message=str(refused), code=refused.code, reason=refused.code, retry_after=refused.retry_after)


LoginResult = Annotated[Tokens | LoginFailed, strawberry.union("LoginResult")]
#: One login and one refresh a request: each is an attempt the login throttle counts, aliases must not multiply it.
ONE_LOGIN = once_per_document("Mutation", {"login": "log in once", "refreshTokens": "refresh its tokens once"})


def _guards(context: Context) -> Guards:
    assert context.guards is not None, "logins need the application's guards (core.http.app)"
    return context.guards


@strawberry.type
class AuthQuery:
    @strawberry.field(description="Who the server takes the caller to be.")
    def me(self, info: Info[Context, None]) -> Me:
        principal = info.context.principal
        return Me(username=principal.username, role=principal.role, scope=principal.scope)


@strawberry.type
class AuthMutation:
    @strawberry.mutation(
        description="Log in with a username and password. After repeated failures the account, or the address, "
        "waits (TOO_MANY_ATTEMPTS, retryAfter). One login a request."
    )
    async def login(self, info: Info[Context, None], username: str, password: str) -> LoginResult:
        context = info.context
        guards = _guards(context)
        try:
            session = await sessions.login(
                context.engine,
                context.settings,
                guards.logins,
                guards.refusals,
                context.request_info,
                username,
                password,
            )
        except sessions.LoginRefused as refused:
            return LoginFailed.of(refused)
        return Tokens.of(session)

    @strawberry.mutation(
        description="Trade a refresh token (single use) for a new access and refresh token. One refresh a request."
    )
    async def refresh_tokens(self, info: Info[Context, None], refresh_token: str) -> LoginResult:
        context = info.context
        try:
            async with write_transaction(context.engine) as conn:
                session = await sessions.refresh(conn, context.settings, refresh_token)
        except sessions.LoginRefused as refused:
            await _guards(context).refusals.refused(
                context.request_info, operation="refreshTokens", entity="token", reason=str(refused)
            )
            return LoginFailed.of(refused)
        return Tokens.of(session)
