"""Authentication: users, login, refresh rotation, API keys, bad tokens, and the audit of failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import tokens, users
from core.foundation.settings import Mode, Settings
from core.http.app import create_app
from core.models import AuditEntry, User
from core.storage.db import write_transaction
from tests.cli_support import Ran
from tests.cli_support import siks as run_siks
from tests.conftest import GraphQLClient

LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
  __typename ... on Tokens { accessToken refreshToken me { username role scope } } ... on LoginFailed { message } } }"""
REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) {
  __typename ... on Tokens { accessToken refreshToken } ... on LoginFailed { message } } }"""
HOUSEHOLDS = "{ households { totalCount } }"


def siks(*args: str, stdin: str | None = None) -> Ran:
    return run_siks(*args, input=stdin)


async def create_user(
    engine: AsyncEngine, username: str, role: str, region: str = "", password: str = "rahasia-sekali-123"
) -> None:
    async with write_transaction(engine) as conn:
        await users.create_user(conn, username, password, role, region)


async def denied_audits(engine: AsyncEngine, operation: str, after_seq: int = 0) -> int:
    """Denied audit rows of ``operation`` after row ``after_seq`` (the audit log outlives each test)."""
    audit = AuditEntry.__table__
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit.c.seq).where(
                audit.c.operation == operation, audit.c.outcome == "denied", audit.c.seq > after_seq
            )
        )
        return len(rows.all())


async def last_audit_seq(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(AuditEntry.__table__.c.seq), 0)))).scalar_one())


async def test_login_refresh_rotation_and_disable(db: AsyncEngine, anonymous: GraphQLClient) -> None:
    await create_user(db, "siti.op", "village_operator", "32.01.01.1001")
    start = await last_audit_seq(db)
    wrong = (await anonymous(LOGIN, {"u": "siti.op", "p": "salah-password-99"}))["login"]
    assert wrong == {"__typename": "LoginFailed", "message": "wrong username or password, or the account is disabled"}
    tokens_ = (await anonymous(LOGIN, {"u": "siti.op", "p": "rahasia-sekali-123"}))["login"]
    assert tokens_["me"] == {"username": "siti.op", "role": "village_operator", "scope": "32.01.01.1001"}
    caller = GraphQLClient(anonymous.http, {"Authorization": f"Bearer {tokens_['accessToken']}"})
    assert (await caller("{ me { username scope } }"))["me"] == {"username": "siti.op", "scope": "32.01.01.1001"}
    assert (await caller(HOUSEHOLDS))["households"]["totalCount"] == 0
    renewed = (await anonymous(REFRESH, {"t": tokens_["refreshToken"]}))["refreshTokens"]
    assert renewed["__typename"] == "Tokens"
    reused = (await anonymous(REFRESH, {"t": tokens_["refreshToken"]}))["refreshTokens"]
    assert reused == {
        "__typename": "LoginFailed",
        "message": "this refresh token was already used or is unknown; log in again",
    }
    async with write_transaction(db) as conn:
        await users.set_active(conn, "siti.op", False)
    after = (await anonymous(REFRESH, {"t": renewed["refreshToken"]}))["refreshTokens"]
    assert after["__typename"] == "LoginFailed"
    assert (await anonymous(LOGIN, {"u": "siti.op", "p": "rahasia-sekali-123"}))["login"]["__typename"] == "LoginFailed"
    assert await denied_audits(db, "login", after_seq=start) == 2


@pytest.mark.parametrize(
    ("make_header", "message"),
    [
        (lambda s: "Bearer not.a.token", "the token is not valid"),
        (lambda s: "Basic dXNlcjpwYXNz", "send the access token as 'Authorization: Bearer <token>'"),
        (
            lambda s: (
                "Bearer "
                + jwt.encode(
                    {
                        "sub": "1",
                        "role": "data_centre",
                        "scope": "",
                        "typ": "access",
                        "jti": "x",
                        "iss": "siks",
                        "iat": datetime.now(UTC),
                        "exp": datetime.now(UTC) + timedelta(minutes=5),
                    },
                    "another-secret-of-sufficient-length-000",
                    algorithm="HS256",
                )
            ),
            "the token is not valid",
        ),
        (
            lambda s: (
                "Bearer "
                + jwt.encode(
                    {
                        "sub": "1",
                        "role": "data_centre",
                        "scope": "",
                        "typ": "access",
                        "jti": "x",
                        "iss": "siks",
                        "iat": 1,
                        "exp": 9999999999,
                    },
                    None,
                    algorithm="none",
                )
            ),
            "the token is not valid",
        ),
        (
            lambda s: (
                "Bearer "
                + tokens.issue(
                    s.model_copy(update={"access_token_minutes": 1}),
                    user_id=1,
                    username="x",
                    role="data_centre",
                    scope="",
                    kind="refresh",
                )[0]
            ),
            "this is not an access token",
        ),
        (
            lambda s: (
                "Bearer "
                + jwt.encode(
                    {
                        "sub": "1",
                        "name": "x",
                        "role": "data_centre",
                        "scope": "",
                        "typ": "access",
                        "jti": "x",
                        "iss": "siks",
                        "iat": datetime.now(UTC) - timedelta(hours=2),
                        "exp": datetime.now(UTC) - timedelta(hours=1),
                    },
                    s.secret_key,
                    algorithm="HS256",
                )
            ),
            "the token has expired",
        ),
    ],
)
async def test_bad_tokens_are_refused_with_401_and_audited(
    db: AsyncEngine, client: httpx.AsyncClient, settings: Settings, make_header: Any, message: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": HOUSEHOLDS}, headers={"Authorization": make_header(settings)}
    )
    assert response.status_code == 401
    assert message in response.text
    assert "data_centre" not in response.text
    assert await denied_audits(db, "authenticate") >= 1


async def test_anonymous_callers_reach_nothing_but_login(db: AsyncEngine, anonymous: GraphQLClient) -> None:
    body = await anonymous.raw(HOUSEHOLDS)
    assert body["errors"][0]["message"] == "not allowed: anonymous callers may not read household"
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_api_keys_for_integrators(db: AsyncEngine, client: httpx.AsyncClient) -> None:
    await db.dispose()
    created = siks(
        "users", "create", "bpjs.integrasi", "--role", "integrator", "--password-stdin", stdin="rahasia-sekali-123\n"
    )
    assert created.returncode == 0, created.stderr
    made = siks("users", "key", "bpjs.integrasi", "--label", "PKS 12/2026")
    assert made.returncode == 0
    key, client_id, client_secret = made.stdout.splitlines()
    assert key.startswith("siks_")
    assert key == f"siks_{client_id.removeprefix('client_id: ')}_{client_secret.removeprefix('client_secret: ')}"
    query = '{ eligibility(nik: "3201011705800001") { found } }'
    ok = await client.post("/graphql", json={"query": query}, headers={"X-API-Key": key})
    assert ok.json()["data"] == {"eligibility": {"found": False}}
    names = await client.post("/graphql", json={"query": HOUSEHOLDS}, headers={"X-API-Key": key})
    assert names.json()["errors"][0]["message"] == "not allowed: role integrator may not read household"
    prefix = key.split("_")[1]
    assert siks("users", "key", "bpjs.integrasi", "--label", "-", "--revoke", prefix).returncode == 0
    revoked = await client.post("/graphql", json={"query": query}, headers={"X-API-Key": key})
    assert revoked.status_code == 401 and "revoked" in revoked.text
    forged = await client.post("/graphql", json={"query": query}, headers={"X-API-Key": key[:-4] + "AAAA"})
    assert forged.status_code == 401


async def test_user_rules_refuse_bad_input(db: AsyncEngine) -> None:
    cases = [
        (("Bad Name", "rahasia-sekali-123", "auditor", ""), "username"),
        (("ok.user", "rahasia-sekali-123", "emperor", ""), "'emperor' is not a role"),
        (("ok.user", "rahasia-sekali-123", "village_operator", "32.01"), "scope is a village"),
        (("ok.user", "rahasia-sekali-123", "district_officer", "99.99.99"), "does not exist"),
        (("ok.user", "short", "auditor", ""), "at least 10 characters"),
    ]
    for args, message in cases:
        with pytest.raises(users.UserRefused, match=message):
            async with write_transaction(db) as conn:
                await users.create_user(conn, *args)
    short = siks("users", "create", "ok.user", "--role", "auditor", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr


async def test_production_refuses_the_default_secret(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"mode": Mode.PRODUCTION}))
    with pytest.raises(RuntimeError, match="SIKS_SECRET_KEY is the development default"):
        async with app.router.lifespan_context(app):
            pass


async def test_user_rows_keep_only_a_password_hash(db: AsyncEngine) -> None:
    await create_user(db, "hash.check", "auditor", password="rahasia-sekali-456")
    async with db.connect() as conn:
        stored = (
            await conn.execute(select(User.__table__.c.password_hash).where(User.__table__.c.username == "hash.check"))
        ).scalar_one()
    assert stored.startswith("$argon2id$") and "rahasia" not in stored
    async with db.begin() as conn:
        await conn.execute(update(User.__table__).where(User.__table__.c.username == "hash.check").values(active=False))
