"""HTTP conventions (issue 13, item 2): CORS, GET and persisted queries, Cache-Control, JSON error bodies,
X-Request-Id, and GraphiQL from the package's own files."""

from __future__ import annotations

import hashlib
import re
import secrets
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as redis
from graphql import parse, validate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.http.app import create_app
from core.http.examples import MAIN_EXAMPLES, PUBLIC_EXAMPLES
from core.http.graphiql import SCRIPTS, STATIC, STYLES
from core.http.persisted import MemoryPersistedQueries
from core.http.request_id import sanitise
from core.public.app import asks_only_for_recaps
from core.public.schema import build_public_schema
from core.schema.build import build_schema
from tests.conftest import token_headers
from tests.serving import production, serve

ORIGIN = "https://app.dinsos.example.go.id"
REDIS_URL = "redis://127.0.0.1:6379/15"
#: What urql's default fetch exchange sends as Accept (@urql/core 5, makeFetchOptions).
URQL_ACCEPT = (
    "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
)
ME = "query Me {\n  me {\n    username\n    role\n    __typename\n  }\n}"
RECAP = 'query Recap {\n  recap(regionCode: "32.01") {\n    regionName\n    __typename\n  }\n}'
LOOKUP = 'query Cek {\n  cekBansos(villageCode: "32.01.01.1001", fullName: "Siti Rosida") { found }\n}'


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == code, body
    assert isinstance(body["errors"][0]["message"], str) and body["errors"][0]["message"]
    return body


# --- CORS ---------------------------------------------------------------------------------------


async def test_cors_preflight_from_an_allowed_origin_allows_the_api_headers(
    db: AsyncEngine, settings: Settings
) -> None:
    async with serve(settings.model_copy(update={"cors_origins": f"{ORIGIN}, https://other.example.org"})) as http:
        for path in ("/graphql", "/public/graphql"):
            preflight = await http.options(
                path,
                headers={
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type, x-api-key, x-request-id",
                },
            )
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["access-control-allow-origin"] == ORIGIN
            allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
            assert {"authorization", "content-type", "x-api-key", "x-request-id"} <= allowed
            assert "access-control-allow-credentials" not in preflight.headers
        answer = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": ORIGIN})
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()


