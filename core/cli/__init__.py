"""The ``siks`` command line: one sub-command group per concern, each imported only when it runs.

Loading every group eagerly would import the GraphQL schema, numpy, scipy and CatBoost before
``siks --help`` could answer; the lazy group keeps start-up to what the chosen command needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import click
import typer
from typer.core import TyperGroup

#: command name → (module, attribute holding a Typer app)
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("core.cli.audit", "app"),
    "backup": ("core.cli.backup", "backup_app"),
    "counts": ("core.cli.counts", "app"),
    "db": ("core.cli.db", "app"),
    "dci": ("core.cli.dci", "app"),
    "dedup": ("core.cli.dedup", "app"),
    "demo": ("core.cli.demo", "app"),
    "disbursement": ("core.cli.disbursements", "app"),
    "export": ("core.cli.bulk", "export_app"),
    "grievances": ("core.cli.grievances", "app"),
    "identity": ("core.cli.identity", "app"),
    "import": ("core.cli.bulk", "import_app"),
    "offline": ("core.cli.offline", "app"),
    "policy": ("core.cli.policy", "app"),
    "program": ("core.cli.programs", "app"),
    "rank": ("core.cli.rank", "app"),
    "reference": ("core.cli.reference", "app"),
    "restore": ("core.cli.backup", "restore_app"),
    "regions": ("core.cli.regions", "app"),
    "schema": ("core.cli.schema", "app"),
    "serve": ("core.cli.serve", "app"),
    "token": ("core.cli.users", "token_app"),
    "users": ("core.cli.users", "app"),
    "verivali": ("core.cli.verivali", "app"),
}


def plugin_commands() -> dict[str, Any]:
    """The command groups the allowed plugins register (``siks_register_commands``), by name.

    A name core uses, or two plugins' one name, raises ``PluginConflict`` naming both.
    """
    from core.foundation.settings import get_settings
    from core.programs.registry import build_registry, make_manager

    manager = make_manager(get_settings().plugin_allowlist())
    return build_registry(manager, reserved_commands=COMMANDS).commands


class LazyGroup(TyperGroup):
    """A click group whose sub-commands are imported on first use; plugins' groups are looked up last."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS) | set(plugin_commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            app = getattr(import_module(module), attribute)
        else:
            found = super().get_command(ctx, cmd_name)
            if found is not None:
                return found
            app = plugin_commands().get(cmd_name)
            if app is None:
                return None
        command = typer.main.get_command(app)
        command.name = cmd_name
        return command


app = typer.Typer(
    cls=LazyGroup, help="SIKS: national social-welfare registry.", no_args_is_help=True, add_completion=False
)


@app.callback()
def _root() -> None:
    """SIKS: national social-welfare registry."""


def main(args: list[str] | None = None) -> Any:
    """Run ``siks`` with ``args`` (default: the process's command line); tests pass them in process."""
    from core.programs.registry import PluginConflict

    try:
        return app(args=args)
    except PluginConflict as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None
