"""``siks serve --workers 2`` as a real process: rate limits, policy changes and /metrics span both workers.

Which worker answered a request is read from the JSON log lines (``pid``, ``request_id``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
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


class ServerLog:
    """The served process's output, read as it comes (the pipe never fills); which worker answered what."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self._reader = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._reader.start()

    def workers(self, tag: str) -> set[int]:
        """The pids of the workers that logged a ``siks.request`` line for a request id starting with ``tag``."""
        pids = set()
        for line in list(self.lines):
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("logger") == "siks.request" and str(entry.get("request_id")).startswith(f"{tag}-"):
                    pids.add(entry["pid"])
        return pids


def from_both_workers(log: ServerLog, tag: str, send: Callable[[str], httpx.Response]) -> list[httpx.Response]:
    """Rounds of eight parallel requests, each on a connection of its own and with a request id ``tag-n``, until
    both workers have answered some (the kernel gives a new connection to either)."""
    answers: list[httpx.Response] = []
    for _ in range(15):
        sent = len(answers)
        with ThreadPoolExecutor(8) as pool:
            answers += pool.map(send, [f"{tag}-{sent + i}" for i in range(8)])
        time.sleep(0.3)  # the log line follows the answer
        if len(log.workers(tag)) == 2:
            return answers
    raise AssertionError(f"the {tag} requests were all answered by one worker: {log.workers(tag)}")


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
    log = ServerLog(process)
    try:
        wait_until_up(process, port)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("siks-metrics-")], "no metrics folder"

        def anonymous(request_id: str) -> httpx.Response:
            headers = {"X-Forwarded-For": client_address, "X-Request-Id": f"{request_id}-{run}"}
            return httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers=headers, timeout=30)

        statuses = [answer.status_code for answer in from_both_workers(log, "anon", anonymous)]
        refused = statuses.count(429)
        assert len(statuses) - refused == 5, statuses  # 5 a minute for the address, whichever worker counted them

        def households(request_id: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {regency}", "X-Request-Id": f"{request_id}-{run}"}
            query = "{ households(first: 1) { totalCount } }"
            return httpx.post(f"{base}/graphql", json={"query": query}, headers=headers, timeout=30)

        def codes(answers: list[httpx.Response]) -> set[Any]:
            return {(answer.json().get("errors") or [{}])[0].get("extensions", {}).get("code") for answer in answers}

        assert codes(from_both_workers(log, "granted", households)) == {None}
        removed = siks("policy", "remove", REGENCY_HOUSEHOLDS, env=env)
        assert removed.returncode == 0, removed.stderr
        time.sleep(1.2)  # a worker compares the stored policy version at most once a second
        assert codes(from_both_workers(log, "revoked", households)) == {"FORBIDDEN"}
        added = siks("policy", "add", REGENCY_HOUSEHOLDS, env=env)
        assert added.returncode == 0, added.stderr
        time.sleep(1.2)
        assert codes(from_both_workers(log, "restored", households)) == {None}

        ready = from_both_workers(
            log, "ready", lambda rid: httpx.get(f"{base}/ready", headers={"X-Request-Id": rid}, timeout=30)
        )
        assert {answer.status_code for answer in ready} == {200}
        with ThreadPoolExecutor(8) as pool:
            scrapes = list(pool.map(lambda _: httpx.get(f"{base}/metrics", timeout=30), range(8)))
        for scrape in scrapes:
            families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
            counted = sum(
                sample.value
                for sample in families["siks_http_requests"].samples
                if sample.name == "siks_http_requests_total" and sample.labels["route"] == "ready"
            )
            assert counted == len(ready), "every worker's /ready answers, summed"
            refusals = families["siks_rate_limit_refusals"].samples
            assert sum(s.value for s in refusals if s.name == "siks_rate_limit_refusals_total") == refused
            histogram = families["siks_http_request_duration_seconds"].samples
            assert any(
                s.name.endswith("_count") and s.labels["route"] == "ready" and s.value == len(ready) for s in histogram
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("siks-metrics-")], "the metrics folder was left"
