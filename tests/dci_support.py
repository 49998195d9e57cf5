"""DCI test helpers: request envelopes, households with deciles and enrolments, a callback receiver."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import uvicorn
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.dci.envelope import now_ts
from core.foundation.ids import ids
from core.models import Enrollment, ProgramCycle
from core.storage.db import write_transaction
from tests.serving import free_port


def envelope(action: str, message: dict[str, Any], sender_uri: str | None = None) -> dict[str, Any]:
    header: dict[str, Any] = {
        "version": "1.0.0",
        "message_id": secrets.token_hex(8),
        "message_ts": now_ts(),
        "action": action,
        "sender_id": "dinsos.example.go.id",
        "receiver_id": "siks",
        "total_count": 1,
    }
    if sender_uri:
        header["sender_uri"] = sender_uri
    return {"signature": "unsigned", "header": header, "message": message}


def search_message(
    criteria: dict[str, Any], *more: dict[str, Any], transaction_id: str | None = None
) -> dict[str, Any]:
    requests = [
        {"reference_id": f"ref-{n}", "timestamp": now_ts(), "search_criteria": item}
        for n, item in enumerate([criteria, *more], start=1)
    ]
    return {"transaction_id": transaction_id or secrets.token_hex(6), "search_request": requests}


def search_body(criteria: dict[str, Any], sender_uri: str | None = None) -> dict[str, Any]:
    return envelope("search", search_message(criteria), sender_uri)


def by_id(kind: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"query_type": "idtype-value", "query": {"type": kind, "value": value}, **extra}


def expression(query: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"query_type": "expression", "query": {"collection": "Group", "query": query}, **extra}


def predicate(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"query_type": "predicate", "query": list(items), **extra}


def answers(response_body: dict[str, Any]) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = response_body["message"]["search_response"]
    return answer


def kks(answer: dict[str, Any]) -> list[str]:
    return [r["group_identifier"][0]["identifier_value"] for r in answer["data"]["reg_records"]]


async def enrol(engine: AsyncEngine, household_id: int, village: str, program: str, start: date, end: date) -> None:
    """Enrol a household in a programme period (a cycle of its own)."""
    now = datetime.now(UTC)
    cycle_id = ids.next_id()
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(ProgramCycle.__table__).values(
                id=cycle_id,
                program=program,
                period=f"{start.year}-{start.month:02d}",
                region_code=village[:2],
                status="completed",
                started_at=now,
                run_by="test",
            )
        )
        await conn.execute(
            insert(Enrollment.__table__).values(
                id=ids.next_id(),
                cycle_id=cycle_id,
                program=program,
                period=f"{start.year}-{start.month:02d}",
                period_start=start,
                period_end=end,
                household_id=household_id,
                village_code=village,
                amount=600_000,
                created_at=now,
            )
        )


@dataclass
class Receiver:
    """A real HTTP server that records the JSON posted to it (the integrator's callback endpoint)."""

    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def wait(self, count: int = 1, seconds: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    async def await_count(self, count: int = 1, seconds: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.received


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A callback receiver on a free local port, answering every POST with the spec's ACK."""
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}")

    async def take(request: Request) -> JSONResponse:
        found.received.append((request.url.path, await request.json()))
        return JSONResponse({"message": {"ack_status": "ACK", "timestamp": now_ts(), "correlation_id": "r"}})

    app = Starlette(routes=[Route("/{path:path}", take, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"receiver-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the callback receiver did not start")
        time.sleep(0.02)
    try:
        yield found
    finally:
        server.should_exit = True
        thread.join(5)
