"""Real clients against the real API (issue 13): relay-compiler on the committed SDL, urql and
graphql-request from Node, and a browser's cross-origin ``fetch`` (headless Chromium via selenium).

One uvicorn server for the whole module, on a fresh database that a development first start makes
(regions, the 2,000 demo households of seed 1, the user ``admin`` / ``admin-password``), with a
recorder around the application that notes every request it receives.

These tests are about HTTP and the clients, not the database: they run their own SQLite database and
only in the SQLite pass of the suite (skipped when ``SIKS_TEST_DATABASE_URL`` names PostgreSQL, so CI
does not run them twice). They need what ``.ci/run`` installs: the npm packages of tests/clients
(``npm ci --no-audit --no-fund`` there) and Debian's ``chromium`` and ``chromium-driver``; without them
they fail, saying so.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.foundation.settings import Mode, Settings
from core.regions.codes import within
from core.runtime.bootstrap import DEMO_ADMIN, bootstrap
from core.storage.db import create_engine
from core.storage.records import HOUSEHOLDS
from tests.browser_support import chromium
from tests.serving import free_port, uvicorn_server

pytestmark = pytest.mark.skipif(
    os.environ.get("SIKS_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="HTTP and client tests on a database of their own: run once, in the SQLite pass",
)

CLIENTS = Path(__file__).parent / "clients"
INSTALL = (
    "run `bash .ci/run`, or the two installs it does: `npm ci --no-audit --no-fund` in tests/clients and "
    "`apt-get install -y --no-install-recommends chromium chromium-driver`"
)
#: Jawa Barat: 300 of the first start's 2,000 demo households, in pages of 40.
REGION = "32"
PAGE_SIZE = 40


@dataclass
class Seen:
    """One request the server received, and the status it answered."""

    method: str
    path: str
    origin: str | None
    status: int = 0


@dataclass
class Recorder:
    """ASGI middleware around the whole application that notes every HTTP request and its status."""

    seen: list[Seen] = field(default_factory=list)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            headers = dict(scope["headers"])
            origin = headers.get(b"origin")
            entry = Seen(scope["method"], scope["path"], origin.decode() if origin else None)
            self.seen.append(entry)

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    entry.status = message["status"]
                await send(message)

            await app(scope, receive, sending)

        return recorded

    def since(self, mark: int) -> list[Seen]:
        return self.seen[mark:]


class StaticSite:
    """A tiny static web server on 127.0.0.1 (an origin of its own) serving tests/clients/browser."""

    def __init__(self) -> None:
        handler = partial(_QuietHandler, directory=str(CLIENTS / "browser"))
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StaticSite:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        pass


def row_id(api_id: str) -> int:
    """The row id behind an id the API answered: a raw whole number, or a Relay global id (base64 of ``Type:key``)."""
    if api_id.isdigit():
        return int(api_id)
    _type, key = base64.urlsafe_b64decode(api_id + "=" * (-len(api_id) % 4)).decode().split(":", 1)
    return int(key)


@dataclass
class DemoAPI:
    url: str
    settings: Settings
    recorder: Recorder
    allowed: StaticSite
    refused: StaticSite

    def count(self, region: str) -> int:
        """The database's own count of the active households in ``region`` and below."""

        async def run() -> int:
            engine = create_engine(self.settings)
            try:
                async with engine.connect() as conn:
                    query = (
                        select(func.count())
                        .select_from(HOUSEHOLDS)
                        .where(within(HOUSEHOLDS.c.village_code, region), HOUSEHOLDS.c.status == "active")
                    )
                    return int((await conn.execute(query)).scalar_one())
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def household(self, household_id: str) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            engine = create_engine(self.settings)
            try:
                async with engine.connect() as conn:
                    row = (await conn.execute(select(HOUSEHOLDS).where(HOUSEHOLDS.c.id == row_id(household_id)))).one()
                    return dict(row._mapping)
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def token(self) -> str:
        login = (
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { ... on Tokens { accessToken } } }"
        )
        variables = {"u": DEMO_ADMIN[0], "p": DEMO_ADMIN[1]}
        answer = httpx.post(f"{self.url}/graphql", json={"query": login, "variables": variables}, timeout=30).json()
        return str(answer["data"]["login"]["accessToken"])


