"""``siks dci keys`` (SIKS's signing keys) and ``siks dci clients`` (integrators' public keys)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import record
from core.cli.common import fail, run_with_engine
from core.cli.users import cli_request
from core.dci.security.client_keys import (
    ClientKeyRefused,
    list_client_keys,
    read_public_keys,
    register_keys,
    revoke_key,
)
from core.dci.security.keys import create_key, list_keys
from core.foundation.settings import get_settings
from core.storage.db import write_transaction

keys_app = typer.Typer(help="SIKS's Ed25519 keys that sign DCI responses, callbacks and notifications.")
clients_app = typer.Typer(help="Integrators' public keys that their DCI requests' signatures are checked against.")


def _change(work):  # type: ignore[no-untyped-def]
    async def runner(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with write_transaction(engine) as conn:
            return await work(conn)

    try:
        return run_with_engine(runner)
    except ClientKeyRefused as refused:
        fail(str(refused))


@keys_app.command("rotate")
def rotate() -> None:
    """Make a new signing key; the previous one stays published for SIKS_DCI_KEY_GRACE_DAYS, then retires."""
    settings = get_settings()

    async def work(conn):  # type: ignore[no-untyped-def]
        key = await create_key(conn, settings)
        await record(
            conn,
            cli_request(),
            operation="rotateDciSigningKey",
            entity="dci_signing_key",
            entity_id=key.kid,
            after={"grace_days": settings.dci_key_grace_days},
        )
        return key

    key = _change(work)
    typer.echo(f"new signing key {key.kid}; earlier keys stay published for {settings.dci_key_grace_days} days")


@keys_app.command("list")
def list_signing_keys() -> None:
    """List the signing keys: kid, created, and active / published until / retired."""

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await list_keys(conn)

    now = datetime.now(UTC)
    for key in run_with_engine(work):
        if key.active:
            state = "active"
        elif key.published_at(now):
            state = f"published until {key.publish_until:%Y-%m-%d %H:%M}"
        else:
            state = "retired"
        typer.echo(f"{key.kid}\t{key.created_at:%Y-%m-%d %H:%M}\t{state}")


@clients_app.command("key")
def client_key(
    username: str,
    public_key: str | None = typer.Option(
        None, "--public-key", help="A PEM public key or JWK/JWKS file, or the http(s) URL of the integrator's JWKS."
    ),
    revoke: str | None = typer.Option(None, help="Revoke the integrator's key with this kid instead."),
) -> None:
    """Register an integrator's Ed25519 public key(s), or revoke one by its kid."""
    if (public_key is None) == (revoke is None):
        fail("give either --public-key FILE|JWKS_URL or --revoke KID")

    async def work(conn):  # type: ignore[no-untyped-def]
        if revoke is not None:
            await revoke_key(conn, username, revoke)
            await record(
                conn,
                cli_request(),
                operation="revokeDciClientKey",
                entity="dci_client_key",
                entity_id=revoke[:64],
                after={"username": username},
            )
            return []
        assert public_key is not None
        added = await register_keys(conn, username, read_public_keys(public_key), public_key)
        for kid in added:
            await record(
                conn,
                cli_request(),
                operation="registerDciClientKey",
                entity="dci_client_key",
                entity_id=kid,
                after={"username": username, "source": public_key[:200]},
            )
        return added

    added = _change(work)
    if revoke is not None:
        typer.echo(f"key {revoke} of {username} revoked")
    elif added:
        typer.echo("\n".join(f"key {kid} registered for {username}" for kid in added))
    else:
        typer.echo(f"{username} already has these keys; nothing changed")


@clients_app.command("list")
def list_clients(username: str | None = typer.Argument(None, help="Only this integrator's keys.")) -> None:
    """List integrators' registered keys: username, kid, source, registered, state."""

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await list_client_keys(conn, username)

    for key in run_with_engine(work):
        state = "active" if key.revoked_at is None else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{key.username}\t{key.kid}\t{key.source}\t{key.created_at:%Y-%m-%d %H:%M}\t{state}")
