"""``siks dci``: the DCI Social Registry API — the outbox (delivering subscribers' notifications and
inspecting them, docs/dci-subscriptions.md), SIKS's signing keys and integrators' keys
(docs/dci-security.md)."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.cli.dci_security import clients_app, keys_app

app = typer.Typer(
    help="DCI Social Registry API: subscribers' notifications, signing keys, integrators' keys.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys", no_args_is_help=True)
app.add_typer(clients_app, name="clients", no_args_is_help=True)
outbox_app = typer.Typer(
    help="The DCI outbox: list deliveries (default), show one, retry one, prune old ones.",
    invoke_without_command=True,
)
app.add_typer(outbox_app, name="outbox")


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


@app.command("deliver")
def deliver_command(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then stop (default: run until Ctrl-C)."),
) -> None:
    """Run a delivery worker: fan events out to subscriptions and post their notify messages, retrying
    refused ones with backoff. Several may run beside the server's own (SIKS_DCI_DELIVERY_IN_SERVER)."""
    from core.dci.delivery import Deliverer, Totals
    from core.foundation.settings import get_settings

    async def work(engine: AsyncEngine) -> Totals | None:
        deliverer = Deliverer(engine, get_settings())
        try:
            if once:
                return await deliverer.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await deliverer.run(stop)
            return None
        finally:
            await deliverer.aclose()

    totals = run_with_engine(work)
    if totals is not None:
        typer.echo(
            f"fanned out {totals.fanned_out} events; attempted {totals.attempted} notifications: "
            f"{totals.delivered} delivered, {totals.refused} refused (retried later)"
        )


def _line(row: Any) -> str:
    error = f"  {row.last_error}" if row.last_error else ""
    return (
        f"{row.id}  {row.status:<9}  attempts={row.attempts}  next={row.next_attempt_at:%Y-%m-%d %H:%M:%S}  "
        f"{row.kind}  household={row.household_id or '-'}  subscription={row.subscription_code}{error}"
    )


@outbox_app.callback()
def outbox_command(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="Only this status: pending, delivered, failed, cancelled."
    ),
    subscription: str | None = typer.Option(None, "--subscription", help="Only this subscription code."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Most rows listed (newest first)."),
) -> None:
    """List deliveries newest first, with the outbox's counters."""
    if ctx.invoked_subcommand is not None:
        return
    from core.dci.outbox import DeliveryStatus, list_deliveries, outbox_counts

    try:
        wanted = DeliveryStatus(status) if status is not None else None
    except ValueError:
        fail(f"--status must be one of {', '.join(s.value for s in DeliveryStatus)}, not '{status}'")
        return

    async def work(engine: AsyncEngine) -> tuple[Any, Any]:
        async with engine.connect() as conn:
            return await list_deliveries(conn, wanted, subscription, limit), await outbox_counts(conn)

    rows, counts = run_with_engine(work)
    for row in rows:
        typer.echo(_line(row))
    typer.echo(
        f"pending {counts.pending}, delivered {counts.delivered}, failed {counts.failed}, "
        f"cancelled {counts.cancelled}; attempts {counts.attempts}; events not yet fanned out {counts.events_waiting}"
    )


@outbox_app.command("show")
def show_command(delivery_id: int = typer.Argument(..., help="The delivery's id (first column of the list).")) -> None:
    """One delivery in full: where it goes, its state, and the notify message it sends (unsigned here)."""
    from datetime import UTC, datetime

    from core.dci.notify import notify_envelope
    from core.dci.outbox import as_claimed, delivery
    from core.foundation.settings import get_settings

    async def work(engine: AsyncEngine) -> Any:
        async with engine.connect() as conn:
            return await delivery(conn, delivery_id), await as_claimed(conn, [delivery_id])

    row, claimed = run_with_engine(work)
    if row is None:
        fail(f"no delivery {delivery_id}; list them with `siks dci outbox`")
    typer.echo(_line(row))
    typer.echo(f"notify_uri: {row.notify_uri}\ncreated: {row.created_at}  delivered: {row.delivered_at or '-'}")
    header, message = notify_envelope(claimed[0], get_settings().dci_notify_sender_id, datetime.now(UTC))
    typer.echo(json.dumps({"header": header, "message": message}, indent=2, ensure_ascii=False))


@outbox_app.command("retry")
def retry_command(delivery_id: int = typer.Argument(..., help="The delivery's id (first column of the list).")) -> None:
    """Queue a failed delivery again, to be tried now with a fresh retry window (audited)."""
    from core.cli.users import cli_request
    from core.dci.outbox import NotRetryable, retry
    from core.storage.db import write_transaction

    async def work(engine: AsyncEngine) -> Any:
        async with write_transaction(engine) as conn:
            return await retry(conn, cli_request(), delivery_id)

    try:
        row = run_with_engine(work)
    except NotRetryable as exc:
        fail(str(exc))
        return
    typer.echo(f"queued again: {_line(row)}")


@outbox_app.command("prune")
def prune_command(
    days: int = typer.Option(30, "--days", min=1, help="Keep what is younger than this many days."),
) -> None:
    """Delete delivered and cancelled deliveries older than --days, and the events left with none
    (pending and failed ones are kept). Audited."""
    from datetime import timedelta

    from core.cli.users import cli_request
    from core.dci.outbox import Pruned, prune
    from core.storage.db import write_transaction

    async def work(engine: AsyncEngine) -> Pruned:
        async with write_transaction(engine) as conn:
            return await prune(conn, cli_request(), timedelta(days=days))

    pruned = run_with_engine(work)
    typer.echo(f"deleted {pruned.deliveries} deliveries and {pruned.events} events older than {days} days")
