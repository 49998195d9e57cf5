"""Structured logs: with ``SIKS_LOG_FORMAT=json`` (the default in production) every log line is one JSON object
carrying the request id the response's ``X-Request-Id`` shows; text stays the default in development."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.logs import remove_json_logs
from core.foundation.settings import LogFormat, Mode, Settings
from tests.conftest import token_headers
from tests.serving import production, serve

QUERY = "{ regions(level: PROVINCE) { code } }"


@pytest.fixture
def json_logs_removed() -> Iterator[None]:
    yield
    remove_json_logs()


def lines_of(captured: str) -> list[dict[str, Any]]:
    """Every line the server wrote, parsed (a line that is not one JSON object fails the test)."""
    return [orjson.loads(line) for line in captured.splitlines() if line.strip()]


async def test_json_lines_carry_the_request_id_the_response_shows(
    db: AsyncEngine, settings: Settings, capsys: pytest.CaptureFixture[str], json_logs_removed: None
) -> None:
    async with serve(settings.model_copy(update={"log_format": LogFormat.JSON})) as http:
        chosen = await http.post(
            "/graphql",
            json={"query": QUERY},
            headers={**token_headers(settings, "data_centre"), "X-Request-Id": "trace-42.a"},
        )
        given = await http.get("/health")
        logging.getLogger("siks.test").warning("outside any request")
    assert chosen.headers["x-request-id"] == "trace-42.a"
    generated = given.headers["x-request-id"]
    assert len(generated) == 32
    lines = lines_of(capsys.readouterr().err)
    requests = [line for line in lines if line["logger"] == "siks.request"]
    graphql = next(line for line in requests if line["path"] == "/graphql")
    assert graphql["request_id"] == "trace-42.a"
    assert (graphql["method"], graphql["status"], graphql["level"]) == ("POST", 200, "INFO")
    assert graphql["operation"] == "query:regions" and graphql["outcome"] == "ok"
    assert isinstance(graphql["duration_ms"], float) and graphql["duration_ms"] > 0
    assert graphql["time"].endswith("+00:00") and graphql["message"] == "POST /graphql 200"
    health = next(line for line in requests if line["path"] == "/health")
    assert health["request_id"] == generated and health["status"] == 200
    outside = next(line for line in lines if line["logger"] == "siks.test")
    assert outside["request_id"] is None and outside["level"] == "WARNING"
    assert {"time", "level", "logger", "message", "request_id"} <= set(outside)


async def test_a_log_line_written_while_answering_carries_the_request_id(
    db: AsyncEngine, settings: Settings, capsys: pytest.CaptureFixture[str], json_logs_removed: None
) -> None:
    """A warning from deep in a request (the outage log of an unreachable Redis in /ready) has the request's id."""
    unreachable = settings.model_copy(
        update={"log_format": LogFormat.JSON, "redis_url": "redis://127.0.0.1:1/0", "db_connect_timeout_seconds": 1.0}
    )
    async with serve(unreachable) as http:
        response = await http.get("/ready", headers={"X-Request-Id": "ready-check-1"})
    assert response.status_code == 503
    lines = lines_of(capsys.readouterr().err)
    warning = next(line for line in lines if line["logger"] == "siks.outage")
    assert warning["request_id"] == "ready-check-1" and "Redis" in warning["message"]


def test_the_format_follows_the_mode_unless_set(settings: Settings) -> None:
    development = settings.model_copy(update={"mode": Mode.DEVELOPMENT, "log_format": None})
    assert not development.json_logs()
    assert production(settings, log_format=None).json_logs()
    assert not production(settings, log_format=LogFormat.TEXT).json_logs()
    assert Settings(log_format="json").json_logs()  # type: ignore[arg-type]  # as SIKS_LOG_FORMAT=json reads it
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="yaml")  # type: ignore[arg-type]


async def test_text_stays_the_default_in_development(
    db: AsyncEngine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve(settings.model_copy(update={"mode": Mode.DEVELOPMENT, "log_format": None})) as http:
        assert (await http.get("/health")).status_code == 200
    assert not any(handler.get_name() == "siks-json" for handler in logging.getLogger().handlers)
    assert "{" not in capsys.readouterr().err