@pytest.fixture(scope="module")
def demo_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoAPI]:
    """The API on a first start's fresh demo database, allowing cross-origin calls from one static site."""
    folder = tmp_path_factory.mktemp("clients")
    with StaticSite() as allowed, StaticSite() as refused:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{folder / 'siks.db'}",
            database_schema=None,
            mode=Mode.DEVELOPMENT,
            photo_dir=folder / "photos",
            audit_checkpoint_file=folder / "checkpoints.jsonl",
            cors_origins=allowed.origin,
        )

        async def first_start() -> None:
            engine = create_engine(settings)
            try:
                await bootstrap(engine, settings.demo_households, demo_admin=True)
            finally:
                await engine.dispose()

        asyncio.run(first_start())
        recorder = Recorder()
        with uvicorn_server(settings, wrap=recorder.wrap) as url:
            yield DemoAPI(url, settings, recorder, allowed, refused)


# --- Node: urql and graphql-request ----------------------------------------------------------------


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """tests/clients with its npm packages installed; fails (not skips) when they are not."""
    if shutil.which("node") is None:
        pytest.fail(f"node is not installed: the client tests need Node 20 or newer; then {INSTALL}")
    wanted = ["@urql/core", "graphql-request", "graphql", "relay-compiler"]
    missing = [name for name in wanted if not (CLIENTS / "node_modules" / name / "package.json").is_file()]
    if missing:
        pytest.fail(f"tests/clients/node_modules lacks {', '.join(missing)}: {INSTALL}")
    return CLIENTS / "node_modules"


