"""``siks dci``: the DCI Social Registry API's keys and clients."""

from __future__ import annotations

import typer

from core.cli.dci_security import clients_app, keys_app

app = typer.Typer(help="The DCI Social Registry API: signing keys and integrators' keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys", no_args_is_help=True)
app.add_typer(clients_app, name="clients", no_args_is_help=True)
