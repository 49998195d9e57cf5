"""``siks users``, ``siks token``: accounts, integrators' API keys and tokens for scripts."""

from __future__ import annotations

import getpass
import sys

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo, record
from core.auth import tokens
from core.auth.principal import Principal
from core.auth.users import (
    UserRefused,
    create_api_key,
    create_user,
    list_users,
    revoke_api_key,
    set_active,
    user_by_name,
)
from core.cli.common import fail, run_with_engine
from core.dci.security.credentials import client_credentials
from core.foundation.settings import get_settings
from core.storage.db import write_transaction

app = typer.Typer(help="User accounts and integrators' API keys.", no_args_is_help=True)
token_app = typer.Typer(help="Tokens for scripts.", no_args_is_help=True)


@token_app.callback()
def _token_app_group() -> None:
    """Keep this a command group even with one command."""


def cli_request() -> RequestInfo:
    """Changes made at the command line are audited as the operating-system user."""
    return RequestInfo(Principal(username=f"cli:{getpass.getuser()}", role="cli", scope="", via="cli"), client="cli")


def _run_change(work):  # type: ignore[no-untyped-def]
    async def runner(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with write_transaction(engine) as conn:
            return await work(conn)

    try:
        return run_with_engine(runner)
    except UserRefused as refused:
        fail(str(refused))


@app.command("create")
def create(
    username: str,
    role: str = typer.Option(
        ...,
        help="village_operator, district_officer, regency_office, province_office, "
        "data_centre, program_officer, integrator or auditor",
    ),
    region: str = typer.Option("", help="Scope: the region code the user works in ('' = national)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Create a user; the password is asked for (or read from stdin), never taken as an argument."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )

    async def work(conn):  # type: ignore[no-untyped-def]
        user = await create_user(conn, username, password, role, region)
        await record(
            conn,
            cli_request(),
            operation="createUser",
            entity="user",
            entity_id=user.id,
            after={"username": user.username, "role": user.role, "region": user.region_code},
        )
        return user

    user = _run_change(work)
    typer.echo(f"user {user.username} created: {user.role}, scope {user.region_code or 'national'}")


def _set_active(username: str, active: bool) -> None:
    async def work(conn):  # type: ignore[no-untyped-def]
        user = await set_active(conn, username, active)
        await record(
            conn,
            cli_request(),
            operation="enableUser" if active else "disableUser",
            entity="user",
            entity_id=user.id,
            after={"active": active},
        )
        return user

    _run_change(work)
    typer.echo(f"user {username} {'enabled' if active else 'disabled (API keys revoked)'}")


@app.command("disable")
def disable(username: str) -> None:
    """Disable a user: no more logins, refreshes or API-key use."""
    _set_active(username, False)


@app.command("enable")
def enable(username: str) -> None:
    """Enable a disabled user again."""
    _set_active(username, True)


@app.command("list")
def list_command() -> None:
    """List users with their role, scope and state."""

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await list_users(conn)

    for user in run_with_engine(work):
        state = "active" if user.active else "disabled"
        typer.echo(f"{user.username}\t{user.role}\t{user.region_code or 'national'}\t{state}")


@app.command("key")
def key(
    username: str,
    label: str = typer.Option(..., help="What the key is for, e.g. the agreement number."),
    revoke: str | None = typer.Option(None, help="Revoke the key with this prefix instead."),
) -> None:
    """Create an API key for an integrator (shown once, with the same secret as OAuth2 client credentials for the
    DCI API: client_id and client_secret), or revoke one (and its credentials) by its prefix."""

    async def work(conn):  # type: ignore[no-untyped-def]
        if revoke:
            await revoke_api_key(conn, revoke)
            await record(conn, cli_request(), operation="revokeApiKey", entity="api_key", entity_id=revoke)
            return None
        secret, prefix = await create_api_key(conn, username, label)
        await record(
            conn,
            cli_request(),
            operation="createApiKey",
            entity="api_key",
            entity_id=prefix,
            after={"username": username, "label": label},
        )
        return secret

    secret = _run_change(work)
    if revoke:
        typer.echo(f"key {revoke} revoked")
        return
    client_id, client_secret = client_credentials(secret)
    typer.echo(secret)
    typer.echo(f"client_id: {client_id}")
    typer.echo(f"client_secret: {client_secret}")
    typer.echo(
        "shown once: the key, or the client credentials for POST /oauth2/client/token (the same secret)", err=True
    )


@token_app.command("issue")
def issue(username: str) -> None:
    """Print an access token for an active user, for scripts."""

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await user_by_name(conn, username)

    user = run_with_engine(work)
    if user is None or not user.active:
        fail(f"no active user {username}")
    token, _claims = tokens.issue(
        get_settings(), user_id=user.id, username=user.username, role=user.role, scope=user.region_code, kind="access"
    )
    typer.echo(token)
