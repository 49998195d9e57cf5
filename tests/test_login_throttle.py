"""Finding 5: login throttling per account and per address, one login a request, shared through Redis."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import redis.asyncio as redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import users
from core.auth.throttle import account_key
from core.foundation.settings import Settings
from core.models import AuditEntry
from core.storage.db import write_transaction
from tests.serving import serve

REDIS_URL = "redis://127.0.0.1:6379/15"
PASSWORD = "rahasia-sekali-123"
LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
  __typename ... on Tokens { accessToken } ... on LoginFailed { message code retryAfter } } }"""
AUDIT = AuditEntry.__table__


async def create_user(engine: AsyncEngine, username: str) -> None:
    async with write_transaction(engine) as conn:
        await users.create_user(conn, username, PASSWORD, "village_operator", "32.01.01.1001")


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": LOGIN, "variables": {"u": username, "p": password}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["login"]


async def last_seq(engine: AsyncEngine) -> int:
    """The audit log is kept between tests: rows of a test are those after this mark."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(AUDIT.c.seq), 0)))).scalar_one())


async def login_rows(engine: AsyncEngine, since: int) -> list[tuple[str, str, str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AUDIT.c.outcome, AUDIT.c.entity_id, AUDIT.c.client, AUDIT.c.after)
            .where(AUDIT.c.operation == "login", AUDIT.c.seq > since)
            .order_by(AUDIT.c.seq)
        )
        return [tuple(row) for row in rows]


def throttled(answer: dict[str, Any]) -> bool:
    return answer["__typename"] == "LoginFailed" and answer["code"] == "TOO_MANY_ATTEMPTS"


async def test_finding_5_sixty_wrong_passwords_then_the_right_one_is_refused(
    db: AsyncEngine, settings: Settings
) -> None:
    """Before: 60 wrong passwords in 6 s, then the right one logged in. Now the account waits after 5."""
    await create_user(db, "siti.op")
    mark = await last_seq(db)
    async with serve(settings.model_copy(update={"anonymous_requests_per_minute": 100})) as http:
        answers = [await login(http, "siti.op", f"tebakan-salah-{n:03d}") for n in range(60)]
        right = await login(http, "siti.op", PASSWORD)
    wrong = [a for a in answers if a["code"] == "WRONG_CREDENTIALS"]
    assert len(wrong) == settings.login_account_failures == 5
    assert all(throttled(a) for a in answers[5:])
    assert throttled(right)  # the right password is not even checked while the account waits
    assert 55 <= right["retryAfter"] <= 60
    assert right["message"] == (
        f"too many failed logins for this account or from your address; try again in {right['retryAfter']} s"
    )
    rows = await login_rows(db, mark)  # the app has stopped: the open refusal window is written
    assert [(outcome, entity) for outcome, entity, _client, _after in rows[:5]] == [("denied", "siti.op")] * 5
    throttle_rows = rows[5:]
    assert len(throttle_rows) == 2  # the first throttled attempt, then one row counting the 55 after it
    assert '"reason":"too many failed logins"' in throttle_rows[0][3]
    assert '"repeats":55' in throttle_rows[1][3]


async def test_finding_5_the_lock_doubles_and_then_lets_one_attempt_through(
    db: AsyncEngine, settings: Settings
) -> None:
    await create_user(db, "budi.op")
    quick = settings.model_copy(update={"login_account_failures": 2, "login_lockout_seconds": 2})
    async with serve(quick) as http:
        for _ in range(2):
            assert (await login(http, "budi.op", "salah-password-1"))["code"] == "WRONG_CREDENTIALS"
        assert (await login(http, "budi.op", PASSWORD))["retryAfter"] in (1, 2)  # locked from the second failure
        await asyncio.sleep(2.1)
        assert (await login(http, "budi.op", "salah-password-2"))["code"] == "WRONG_CREDENTIALS"
        assert 2 < (await login(http, "budi.op", PASSWORD))["retryAfter"] <= 4  # doubled (a password check passed)
        await asyncio.sleep(4.1)
        assert (await login(http, "budi.op", PASSWORD))["__typename"] == "Tokens"
        for _ in range(2):  # the success cleared the account: it has its free failures again
            assert (await login(http, "budi.op", "salah-password-3"))["code"] == "WRONG_CREDENTIALS"


async def test_finding_5_unknown_usernames_are_throttled_like_real_ones(db: AsyncEngine, settings: Settings) -> None:
    await create_user(db, "ada.op")
    async with serve(settings.model_copy(update={"login_account_failures": 2})) as http:
        real = [await login(http, "ada.op", "salah-password-9") for _ in range(3)]
        ghost = [await login(http, "tidak.ada", "salah-password-9") for _ in range(3)]
    assert [a["code"] for a in real] == ["WRONG_CREDENTIALS", "WRONG_CREDENTIALS", "TOO_MANY_ATTEMPTS"]

    def shape(answer: dict[str, Any]) -> tuple[str, str, str]:  # the seconds to wait may differ by one
        return answer["__typename"], answer["code"], answer["message"].split(" try again in ")[0]

    assert [shape(a) for a in real] == [shape(a) for a in ghost]


async def test_finding_5_aliased_logins_are_refused_at_validation(db: AsyncEngine, settings: Settings) -> None:
    """Before: one request carried 20 aliased login fields, all evaluated. Now such a document never runs."""
    await create_user(db, "siti.op")
    mark = await last_seq(db)
    aliased = (
        "mutation {"
        + " ".join(f'a{n}: login(username: "siti.op", password: "x{n}") {{ __typename }}' for n in range(20))
        + "}"
    )
    fragments = """mutation { ...A ...B }
      fragment A on Mutation { one: login(username: "siti.op", password: "a") { __typename } }
      fragment B on Mutation { two: login(username: "siti.op", password: "b") { __typename } }"""
    refreshes = """mutation { a: refreshTokens(refreshToken: "x") { __typename }
      b: refreshTokens(refreshToken: "y") { __typename } }"""
    async with serve(settings) as http:
        for document, field, times in (
            (aliased, "login", 20),
            (fragments, "login", 2),
            (refreshes, "refreshTokens", 2),
        ):
            body = (await http.post("/graphql", json={"query": document})).json()
            assert body.get("data") is None
            error = body["errors"][0]
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert error["message"].startswith(f"the document asks for {field} {times} times; a request may ")
            assert error["message"].endswith(f"send one {field} field per request")
        assert (await login(http, "siti.op", PASSWORD))["__typename"] == "Tokens"  # nothing was charged
    assert [outcome for outcome, *_ in await login_rows(db, mark)] == ["ok"]


async def test_finding_5_password_spraying_from_one_address_is_throttled(db: AsyncEngine, settings: Settings) -> None:
    for name in ("siti.op", "budi.op"):
        await create_user(db, name)
    few = settings.model_copy(update={"login_address_failures": 4})
    async with serve(few, client="198.51.100.20") as sprayer, serve(few, client="198.51.100.21") as office:
        for n in range(4):  # one wrong password each for four accounts: no account reaches its own limit
            assert (await login(sprayer, f"akun.{n}", "salah-password-1"))["code"] == "WRONG_CREDENTIALS"
        assert throttled(await login(sprayer, "siti.op", PASSWORD))
        assert (await login(office, "siti.op", PASSWORD))["__typename"] == "Tokens"  # another address is not


async def test_finding_5_a_successful_login_does_not_reset_the_address_count(
    db: AsyncEngine, settings: Settings
) -> None:
    """An attacker with one account of their own cannot wipe the failures their address ran up on others."""
    await create_user(db, "penyerang")
    few = settings.model_copy(update={"login_address_failures": 4})
    async with serve(few) as http:
        for n in range(3):
            assert (await login(http, f"korban.{n}", "salah-password-1"))["code"] == "WRONG_CREDENTIALS"
        assert (await login(http, "penyerang", PASSWORD))["__typename"] == "Tokens"
        assert (await login(http, "korban.3", "salah-password-1"))["code"] == "WRONG_CREDENTIALS"  # the fourth
        assert throttled(await login(http, "korban.4", "salah-password-1"))
        assert throttled(await login(http, "penyerang", PASSWORD))


async def test_finding_5_two_app_instances_sharing_redis_share_the_login_throttle(
    db: AsyncEngine, settings: Settings
) -> None:
    await create_user(db, "siti.op")
    address = f"198.51.100.{secrets.randbelow(200) + 30}"
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "secret_key": secrets.token_hex(32)})
    store = redis.from_url(REDIS_URL)
    try:
        async with serve(shared, client=address) as first, serve(shared, client=address) as second:
            for http in (first, second, first, second, first):
                assert (await login(http, "siti.op", "salah-password-1"))["code"] == "WRONG_CREDENTIALS"
            refused = await login(second, "siti.op", PASSWORD)
            assert throttled(refused) and 55 <= refused["retryAfter"] <= 60
            assert await store.exists(f"siks:login:address:{address}")
    finally:
        account = f"siks:login:account:{account_key(shared, 'siti.op')}"
        for key in (account, f"{account}:lock", f"siks:login:address:{address}", f"siks:login:address:{address}:lock"):
            await store.delete(key)
        await store.aclose()
