"""Delivering DCI notifications: at least once, with retries and backoff, surviving restarts.

A round (``Deliverer.run_round``) fans new events out to subscriptions, claims the deliveries due
(``core.dci.outbox.claim_due``: one transaction, committed before any HTTP call), POSTs each one's
signed ``notify`` envelope to its subscription's ``notify_uri`` (httpx, ``concurrency`` in flight)
and records every outcome in one more transaction; ``drain`` pipelines rounds (the next batch is
claimed, and the last one recorded, while one is posted). A 2xx answer delivers; anything else (a refusal,
a timeout, no connection) reschedules the delivery after an exponential backoff with jitter,
``backoff * 2^(attempt-1)`` capped at ``backoff_cap`` and drawn between half and all of it, until
the retry window (``SIKS_DCI_DELIVERY_RETRY_HOURS``) has passed since the delivery was made: then
it is ``failed`` and waits for an operator's ``siks dci outbox retry``.

Everything a worker knows is in the database, so a restarted worker (or another one, beside it)
carries on where the last stopped; a worker killed mid-call leaves its claimed deliveries to be
retried once their lease runs out. The server runs one worker in its lifespan (``delivering``);
``siks dci deliver`` runs one as its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dci.notify import notify_envelope
from core.dci.outbox import Claimed, Refusal, claim_due, fan_out, record_outcomes, work_waiting
from core.dci.security import sign_envelope
from core.foundation.settings import Settings
from core.storage.db import write_transaction

JSON = {"content-type": "application/json"}
#: Connections one lane keeps (to as many subscribers' hosts).
LANE_CONNECTIONS = 4
logger = logging.getLogger("siks.dci")


@dataclass(slots=True)
class Totals:
    """What delivery rounds did: events fanned out, deliveries attempted, delivered and refused."""

    fanned_out: int = 0
    attempted: int = 0
    delivered: int = 0
    refused: int = 0

    def add(self, other: Totals) -> None:
        self.fanned_out += other.fanned_out
        self.attempted += other.attempted
        self.delivered += other.delivered
        self.refused += other.refused


@dataclass(frozen=True, slots=True)
class Batch:
    """Deliveries claimed together, and the bodies of their notify messages."""

    claimed: list[Claimed]
    bodies: list[bytes]


def backoff(attempts: int, base: float, cap: float, draw: float) -> float:
    """Seconds before the next try after ``attempts`` refused ones: ``base * 2^(attempts-1)`` capped at
    ``cap``, scaled by ``draw`` in [0.5, 1] (the jitter, so refused subscribers are not hit in step)."""
    return min(cap, base * 2.0 ** min(attempts - 1, 60)) * draw


class Deliverer:
    """One delivery worker on ``engine``.

    It posts through ``SIKS_DCI_DELIVERY_CONCURRENCY`` lanes, each an httpx client sending one request
    at a time: a single client's pool looks at every connection for every request, which costs more
    than the request itself once there are dozens; a lane's pool holds a few.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        limits = httpx.Limits(max_connections=LANE_CONNECTIONS, max_keepalive_connections=LANE_CONNECTIONS)
        tls = ssl.create_default_context()  # one for all lanes: loading the CA bundle is the costly part
        self.lanes = [
            httpx.AsyncClient(timeout=settings.dci_delivery_timeout_seconds, limits=limits, verify=tls)
            for _ in range(settings.dci_delivery_concurrency)
        ]
        rounds = math.ceil(settings.dci_delivery_batch / settings.dci_delivery_concurrency)
        #: How long a claim holds: a batch is claimed while the one before is posted, and every call of
        #: both may take the whole timeout; then a margin.
        self.lease = timedelta(seconds=settings.dci_delivery_timeout_seconds * (2 * rounds + 1) + 30)

    async def aclose(self) -> None:
        for lane in self.lanes:
            await lane.aclose()

    @staticmethod
    async def _post(client: httpx.AsyncClient, delivery: Claimed, body: bytes) -> str | None:
        """None when the subscriber took it (2xx); else what went wrong, in one line."""
        try:
            answer = await client.post(delivery.notify_uri, content=body, headers=JSON)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}: {answer.text[:200]}"

    async def _post_all(self, claimed: list[Claimed], bodies: list[bytes]) -> list[str | None]:
        """Every notification posted, ``concurrency`` at a time; what went wrong with each (None: delivered)."""
        errors: list[str | None] = [None] * len(claimed)
        work = iter(range(len(claimed)))

        async def lane(client: httpx.AsyncClient) -> None:
            for index in work:  # one shared iterator: each notification is taken by one lane
                errors[index] = await self._post(client, claimed[index], bodies[index])

        await asyncio.gather(*(lane(client) for client in self.lanes))
        return errors

    def _refusal(self, delivery: Claimed, error: str, now: datetime) -> Refusal:
        s = self.settings
        if now - delivery.created_at >= timedelta(hours=s.dci_delivery_retry_hours):
            return Refusal(delivery.id, f"gave up after {delivery.attempts} attempts: {error}", None)
        wait = backoff(
            delivery.attempts,
            s.dci_delivery_backoff_seconds,
            s.dci_delivery_backoff_cap_seconds,
            random.uniform(0.5, 1.0),
        )
        return Refusal(delivery.id, error, now + timedelta(seconds=wait))

    async def _bodies(self, claimed: list[Claimed]) -> list[bytes]:
        now = datetime.now(UTC)
        bodies = []
        async with self.engine.connect() as conn:
            for delivery in claimed:
                header, message = notify_envelope(delivery, self.settings.dci_notify_sender_id, now)
                signature = await sign_envelope(conn, self.settings, header, message)
                bodies.append(orjson.dumps({"signature": signature, "header": header, "message": message}))
        return bodies

    async def _claim(self, totals: Totals) -> Batch | None:
        """Fan out what waits, then claim what is due with its bodies; None when there was nothing to do."""
        async with self.engine.connect() as conn:
            events, due = await work_waiting(conn)
        fanned = 0
        if events:
            async with write_transaction(self.engine) as conn:
                fanned = await fan_out(conn, self.settings.dci_delivery_batch * 4)
            totals.fanned_out += fanned
        if not (due or fanned):
            return None
        async with write_transaction(self.engine) as conn:
            claimed = await claim_due(conn, self.settings.dci_delivery_batch, self.lease)
        if not claimed and not fanned:
            return None
        return Batch(claimed, await self._bodies(claimed))

    async def _record(self, batch: Batch, errors: list[str | None], totals: Totals) -> None:
        now = datetime.now(UTC)
        pairs = list(zip(batch.claimed, errors, strict=True))
        delivered = [d.id for d, error in pairs if error is None]
        refused = [self._refusal(d, error, now) for d, error in pairs if error is not None]
        async with write_transaction(self.engine) as conn:
            await record_outcomes(conn, delivered, refused)
        totals.attempted += len(pairs)
        totals.delivered += len(delivered)
        totals.refused += len(refused)

    async def run_round(self) -> Totals:
        """Fan out, claim, post and record once (module docstring)."""
        totals = Totals()
        batch = await self._claim(totals)
        if batch is not None:
            await self._record(batch, await self._post_all(batch.claimed, batch.bodies), totals)
        return totals

    async def drain(self, stop: asyncio.Event | None = None) -> Totals:
        """Rounds until nothing is due now (``siks dci deliver --once``) or ``stop`` is set; deliveries
        refused meanwhile wait for their next attempt.

        Pipelined: while one batch is posted the next is claimed and the last one's outcomes are
        recorded, so the lanes do not wait for the database between batches. Once ``stop`` is set no
        new batch is claimed: the one being posted is finished and recorded.
        """
        totals = Totals()
        batch = await self._claim(totals)
        recording: asyncio.Task[None] | None = None
        try:
            while batch is not None:
                stopping = stop is not None and stop.is_set()
                following = None if stopping else asyncio.create_task(self._claim(totals))
                try:
                    errors = await self._post_all(batch.claimed, batch.bodies)
                except BaseException:
                    if following is not None:
                        following.cancel()
                    raise
                if recording is not None:
                    await recording
                recording = asyncio.create_task(self._record(batch, errors, totals))
                batch = await following if following is not None else None
        finally:
            if recording is not None:
                await recording
        return totals

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; when idle, wait ``SIKS_DCI_DELIVERY_POLL_SECONDS`` (or until stop)."""
        while not stop.is_set():
            done = await self.drain(stop)
            if not done.fanned_out and not done.attempted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.dci_delivery_poll_seconds)


@contextlib.asynccontextmanager
async def delivering(engine: AsyncEngine, settings: Settings) -> AsyncIterator[Deliverer | None]:
    """While the server runs, a delivery worker in the background (``SIKS_DCI_DELIVERY_IN_SERVER``).

    On the way out it finishes the round it is in (its claims would otherwise wait out their lease),
    waiting at most the delivery timeout and a margin before cancelling it.
    """
    if not settings.dci_delivery_in_server:
        yield None
        return
    deliverer = Deliverer(engine, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(_logged(deliverer, stop), name="siks-dci-delivery")
    try:
        yield deliverer
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, settings.dci_delivery_timeout_seconds + 5)
        except TimeoutError:
            pass  # wait_for has cancelled it: its claims are retried when their lease runs out
        finally:
            await deliverer.aclose()


async def _logged(deliverer: Deliverer, stop: asyncio.Event) -> None:
    """Run the worker; a database outage or bug in one round is logged and the worker goes on after a pause."""
    while not stop.is_set():
        try:
            await deliverer.run(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("DCI delivery round failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), deliverer.settings.dci_delivery_poll_seconds * 5)
