"""Finding 11: callers without valid credentials are rate-limited on /graphql, and their refusals are
audited in aggregate (one row an address, reason and window, plus one counting the repeats)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import PUBLIC
from core.auth.refusals import RefusalLog
from core.foundation.settings import Settings
from core.models import AuditEntry
from tests.conftest import token_headers
from tests.serving import serve, serve_many

AUDIT = AuditEntry.__table__
ME = {"query": "{ me { username } }"}
BAD_TOKEN = {"Authorization": "Bearer not.a.token"}


async def last_seq(engine: AsyncEngine) -> int:
    """The audit log is kept between tests: rows of a test are those after this mark."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(AUDIT.c.seq), 0)))).scalar_one())


async def rows_since(engine: AsyncEngine, mark: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AUDIT.c.operation, AUDIT.c.client, AUDIT.c.actor, AUDIT.c.outcome, AUDIT.c.after)
            .where(AUDIT.c.seq > mark)
            .order_by(AUDIT.c.seq)
        )
        return [{**row._mapping, "after": json.loads(row.after) if row.after else None} for row in rows]


async def test_finding_11_a_bad_token_flood_is_limited_and_costs_four_audit_rows(
    db: AsyncEngine, settings: Settings
) -> None:
    """Before: 2,000 bad-token requests wrote 2,002 audit rows in 7 s. Now 20 are answered 401, the rest 429."""
    mark = await last_seq(db)
    limited = settings.model_copy(update={"anonymous_requests_per_minute": 20})
    async with serve(limited, client="203.0.113.50") as http:
        answers = [await http.post("/graphql", json=ME, headers=BAD_TOKEN) for _ in range(300)]
        assert len(await rows_since(db, mark)) == 2  # the first 401 and the first 429, written at once
    assert [a.status_code for a in answers] == [401] * 20 + [429] * 280
    unauthenticated, too_many = answers[0], answers[-1]
    assert unauthenticated.json() == {
        "errors": [{"message": "not authenticated: the token is not valid", "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    retry_after = int(too_many.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert too_many.headers["content-type"] == "application/json"
    assert too_many.json()["errors"][0] == {
        "message": "too many requests without valid credentials from your address: at most 20 in 60 s; "
        f"try again in {retry_after} s",
        "extensions": {"code": "TOO_MANY_REQUESTS"},
    }
    rows = await rows_since(db, mark)  # the app stopped: the open windows were written
    assert [(r["operation"], r["client"], r["actor"], r["outcome"]) for r in rows] == [
        ("authenticate", "203.0.113.50", "public", "denied"),
        ("rateLimited", "203.0.113.50", "public", "denied"),
        ("authenticate", "203.0.113.50", "public", "denied"),
        ("rateLimited", "203.0.113.50", "public", "denied"),
    ]
    assert rows[0]["after"] == {"reason": "the token is not valid"}
    assert rows[1]["after"] == {"reason": "too many requests without valid credentials"}
    assert (rows[2]["after"]["reason"], rows[2]["after"]["repeats"]) == ("the token is not valid", 19)
    assert (rows[3]["after"]["reason"], rows[3]["after"]["repeats"]) == (rows[1]["after"]["reason"], 279)
    assert rows[3]["after"]["from"] <= rows[3]["after"]["until"]


async def test_finding_11_anonymous_callers_are_limited_but_valid_credentials_pass(
    db: AsyncEngine, settings: Settings
) -> None:
    limited = settings.model_copy(update={"anonymous_requests_per_minute": 3})
    async with serve(limited) as http:
        assert [(await http.post("/graphql", json=ME)).status_code for _ in range(4)] == [200, 200, 200, 429]
        signed_in = token_headers(settings, "village_operator", "32.01.01.1001")
        for _ in range(5):  # an accountable caller from the same address is not counted
            response = await http.post("/graphql", json=ME, headers=signed_in)
            assert response.json() == {"data": {"me": {"username": "test-village_operator"}}}
        assert (await http.get("/health")).status_code == 200


async def test_finding_11_ipv6_callers_are_limited_per_64_network(db: AsyncEngine, settings: Settings) -> None:
    limited = settings.model_copy(update={"anonymous_requests_per_minute": 2})
    addresses = ("2001:db8:5:6::1", "2001:db8:5:6:ffff::9", "2001:db8:5:6::abcd", "2001:db8:5:7::1")
    async with serve_many(limited, *addresses) as clients:
        statuses = [(await http.post("/graphql", json=ME)).status_code for http in clients]
    assert statuses == [200, 200, 429, 200]  # three addresses of one /64 share a count; the next /64 does not


async def test_finding_11_anonymous_refused_documents_are_aggregated_too(db: AsyncEngine, settings: Settings) -> None:
    mark = await last_seq(db)
    async with serve(settings) as http:
        for _ in range(10):
            assert (await http.post("/graphql", json={"query": "{ nothingHere }"})).status_code == 200
        signed_in = token_headers(settings, "data_centre")
        await http.post("/graphql", json={"query": "{ nothingHere }"}, headers=signed_in)
    rows = [r for r in await rows_since(db, mark) if r["operation"] == "refusedDocument"]
    assert [(r["actor"], (r["after"] or {}).get("repeats")) for r in rows] == [
        ("public", None),
        ("test-data_centre", None),  # an accountable caller keeps one row a refusal
        ("public", 9),
    ]
    assert rows[0]["after"]["reason"] == "the document was refused before execution"
    assert "nothingHere" in rows[0]["after"]["errors"][0]


async def test_refusal_windows_are_written_on_the_next_refusal_after_them(db: AsyncEngine) -> None:
    class State:
        engine = db

    now = [100.0]
    log = RefusalLog(State(), window=60, clock=lambda: now[0])
    mark = await last_seq(db)
    probe = RequestInfo(PUBLIC, "192.0.2.7", "r1")
    for _ in range(4):
        await log.refused(probe, operation="authenticate", entity="credentials", reason="the token is not valid")
    await log.refused(probe, operation="authenticate", entity="credentials", reason="the API key is not valid")
    assert len(await rows_since(db, mark)) == 2  # one reason, one row; another reason, another row
    now[0] += 61
    other = RequestInfo(PUBLIC, "192.0.2.8", "r2")
    await log.refused(other, operation="authenticate", entity="credentials", reason="the token is not valid")
    rows = await rows_since(db, mark)
    assert [(r["client"], r["after"].get("repeats")) for r in rows] == [
        ("192.0.2.7", None),
        ("192.0.2.7", None),
        ("192.0.2.7", 3),  # the ended window of the first reason; the second had no repeats: no row
        ("192.0.2.8", None),
    ]
    await log.aclose()
    assert len(await rows_since(db, mark)) == 4


async def test_an_unreachable_counter_store_lets_nothing_through_uncounted(db: AsyncEngine, settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with serve(down) as http:
        anonymous = await http.post("/graphql", json=ME)
        assert anonymous.status_code == 503 and anonymous.headers["retry-after"] == "60"
        assert anonymous.json()["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
        signed_in = await http.post("/graphql", json=ME, headers=token_headers(settings, "data_centre"))
        assert signed_in.json() == {"data": {"me": {"username": "test-data_centre"}}}  # known callers go on
        public = await http.post("/public/graphql", json={"query": '{ recap(regionCode: "32") { households } }'})
        assert public.status_code == 503