def run_node(script: str, api: DemoAPI) -> dict[str, Any]:
    """Runs a client script of tests/clients against the API; its one line of JSON output, parsed."""
    environment = {
        **os.environ,
        "SIKS_URL": f"{api.url}/graphql",
        "SIKS_REGION": REGION,
        "SIKS_PAGE_SIZE": str(PAGE_SIZE),
    }
    done = subprocess.run(
        ["node", script], cwd=CLIENTS, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    return dict(json.loads(lines[0]))


def check_run(result: dict[str, Any], api: DemoAPI, client: str) -> None:
    """The script paged through every household of the region and its update is in the database."""
    expected = api.count(REGION)
    assert expected > PAGE_SIZE * 2, "the region must take several pages"
    assert result["client"] == client and result["region"] == REGION
    assert result["households"] == result["totalCount"] == expected
    assert result["pages"] == math.ceil(expected / PAGE_SIZE)
    before, after = result["mutation"]["before"], result["mutation"]["after"]
    assert after["__typename"] == "Household" and after["id"] == before["id"]
    assert after["version"] == before["version"] + 1
    assert after["hasMotorcycle"] is (not before["hasMotorcycle"])
    stored = api.household(after["id"])
    assert stored["version"] == after["version"] and stored["has_motorcycle"] is after["hasMotorcycle"]


def test_urql_with_its_default_exchanges_pages_a_region_over_get_and_updates_a_household(
    demo_api: DemoAPI, node_modules: Path
) -> None:
    mark = len(demo_api.recorder.seen)
    result = run_node("urql.mjs", demo_api)
    check_run(result, demo_api, "urql")
    calls = [(seen.method, seen.status) for seen in demo_api.recorder.since(mark) if seen.path == "/graphql"]
    # urql's default: queries as GET (one a page), mutations (login, updateHousehold) as POST.
    assert calls.count(("GET", 200)) == result["pages"]
    assert calls.count(("POST", 200)) == 2
    assert len(calls) == result["pages"] + 2


def test_graphql_request_with_its_defaults_pages_a_region_and_updates_a_household(
    demo_api: DemoAPI, node_modules: Path
) -> None:
    mark = len(demo_api.recorder.seen)
    result = run_node("graphql-request.mjs", demo_api)
    check_run(result, demo_api, "graphql-request")
    calls = [(seen.method, seen.status) for seen in demo_api.recorder.since(mark) if seen.path == "/graphql"]
    assert calls == [("POST", 200)] * (result["pages"] + 2)


def test_a_client_script_fails_on_a_graphql_error(demo_api: DemoAPI, node_modules: Path) -> None:
    """The scripts are real checks: a refused login (wrong password) ends them with status 1."""
    environment = {**os.environ, "SIKS_URL": f"{demo_api.url}/graphql", "SIKS_PASSWORD": "not-the-password"}
    for script in ("urql.mjs", "graphql-request.mjs"):
        done = subprocess.run(
            ["node", script], cwd=CLIENTS, env=environment, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 1, (script, done.stdout, done.stderr)
        assert "FAILED: login refused" in done.stderr and not done.stdout


def documented_client_lines() -> list[str]:
    """The code lines of the ```js blocks in docs/integrators.md's "Clients that work with SIKS"."""
    text = (Path(__file__).parents[1] / "docs" / "integrators.md").read_text(encoding="utf-8")
    section = text.split("## Clients that work with SIKS", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```js\n(.*?)```", section, flags=re.DOTALL)
    return [line.strip().rstrip(",;") for block in blocks for line in block.splitlines() if line.strip()]


def test_the_documented_client_snippets_are_the_tested_scripts_lines() -> None:
    lines = documented_client_lines()
    assert len(lines) >= 10 and any("new Client(" in line for line in lines)
    assert any("new GraphQLClient(" in line for line in lines)
    scripts = "\n".join(path.read_text(encoding="utf-8") for path in CLIENTS.glob("*.mjs"))
    missing = [line for line in lines if line not in scripts]
    assert not missing, f"docs/integrators.md shows lines the tested scripts no longer have: {missing}"


# --- relay-compiler on the committed SDL -----------------------------------------------------------


def relay_compile(source: Path, node_modules: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """relay-compiler on a copy of ``source`` against contract/schema.graphql; artifacts land in ``tmp``."""
    shutil.copytree(source, tmp / "src")
    config = json.loads((CLIENTS / "relay.config.json").read_text(encoding="utf-8"))
    config["schema"] = str((CLIENTS / config["schema"]).resolve())
    (tmp / "relay.config.json").write_text(json.dumps(config), encoding="utf-8")
    return subprocess.run(
        [str(node_modules / ".bin" / "relay-compiler")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_relay_compiler_compiles_the_fragments_and_the_paginated_query(node_modules: Path, tmp_path: Path) -> None:
    done = relay_compile(CLIENTS / "src", node_modules, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    generated = {path.name for path in (tmp_path / "src").rglob("__generated__/*.graphql.js")}
    assert {
        "HouseholdCard_household.graphql.js",
        "HouseholdCardRefetchQuery.graphql.js",
        "RegionCardRefetchQuery.graphql.js",
        "ProposalCardRefetchQuery.graphql.js",
        "HouseholdListPaginationQuery.graphql.js",
        "HouseholdListPageQuery.graphql.js",
    } <= generated
    pagination = (tmp_path / "src" / "__generated__" / "HouseholdList_query.graphql.js").read_text(encoding="utf-8")
    # Relay saw a connection it can page both ways.
    assert '"direction": "bidirectional"' in pagination, pagination


def relay_operation(generated: Path, name: str) -> str:
    """The operation text relay-compiler wrote into the artifact ``name`` (what a Relay app sends)."""
    artifact = (generated / f"{name}.graphql.js").read_text(encoding="utf-8")
    found = re.search(r'"text": ("(?:[^"\\]|\\.)*")', artifact)
    assert found, f"{name}: no operation text"
    return str(json.loads(found.group(1)))


def test_the_compiled_relay_operations_page_both_ways_and_refetch_through_node(
    demo_api: DemoAPI, node_modules: Path, tmp_path: Path
) -> None:
    """What Relay's usePaginationFragment and useRefetchableFragment send, sent to the real server."""
    done = relay_compile(CLIENTS / "src", node_modules, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    generated = tmp_path / "src" / "__generated__"
    pagination = relay_operation(generated, "HouseholdListPaginationQuery")
    refetch = relay_operation(generated, "HouseholdCardRefetchQuery")
    headers = {"Authorization": f"Bearer {demo_api.token()}"}

    def run(query: str, **variables: Any) -> dict[str, Any]:
        answer = httpx.post(
            f"{demo_api.url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
        ).json()
        assert "errors" not in answer, answer["errors"]
        return dict(answer["data"])

    def walk(forward: bool) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            # Relay sends the other direction's count and cursor as null.
            if forward:
                page = run(pagination, regionCode=REGION, first=PAGE_SIZE, after=cursor, last=None, before=None)
            else:
                page = run(pagination, regionCode=REGION, first=None, after=None, last=PAGE_SIZE, before=cursor)
            connection = page["households"]
            nodes = [edge["node"]["id"] for edge in connection["edges"]]
            ids.extend(nodes if forward else reversed(nodes))
            info = connection["pageInfo"]
            if not (info["hasNextPage"] if forward else info["hasPreviousPage"]):
                return ids
            cursor = info["endCursor"] if forward else info["startCursor"]

    forward = walk(forward=True)
    assert len(forward) == len(set(forward)) == demo_api.count(REGION)
    assert walk(forward=False) == list(reversed(forward))
    household = run(refetch, id=forward[0])["node"]
    assert household["__typename"] == "Household" and household["id"] == forward[0]
    assert household["members"] and household["region"]["code"].startswith(f"{REGION}.")


def test_relay_compiler_refuses_a_fragment_selecting_a_field_the_schema_lacks(
    node_modules: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(CLIENTS / "src", source)
    (source / "Broken.js").write_text(
        "import { graphql } from 'relay-runtime';\n"
        "export const Broken = graphql`\n"
        "  fragment Broken_household on Household { id kkNumber householdIncome }\n"
        "`;\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    out.mkdir()
    done = relay_compile(source, node_modules, out)
    assert done.returncode != 0
    assert "The type `Household` has no field `householdIncome`" in done.stdout + done.stderr


# --- a browser's cross-origin fetch (headless Chromium) --------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium driven by Debian's chromedriver (never a downloaded browser or driver)."""
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


def fetch_from(browser: Any, site: StaticSite, api: DemoAPI, token: str) -> dict[str, Any]:
    """Opens the site's page and runs its ``probe``: a JSON POST to /graphql with the Authorization header."""
    browser.get(f"{site.origin}/probe.html")
    assert browser.execute_script("return window.location.origin") == site.origin
    script = "const done = arguments[arguments.length - 1]; probe(arguments[0], arguments[1], arguments[2]).then(done);"
    return dict(browser.execute_async_script(script, f"{api.url}/graphql", token, REGION))


def test_a_browser_fetch_from_an_allowed_origin_succeeds_after_a_preflight(demo_api: DemoAPI, browser: Any) -> None:
    token = demo_api.token()
    mark = len(demo_api.recorder.seen)
    result = fetch_from(browser, demo_api.allowed, demo_api, token)
    assert result["ok"] is True, result
    assert result["status"] == 200
    assert result["body"]["data"]["me"]["username"] == DEMO_ADMIN[0]
    assert result["body"]["data"]["households"]["totalCount"] == demo_api.count(REGION)
    assert result["requestId"], "X-Request-Id is exposed to the page"
    api_calls = [s for s in demo_api.recorder.since(mark) if s.path == "/graphql"]
    assert [(s.method, s.origin, s.status) for s in api_calls] == [
        ("OPTIONS", demo_api.allowed.origin, 200),
        ("POST", demo_api.allowed.origin, 200),
    ]


def test_a_browser_fetch_from_an_origin_not_allowed_fails_at_the_preflight(demo_api: DemoAPI, browser: Any) -> None:
    assert demo_api.refused.origin not in (demo_api.settings.cors_origins or "")
    token = demo_api.token()
    mark = len(demo_api.recorder.seen)
    result = fetch_from(browser, demo_api.refused, demo_api, token)
    assert result == {"ok": False, "error": "TypeError", "message": "Failed to fetch"}, result
    api_calls = [s for s in demo_api.recorder.since(mark) if s.path == "/graphql"]
    # The browser asked, was refused, and never sent the POST itself.
    assert [(s.method, s.origin, s.status) for s in api_calls] == [("OPTIONS", demo_api.refused.origin, 400)]
