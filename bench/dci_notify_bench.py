"""Benchmark: DCI notifications delivered from the outbox to a local subscriber, per second.

Writes ``--notifications`` household events (one bulk insert, as an import batch writes them) for
one national subscription, then times one delivery worker (``Deliverer.drain``: fan-out, claims,
signed notify envelopes, POSTs, outcomes) until every notification is delivered to a receiver
running as its own uvicorn process on 127.0.0.1. The floor is the same number of raw httpx POSTs of
envelopes of the same size, with the same concurrency, to the same receiver in the same run: what
the network path alone allows. Prints the median of ``--runs`` runs of each; the target is
≥ 500 notifications/s.

    python bench/dci_notify_bench.py [--databases sqlite postgresql] [--notifications 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import delete, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, fresh_database  # noqa: E402
from core.dci.delivery import LANE_CONNECTIONS, Deliverer  # noqa: E402
from core.dci.events import EVENTS, Event, EventKind, record_events  # noqa: E402
from core.dci.outbox import DELIVERIES, SUBSCRIPTIONS  # noqa: E402
from core.foundation.ids import ids  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.storage.db import create_engine, write_transaction  # noqa: E402

TARGET = 500.0
VILLAGE = "32.01.01.1001"

# -- the receiver: a bare ASGI app, so the figure measures SIKS's side, not a framework's ----------------

_received = {"count": 0}


async def receiver_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST: take the body and answer ACK; GET: how many notifications came."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        _received["count"] += 1
        body = b'{"message":{"ack_status":"ACK"}}'
    else:
        body = str(_received["count"]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def start_receiver(port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.dci_notify_bench:receiver_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--lifespan",
        "off",
    ]
    return subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent)


def wait_for_receiver(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the receiver exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the receiver did not start within 30 s")


# -- one run ---------------------------------------------------------------------------------------------


async def fill_outbox(settings: Settings, notifications: int, notify_uri: str) -> None:
    """An empty outbox, one national subscription to REGISTER, and ``notifications`` events for it."""
    engine = create_engine(settings)
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(delete(DELIVERIES))
            await conn.execute(delete(EVENTS))
            await conn.execute(delete(SUBSCRIPTIONS))
            await conn.execute(
                insert(SUBSCRIPTIONS).values(
                    id=ids.next_id(),
                    code="bench",
                    subscriber="bench-integrator",
                    scope="",
                    event_type="REGISTER",
                    reg_type="ns:org:RegistryType:Social",
                    filter=None,
                    notify_uri=notify_uri,
                    status="subscribed",
                    created_at=datetime(2020, 1, 1, tzinfo=UTC),
                )
            )
            await record_events(
                conn,
                [
                    Event(
                        EventKind.HOUSEHOLD_REGISTERED,
                        10_000_000 + n,
                        identifier=f"3201010000{n:06d}",
                        village_code=VILLAGE,
                    )
                    for n in range(notifications)
                ],
            )
    finally:
        await engine.dispose()


async def deliver_all(settings: Settings, notifications: int) -> float:
    """Seconds one worker takes to deliver every notification in the outbox."""
    engine = create_engine(settings)
    deliverer = Deliverer(engine, settings)
    try:
        started = time.perf_counter()
        totals = await deliverer.drain()
        seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            delivered = (
                await conn.execute(select(func.count()).where(DELIVERIES.c.status == "delivered"))
            ).scalar_one()
    finally:
        await deliverer.aclose()
        await engine.dispose()
    if delivered != notifications or totals.refused:
        raise RuntimeError(f"delivered {delivered} of {notifications} ({totals.refused} refused)")
    return seconds


async def raw_posts(url: str, notifications: int, concurrency: int) -> float:
    """Seconds for the same number of POSTs of a notify-sized body straight from httpx, sent as the
    worker sends (``concurrency`` clients, one request at a time each)."""
    body = orjson.dumps(
        {
            "signature": "unsigned",
            "header": {"message_id": "x" * 24, "action": "notify"},
            "message": {"notify_event": [{"data": {"reg_records": {"x": "y" * 300}}}]},
        }
    )
    work = iter(range(notifications))
    limits = httpx.Limits(max_connections=LANE_CONNECTIONS, max_keepalive_connections=LANE_CONNECTIONS)
    clients = [httpx.AsyncClient(limits=limits, timeout=10) for _ in range(concurrency)]

    async def lane(client: httpx.AsyncClient) -> None:
        for _ in work:
            answer = await client.post(url, content=body, headers={"content-type": "application/json"})
            answer.raise_for_status()

    try:
        started = time.perf_counter()
        await asyncio.gather(*(lane(client) for client in clients))
        return time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()


async def bench(kind: str, notifications: int, runs: int) -> tuple[float, float]:
    database = await fresh_database(kind, households=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}/notify"
    receiver = start_receiver(port)
    settings = database.settings.model_copy(update={"dci_delivery_in_server": False})
    try:
        wait_for_receiver(url, receiver)
        outbox, floor = [], []
        for _ in range(runs):
            await fill_outbox(settings, notifications, url)
            outbox.append(notifications / await deliver_all(settings, notifications))
            floor.append(notifications / await raw_posts(url, notifications, settings.dci_delivery_concurrency))
        return statistics.median(outbox), statistics.median(floor)
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
        await database.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    failed = False
    for kind in args.databases:
        rate, floor = asyncio.run(bench(kind, args.notifications, args.runs))
        verdict = "ok" if rate >= TARGET else "BELOW TARGET"
        print(
            f"{kind}: {args.notifications} notifications delivered at {rate:,.0f}/s (median of {args.runs}); "
            f"raw httpx posts {floor:,.0f}/s; target >= {TARGET:,.0f}/s: {verdict}"
        )
        failed |= rate < TARGET
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
