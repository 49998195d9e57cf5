"""Policy changes from the command line reach a running server within about a second."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.policy import PolicyError, parse_line
from tests.cli_support import Ran, siks
from tests.conftest import GraphQLClient

LINE = "p, auditor, household, read"


def policy(*args: str) -> Ran:
    return siks("policy", *args)


async def until(predicate, seconds: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not await predicate():
        assert time.monotonic() - start < seconds, "the running server did not pick up the policy change"
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_add_and_remove_reach_the_running_server(db: AsyncEngine, as_role) -> None:  # type: ignore[no-untyped-def]
    auditor: GraphQLClient = as_role("auditor")

    async def can_read() -> bool:
        body = await auditor.raw("{ households { totalCount } }")
        return "errors" not in body

    assert not await can_read()
    try:
        added = policy("add", LINE)
        assert added.returncode == 0 and "added: p, auditor, household, read" in added.stdout
        assert await until(can_read) < 5
        assert LINE in policy("list").stdout
        again = policy("add", LINE)
        assert again.returncode == 2 and "already has" in again.stderr
    finally:
        removed = policy("remove", LINE)
    assert removed.returncode == 0

    async def cannot_read() -> bool:
        return not await can_read()

    await until(cannot_read)
    missing = policy("remove", LINE)
    assert missing.returncode == 2 and "has no 'p, auditor, household, read'" in missing.stderr


def test_policy_lines_are_checked() -> None:
    assert parse_line(" p , role , obj , read ") == ["p", "role", "obj", "read"]
    assert parse_line("g, kube_officer, authenticated") == ["g", "kube_officer", "authenticated"]
    for bad in ["x, a, b, c", "p, a, b", "g, a", "p, a, , read", ""]:
        try:
            parse_line(bad)
        except PolicyError as exc:
            assert "is not a policy line" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
