"""``siks serve --workers 2`` as a real process: rate limits, policy changes and /metrics span both workers.

Which worker answered a request is read from the JSON log lines (``pid``, ``request_id``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.auth import tokens
from core.foundation.settings import Settings
from tests.cli_support import siks
from tests.test_cli_serve import SIKS, free_port, wait_until_up

REDIS_URL = "redis://127.0.0.1:6379/15"
REGENCY_HOUSEHOLDS = "p, regency_office, household, (read)|(write)"


def answered_by(output: str) -> dict[str, int]:
    """Request id → pid of the worker that wrote its ``siks.request`` line."""
    found = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("logger") == "siks.request" and entry.get("request_id"):
            found[entry["request_id"]] = entry["pid"]
    return found


def in_parallel(send: Callable[[int], httpx.Response], count: int) -> list[httpx.Response]:
    """``count`` requests, eight at a time, each on a connection of its own (so either worker may take it)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(send, range(count)))


def test_two_workers_share_rate_limits_policy_changes_and_metrics(
    empty_database: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = secrets.token_hex(3)
    # A client address of this run's own (told by a trusted proxy), so no other test's counts meet ours in Redis.
    client_address = f"2001:db8:{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}::7"
    secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        **empty_database,
        "SIKS_DEMO_HOUSEHOLDS": "0",
        "SIKS_REDIS_URL": REDIS_URL,
        "SIKS_ANONYMOUS_REQUESTS_PER_MINUTE": "5",
        "SIKS_TRUSTED_PROXIES": "127.0.0.1",
        "SIKS_LOG_FORMAT": "json",
        "SIKS_SECRET_KEY": secret,
        "TMPDIR": str(tmp_path),  # where `siks serve` makes the workers' metrics folder
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    regency, _claims = tokens.issue(
        Settings(secret_key=secret), user_id=1, username="regency", role="regency_office", scope="32.01", kind="access"
    )
    process = subprocess.Popen(
        [*SIKS, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_up(process, port)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("siks-metrics-")], "no metrics folder"

        def anonymous(i: int) -> httpx.Response:
            headers = {"X-Forwarded-For": client_address, "X-Request-Id": f"anon-{run}-{i}"}
            return httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers=headers, timeout=30)

        statuses = [answer.status_code for answer in in_parallel(anonymous, 16)]
        assert statuses.count(429) == 11, statuses  # 5 a minute for the address, whichever worker counted them

        def households(tag: str) -> Callable[[int], httpx.Response]:
            def send(i: int) -> httpx.Response:
                headers = {"Authorization": f"Bearer {regency}", "X-Request-Id": f"{tag}-{run}-{i}"}
                query = "{ households(first: 1) { totalCount } }"
                return httpx.post(f"{base}/graphql", json={"query": query}, headers=headers, timeout=30)

            return send

        def codes(answers: list[httpx.Response]) -> set[Any]:
            return {(answer.json().get("errors") or [{}])[0].get("extensions", {}).get("code") for answer in answers}

        assert codes(in_parallel(households("granted"), 12)) == {None}
        removed = siks("policy", "remove", REGENCY_HOUSEHOLDS, env=env)
        assert removed.returncode == 0, removed.stderr
        time.sleep(1.2)  # a worker compares the stored policy version at most once a second
        assert codes(in_parallel(households("revoked"), 12)) == {"FORBIDDEN"}
        added = siks("policy", "add", REGENCY_HOUSEHOLDS, env=env)
        assert added.returncode == 0, added.stderr
        time.sleep(1.2)
        assert codes(in_parallel(households("restored"), 12)) == {None}

        ready = in_parallel(
            lambda i: httpx.get(f"{base}/ready", headers={"X-Request-Id": f"ready-{run}-{i}"}, timeout=30), 20
        )
        assert {answer.status_code for answer in ready} == {200}
        scrapes = in_parallel(
            lambda i: httpx.get(f"{base}/metrics", headers={"X-Request-Id": f"scrape-{run}-{i}"}, timeout=30), 8
        )
        for scrape in scrapes:
            families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
            counted = {
                sample.labels["route"]: sample.value
                for sample in families["siks_http_requests"].samples
                if sample.name == "siks_http_requests_total" and sample.labels["route"] == "ready"
            }
            assert counted == {"ready": 20.0}, "every worker's /ready answers, summed"
            assert (
                sum(
                    sample.value
                    for sample in families["siks_rate_limit_refusals"].samples
                    if sample.name == "siks_rate_limit_refusals_total"
                )
                == 11
            )
            histogram = families["siks_http_request_duration_seconds"].samples
            assert any(s.name.endswith("_count") and s.labels["route"] == "ready" and s.value == 20 for s in histogram)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    workers = answered_by(output)
    for tag, count in (("anon", 16), ("revoked", 12), ("ready", 20)):
        pids = {workers[f"{tag}-{run}-{i}"] for i in range(count)}
        assert len(pids) == 2, f"the {tag} requests were all answered by one worker: {pids}"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("siks-metrics-")], "the metrics folder was left"
