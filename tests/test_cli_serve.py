"""``siks serve`` as a real process: an empty database becomes a working API; a foreign one is refused."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import select, text

from core.foundation.settings import Settings
from core.models import AuditEntry
from core.storage.db import create_engine
from tests.cli_support import siks

SIKS = [sys.executable, "-m", "core.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [*SIKS, "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_until_up(process: subprocess.Popen[str], port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("server did not come up in time")


def printed_before_serving(process: subprocess.Popen[str]) -> str:
    """What ``siks serve`` printed up to the line announcing the API (already written, so no wait)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "SIKS GraphQL API on" in line:
            break
    return "".join(lines)


def login(port: int) -> dict[str, str]:
    """Log in as the development admin the first start creates; the Authorization header."""
    mutation = 'mutation { login(username: "admin", password: "admin-password") { ... on Tokens { accessToken } } }'
    body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": mutation}, timeout=30).json()
    return {"Authorization": f"Bearer {body['data']['login']['accessToken']}"}


def test_serve_bootstraps_an_empty_database(empty_database: dict[str, str]) -> None:
    port = free_port()
    env = {**empty_database, "SIKS_DEMO_HOUSEHOLDS": "60"}
    with server(env, port) as process:
        wait_until_up(process, port)
        headers = login(port)
        query = "{ regions(level: PROVINCE) { code } households(first: 5) { totalCount edges { node { kkNumber } } } }"
        body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, headers=headers, timeout=30).json()
        assert len(body["data"]["regions"]) == 38
        assert body["data"]["households"]["totalCount"] == 60
        assert len(body["data"]["households"]["edges"]) == 5
        printed = printed_before_serving(process)
        assert "try the API with these" in printed
        nik = re.search(r"household id (\S+) \(KK (\d{16})\) in .*: head (.+), NIK (\d{16})", printed)
        assert nik is not None, printed
        person = "query($nik: String!) { person(nik: $nik) { name household { id kkNumber } } }"
        body = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": person, "variables": {"nik": nik[4]}},
            headers=headers,
            timeout=30,
        ).json()
        assert body["data"]["person"] == {"name": nik[3], "household": {"id": nik[1], "kkNumber": nik[2]}}
        page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        # uvicorn believes X-Forwarded-For from loopback by default; `siks serve` turns that off.
        wrong = 'mutation { login(username: "admin", password: "not-the-password") { __typename } }'
        spoofed = {"X-Forwarded-For": "203.0.113.99"}
        httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": wrong}, headers=spoofed, timeout=30)
        assert asyncio.run(last_login_client(empty_database)) == "127.0.0.1"
    # A second start finds the schema current and does not seed again.
    with server(env, port) as process:
        wait_until_up(process, port)
        body = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ households { totalCount } }"},
            headers=login(port),
            timeout=30,
        ).json()
        assert body["data"]["households"]["totalCount"] == 60


async def last_login_client(env: dict[str, str]) -> str:
    """The client address of the newest login audit row in the database of ``env``."""
    audit = AuditEntry.__table__
    engine = create_engine(
        Settings(database_url=env["SIKS_DATABASE_URL"], database_schema=env.get("SIKS_DATABASE_SCHEMA"))
    )
    try:
        async with engine.connect() as conn:
            query = select(audit.c.client).where(audit.c.operation == "login").order_by(audit.c.seq.desc()).limit(1)
            return str((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def test_serve_refuses_a_database_with_unknown_revision(empty_database: dict[str, str]) -> None:
    env = {**os.environ, **empty_database, "SIKS_DEMO_HOUSEHOLDS": "0"}
    upgraded = siks("db", "upgrade", env=env)  # the steps around the served process run in process
    assert upgraded.returncode == 0, upgraded.stderr

    async def from_the_future() -> None:
        engine = create_engine(
            Settings(database_url=env["SIKS_DATABASE_URL"], database_schema=env.get("SIKS_DATABASE_SCHEMA"))
        )
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM alembic_version"))
            await conn.execute(text("INSERT INTO alembic_version VALUES ('from_the_future')"))
        await engine.dispose()

    asyncio.run(from_the_future())
    result = subprocess.run(
        [*SIKS, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "schema revision this version of SIKS does not know" in result.stderr
    status = siks("db", "status", env=env)
    assert status.returncode == 1 and "unknown" in status.stdout
