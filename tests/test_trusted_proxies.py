"""X-Forwarded-For is believed from SIKS_TRUSTED_PROXIES only (none by default), by every limit and audit row."""

from __future__ import annotations

import pydantic
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.models import AuditEntry
from tests.serving import serve_many

AUDIT = AuditEntry.__table__
ME = {"query": "{ me { username } }"}
WRONG_LOGIN = {"query": 'mutation { login(username: "siti.op", password: "salah-password-1") { __typename } }'}
LOOKUP = {"query": '{ cekBansos(villageCode: "32.01.01.1001", fullName: "Siti Rosida") { found } }'}


async def login_clients(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AUDIT.c.client).where(AUDIT.c.operation == "login").order_by(AUDIT.c.seq.desc()).limit(1)
        )
        return [row.client for row in rows]


def forwarded(*hosts: str) -> dict[str, str]:
    return {"X-Forwarded-For": ", ".join(hosts)}


async def test_spoofed_x_forwarded_for_from_loopback_is_not_believed_by_default(
    db: AsyncEngine, settings: Settings
) -> None:
    """Before: a request from loopback chose its own address with X-Forwarded-For. Now the peer is the client."""
    assert settings.trusted_proxies == ""
    limited = settings.model_copy(update={"anonymous_requests_per_minute": 2, "public_requests_per_minute": 2})
    async with serve_many(limited, "127.0.0.1") as (http,):
        statuses = [
            (await http.post(path, json=body, headers=forwarded(f"203.0.113.{n}"))).status_code
            for path, body in (("/graphql", ME), ("/public/graphql", LOOKUP))
            for n in range(3)
        ]
        assert statuses == [200, 200, 429] * 2  # a new forwarded address each time did not buy a new count
        limited_login = await http.post("/graphql", json=WRONG_LOGIN, headers=forwarded("203.0.113.77"))
        assert limited_login.status_code == 429
    async with serve_many(settings, "127.0.0.1") as (http,):
        await http.post("/graphql", json=WRONG_LOGIN, headers=forwarded("203.0.113.77"))
    assert await login_clients(db) == ["127.0.0.1"]


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client_for_limits_and_audit(
    db: AsyncEngine, settings: Settings
) -> None:
    behind = settings.model_copy(
        update={"trusted_proxies": "10.0.0.0/8", "anonymous_requests_per_minute": 2, "public_requests_per_minute": 2}
    )
    async with serve_many(behind, "10.0.0.5", "198.51.100.7") as (proxy, stranger):
        first = [(await proxy.post("/graphql", json=ME, headers=forwarded("203.0.113.9"))).status_code for _ in "ab"]
        assert first == [200, 200]
        # A client cannot escape its count by writing its own X-Forwarded-For: the proxy appends the real peer.
        spoofed = await proxy.post("/graphql", json=ME, headers=forwarded("192.0.2.1", "203.0.113.9"))
        assert spoofed.status_code == 429
        assert (await proxy.post("/graphql", json=ME, headers=forwarded("203.0.113.10"))).status_code == 200
        # Through a chain of trusted proxies, the first address that is not one of them is the client.
        chain = forwarded("203.0.113.11", "10.1.2.3")
        assert [(await proxy.post("/public/graphql", json=LOOKUP, headers=chain)).status_code for _ in "ab"] == [
            200,
            200,
        ]
        alone = await proxy.post("/public/graphql", json=LOOKUP, headers=forwarded("203.0.113.11"))
        assert alone.status_code == 429  # the chain was counted as 203.0.113.11
        # Another peer is not a trusted proxy: its X-Forwarded-For is ignored.
        for _ in range(2):
            assert (await stranger.post("/graphql", json=ME, headers=forwarded("203.0.113.12"))).status_code == 200
        assert (await stranger.post("/graphql", json=ME, headers=forwarded("203.0.113.13"))).status_code == 429
    async with serve_many(behind, "10.0.0.5") as (proxy,):
        await proxy.post("/graphql", json=WRONG_LOGIN, headers=forwarded("203.0.113.77"))
    assert await login_clients(db) == ["203.0.113.77"]


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert Settings(trusted_proxies=" 10.0.0.5, 172.16.0.0/12,::1 ").trusted_proxy_networks() == [
        "10.0.0.5/32",
        "172.16.0.0/12",
        "::1/128",
    ]
    with pytest.raises(pydantic.ValidationError, match="'proxy.local' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.5,proxy.local")
    with pytest.raises(pydantic.ValidationError, match="'\\*' is not an IP address or network"):
        Settings(trusted_proxies="*")
