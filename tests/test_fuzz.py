"""Fuzzing: schemathesis in its GraphQL mode against a real uvicorn server, both schemas, no server errors.

A server error is a 5xx answer or an error labelled ``INTERNAL_SERVER_ERROR`` (a resolver's
exception or a broken schema contract, see ``core.schema.hardening``). Errors raised on purpose
(``BAD_USER_INPUT``, ``FORBIDDEN`` for what the caller's role may not do) are the client's, which
schemathesis's own GraphQL check would count against us, so the check here reads the codes.
Schemathesis reads the schemas from strawberry directly (production mode serves no
introspection). The number of examples is bounded so the whole file stays well under a minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
import strawberry
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.public.schema import build_public_schema
from core.schema.build import build_schema
from tests.serving import uvicorn_server
from tests.test_public import plant

MAIN_EXAMPLES = 120
PUBLIC_EXAMPLES = 80
# A JSON request cannot carry a file: the fuzzer sends text or null where an Upload is expected,
# which must be refused as the client's error (files come only in multipart requests).
schemathesis.graphql.scalar(
    "Upload",
    st.one_of(st.text(max_size=20).map(schemathesis.graphql.nodes.String), st.just(schemathesis.graphql.nodes.Null)),
)


@pytest.fixture
async def server(db: AsyncEngine, settings: Settings) -> AsyncIterator[str]:
    """A server on a free port over a few planted households, with the public rate limit out of the way."""
    await plant(db)
    with uvicorn_server(settings.model_copy(update={"public_requests_per_minute": 1_000_000})) as url:
        yield url


@pytest.fixture
def main_headers(request: pytest.FixtureRequest) -> dict[str, str]:
    """The main schema's credentials from the ``auth_headers`` fixture; none where no such fixture exists."""
    try:
        return dict(request.getfixturevalue("auth_headers"))
    except pytest.FixtureLookupError:
        return {}


def no_server_error(_ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx status and no error the server labelled as its own failure."""
    assert response.status_code < 500, f"{response.status_code} for {case.body}: {response.text[:300]}"
    if response.status_code == 400 and "NUL character" in response.text:
        return None  # refused before GraphQL: PostgreSQL text cannot hold NUL (core/foundation/nul.py)
    errors = response.json().get("errors") or []
    internal = [e for e in errors if (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"]
    assert not internal, f"{case.body}: {internal}"
    return None


def fuzz(schema: strawberry.Schema, url: str, headers: dict[str, str], examples: int) -> None:
    """Send ``examples`` generated operations of ``schema`` to ``url``; fail on the first server error."""
    target = schemathesis.graphql.from_dict({"data": schema.introspect()})

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=target.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(base_url=url, headers=headers, checks=[no_server_error])

    run()


def test_public_schema_survives_fuzzing(server: str, settings: Settings) -> None:
    fuzz(build_public_schema(settings), f"{server}/public/graphql", {}, PUBLIC_EXAMPLES)


def test_main_schema_survives_fuzzing(server: str, settings: Settings, main_headers: dict[str, str]) -> None:
    fuzz(build_schema(settings), f"{server}/graphql", main_headers, MAIN_EXAMPLES)