async def test_cors_refuses_an_origin_not_listed(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings.model_copy(update={"cors_origins": ORIGIN})) as http:
        preflight = await http.options(
            "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert_error(preflight, 400, "CORS_REFUSED")
        assert "access-control-allow-origin" not in preflight.headers
        answer = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in answer.headers  # the browser withholds the answer


async def test_cors_is_off_unless_origins_are_set_and_only_on_the_graphql_paths(
    db: AsyncEngine, settings: Settings
) -> None:
    async with serve(settings) as http:
        preflight = await http.options("/graphql", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert_error(preflight, 405, "METHOD_NOT_ALLOWED")
        assert "access-control-allow-origin" not in preflight.headers
    async with serve(settings.model_copy(update={"cors_origins": ORIGIN})) as http:
        health = await http.get("/health", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in health.headers


# --- GET, as urql's default client sends it ------------------------------------------------------


async def test_urql_default_client_get_query_works_and_is_not_cached(db: AsyncEngine, settings: Settings) -> None:
    """urql (preferGetMethod 'within-url-limit') sends query, operationName and variables as URL parameters."""
    async with serve(settings.model_copy(update={"cors_origins": ORIGIN})) as http:
        response = await http.get(
            "/graphql",
            params={"query": ME, "operationName": "Me"},
            headers={"Accept": URQL_ACCEPT, "Origin": ORIGIN, **token_headers(settings, "data_centre")},
        )
        assert response.status_code == 200, response.text
        me = response.json()["data"]["me"]
        assert (me["username"], me["role"]) == ("test-data_centre", "data_centre")
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["access-control-allow-origin"] == ORIGIN
        with_variables = await http.get(
            "/public/graphql",
            params={
                "query": "query R($code: String!) { recap(regionCode: $code) { regionName } }",
                "operationName": "R",
                "variables": orjson.dumps({"code": "32.01"}).decode(),
            },
            headers={"Accept": URQL_ACCEPT},
        )
        assert with_variables.status_code == 200 and "errors" not in with_variables.json(), with_variables.text


async def test_a_mutation_over_get_is_refused_and_changes_nothing(db: AsyncEngine, settings: Settings) -> None:
    count = text("SELECT count(*) FROM audit_log")
    async with serve(settings) as http:
        async with db.connect() as conn:
            before = await conn.scalar(count)
        mutation = 'mutation { login(username: "admin", password: "wrong") { __typename } }'
        response = await http.get("/graphql", params={"query": mutation}, headers={"Accept": URQL_ACCEPT})
        body = assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert "POST" in body["errors"][0]["message"] and response.headers["allow"] == "POST"
        async with db.connect() as conn:
            assert await conn.scalar(count) == before  # no login attempt ran


async def test_public_get_recap_may_be_cached_a_minute_but_lookups_of_people_never(
    db: AsyncEngine, settings: Settings
) -> None:
    async with serve(settings) as http:
        recap = await http.get("/public/graphql", params={"query": RECAP}, headers={"Accept": URQL_ACCEPT})
        assert recap.status_code == 200 and "errors" not in recap.json(), recap.text
        assert recap.headers["cache-control"] == "public, max-age=60"
        lookup = await http.get("/public/graphql", params={"query": LOOKUP})
        assert lookup.status_code == 200, lookup.text
        assert lookup.headers["cache-control"] == "private, no-store"
        both = await http.get(
            "/public/graphql",
            params={
                "query": '{ recap(regionCode: "32.01") { regionName } '
                'cekBansos(villageCode: "32.01.01.1001", '
                'fullName: "Siti Rosida") { found } }'
            },
        )
        assert both.headers["cache-control"] == "private, no-store"
        posted = await http.post("/public/graphql", json={"query": RECAP})
        assert posted.headers["cache-control"] == "private, no-store"
        failed = await http.get("/public/graphql", params={"query": '{ recap(regionCode: "xx") { regionName } }'})
        assert failed.headers["cache-control"] == "private, no-store"


def test_recap_only_documents_are_recognised() -> None:
    assert asks_only_for_recaps(RECAP)
    assert asks_only_for_recaps('{ __typename recap(regionCode: "32") { regionName } }')
    assert not asks_only_for_recaps(LOOKUP)
    assert not asks_only_for_recaps("{ ...F } fragment F on Query { cekBansos { found } }")
    assert not asks_only_for_recaps("{ recap(")


# --- persisted queries ---------------------------------------------------------------------------


def persisted(query: str) -> str:
    return orjson.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}).decode()


async def test_persisted_query_round_trip_on_both_endpoints(db: AsyncEngine, settings: Settings) -> None:
    headers = {"Accept": URQL_ACCEPT, **token_headers(settings, "data_centre")}
    async with serve(settings) as http:
        for path, query in (("/graphql", ME), ("/public/graphql", RECAP)):
            unknown = await http.get(path, params={"extensions": persisted(query)}, headers=headers)
            assert unknown.status_code == 200
            error = unknown.json()["errors"][0]
            assert error == {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
            assert unknown.headers["cache-control"] == "private, no-store"
            registered = await http.post(
                path, json={"query": query, "extensions": orjson.loads(persisted(query))}, headers=headers
            )
            assert registered.status_code == 200 and "errors" not in registered.json(), registered.text
            by_hash = await http.get(path, params={"extensions": persisted(query)}, headers=headers)
            assert by_hash.status_code == 200
            assert by_hash.json() == registered.json()
        cached = await http.get("/public/graphql", params={"extensions": persisted(RECAP)})
        assert cached.headers["cache-control"] == "public, max-age=60"


async def test_persisted_query_with_a_wrong_hash_is_refused_and_not_registered(
    db: AsyncEngine, settings: Settings
) -> None:
    async with serve(settings) as http:
        forged = {"persistedQuery": {"version": 1, "sha256Hash": sha256(RECAP)}}
        refused = await http.post("/public/graphql", json={"query": LOOKUP, "extensions": forged})
        assert_error(refused, 400, "PERSISTED_QUERY_HASH_MISMATCH")
        after = await http.get("/public/graphql", params={"extensions": orjson.dumps(forged).decode()})
        assert after.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        malformed = await http.post(
            "/public/graphql", json={"query": RECAP, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": 5}}}
        )
        assert_error(malformed, 400, "BAD_REQUEST")


async def test_a_mutation_by_persisted_hash_over_get_is_refused(db: AsyncEngine, settings: Settings) -> None:
    mutation = 'mutation { login(username: "admin", password: "wrong") { __typename } }'
    async with serve(settings) as http:
        await http.post("/graphql", json={"query": mutation, "extensions": orjson.loads(persisted(mutation))})
        response = await http.get("/graphql", params={"extensions": persisted(mutation)})
        assert_error(response, 405, "METHOD_NOT_ALLOWED")


async def test_a_huge_document_runs_but_is_not_kept(db: AsyncEngine, settings: Settings) -> None:
    huge = RECAP + "\n#" + "x" * 20_000  # a comment pads it past MAX_PERSISTED_QUERY_CHARS
    async with serve(settings) as http:
        ran = await http.post("/public/graphql", json={"query": huge, "extensions": orjson.loads(persisted(huge))})
        assert ran.status_code == 200 and "errors" not in ran.json(), ran.text
        again = await http.get("/public/graphql", params={"extensions": persisted(huge)})
        assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_persisted_query_store_is_a_bounded_lru() -> None:
    store = MemoryPersistedQueries(capacity=2)
    await store.put("a", "query A")
    await store.put("b", "query B")
    assert await store.get("a") == "query A"  # a is now the most recently used
    await store.put("c", "query C")
    assert await store.get("b") is None
    assert await store.get("a") == "query A" and await store.get("c") == "query C"


async def test_persisted_queries_are_shared_through_redis(db: AsyncEngine, settings: Settings) -> None:
    store = redis.from_url(REDIS_URL)
    await store.flushdb()
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    try:
        async with serve(shared) as first, serve(shared) as second:
            await first.post("/public/graphql", json={"query": RECAP, "extensions": orjson.loads(persisted(RECAP))})
            response = await second.get("/public/graphql", params={"extensions": persisted(RECAP)})
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            keys = await store.keys("siks:apq:public:*")
            assert keys == [f"siks:apq:public:{sha256(RECAP)}".encode()] and await store.ttl(keys[0]) > 0
    finally:
        await store.flushdb()
        await store.aclose()


# --- JSON error bodies --------------------------------------------------------------------------


async def test_every_http_refusal_has_a_json_body_with_a_code(db: AsyncEngine, settings: Settings) -> None:
    limited = settings.model_copy(update={"public_requests_per_minute": 1, "max_request_bytes": 2048})
    async with serve(limited) as http:
        bad_token = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Authorization": "Bearer x"})
        assert_error(bad_token, 401, "UNAUTHENTICATED")
        assert bad_token.headers["www-authenticate"] == "Bearer"
        assert_error(await http.get("/photos/1"), 401, "UNAUTHENTICATED")
        assert_error(await http.delete("/graphql"), 405, "METHOD_NOT_ALLOWED")
        assert_error(await http.get("/no/such/path"), 404, "NOT_FOUND")
        too_large = await http.post(
            "/graphql", content=b"{" + b" " * 4096 + b"}", headers={"content-type": "application/json"}
        )
        assert_error(too_large, 413, "PAYLOAD_TOO_LARGE")
        assert_error(
            await http.post("/graphql", content=b"{", headers={"content-type": "application/json"}), 400, "BAD_REQUEST"
        )
        assert_error(
            await http.post("/graphql", content=b"x", headers={"content-type": "text/plain"}), 400, "BAD_REQUEST"
        )
        assert_error(await http.get("/graphql", params={}, headers={"Accept": "application/json"}), 400, "BAD_REQUEST")
        await http.post("/public/graphql", json={"query": RECAP})
        limit = await http.post("/public/graphql", json={"query": RECAP})
        assert_error(limit, 429, "TOO_MANY_REQUESTS")
        assert int(limit.headers["retry-after"]) >= 1


async def test_an_unexpected_failure_answers_a_json_500_with_the_request_id(
    db: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("core.http.app.refuse_nul", broken)  # any unexpected failure while answering
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http:
            response = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "r-500"})
    body = assert_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert "secret" not in response.text and response.headers["x-request-id"] == "r-500", body


# --- X-Request-Id --------------------------------------------------------------------------------


def test_request_ids_are_sanitised() -> None:
    assert sanitise("order-42.a:b_c") == "order-42.a:b_c"
    assert sanitise("a b\r\nSet-Cookie: x<script>") == "abSet-Cookie:xscript"
    assert sanitise("x" * 500) == "x" * 64
    generated = sanitise("\u00e9\u00e9")
    assert re.fullmatch(r"[0-9a-f]{32}", generated) and generated != sanitise(None)


async def test_request_id_is_echoed_on_every_response_and_recorded_in_the_audit(
    db: AsyncEngine, settings: Settings
) -> None:
    marker = secrets.token_hex(4)  # the audit log outlives each test
    async with serve(settings.model_copy(update={"public_requests_per_minute": 1})) as http:
        echoed = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "client-7"})
        assert echoed.headers["x-request-id"] == "client-7"
        generated = await http.get("/health")
        assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
        for response in (
            await http.get("/nope"),
            await http.post("/public/graphql", json={"query": RECAP}),
            await http.post("/public/graphql", json={"query": RECAP}),
        ):
            assert response.headers["x-request-id"]
        refused = await http.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": "Bearer forged", "X-Request-Id": f"trace {marker}\nforged-line"},
        )
        assert refused.status_code == 401 and refused.headers["x-request-id"] == f"trace{marker}forged-line"
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT operation, outcome FROM audit_log WHERE request_id = :id"),
                {"id": f"trace{marker}forged-line"},
            )
        ).all()
    assert [tuple(row) for row in rows] == [("authenticate", "denied")]  # the audit row carries the echoed id


# --- GraphiQL without a CDN ---------------------------------------------------------------------


async def test_graphiql_page_loads_only_its_own_assets_under_a_strict_csp(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings) as http:
        for path in ("/graphql", "/public/graphql"):
            page = await http.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert not re.search(r"https?://|//[a-z]", page.text), "the page must not reference another origin"
            csp = page.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src 'self';" in csp and "connect-src 'self'" in csp
            assert "<script>" not in page.text  # no inline script: everything runs from same-origin files
            referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert {Path(ref).name for ref in referenced} == set(SCRIPTS) | set(STYLES)
            for reference in referenced:
                asset = await http.get(reference)
                assert asset.status_code == 200 and len(asset.content) > 100, reference
        assert "admin-password" in (await http.get("/graphql", headers={"Accept": "text/html"})).text


async def test_graphiql_and_its_assets_exist_in_development_mode_only(db: AsyncEngine, settings: Settings) -> None:
    async with serve(production(settings)) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert_error(page, 404, "NOT_FOUND")
        assert_error(await http.get("/graphiql/static/graphiql.min.js"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("examples", "schema"), [(MAIN_EXAMPLES, "main"), (PUBLIC_EXAMPLES, "public")], ids=["main", "public"]
)
def test_graphiql_examples_fit_their_schema(examples: tuple[tuple[str, str], ...], schema: str) -> None:
    settings = Settings()
    built = build_schema(settings) if schema == "main" else build_public_schema(settings)
    for title, document in examples:
        assert validate(built._schema, parse(document)) == [], title


async def test_graphiql_examples_run_on_the_demo_data(db: AsyncEngine, settings: Settings) -> None:
    """The public examples answer without errors; the main ones once logged in (login tried with a wrong user)."""
    async with serve(settings) as http:
        for _title, document in PUBLIC_EXAMPLES:
            body = (await http.post("/public/graphql", json={"query": document})).json()
            assert "errors" not in body, body
        headers = token_headers(settings, "data_centre")
        for _title, document in MAIN_EXAMPLES[1:]:
            body = (await http.post("/graphql", json={"query": document}, headers=headers)).json()
            assert "errors" not in body, body


def test_the_vendored_assets_are_package_data_with_their_licenses() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["core"]
    core = Path(__file__).resolve().parent.parent / "core"
    for name in (*SCRIPTS, *STYLES, "NOTICE"):
        relative = (STATIC / name).relative_to(core).as_posix()
        assert (STATIC / name).is_file(), name
        assert any(fnmatch(relative, pattern) for pattern in patterns), f"{relative} is not package data"
    notice = (STATIC / "NOTICE").read_text(encoding="utf-8")
    assert notice.count("MIT License") >= 2 and "graphiql 3.9.0" in notice and "react 18.3.1" in notice
