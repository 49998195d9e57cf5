"""``siks schema``: the API contract — print it into ``contract/`` and check a change breaks no client."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from core.cli.common import fail
from core.contract.breaking import (
    DEFAULT_INTENDED,
    SCHEMA_FILES,
    Comparison,
    ContractFileError,
    compare,
    read_intended,
)
from core.contract.sdl import DEFAULT_DIR, MAIN_FILE, PUBLIC_FILE, ContractError, code_contract, write_contract
from core.contract.sdl import stale_files as find_stale_files

app = typer.Typer(help="The API contract: the schemas' SDL and breaking-change checks.", no_args_is_help=True)

CONTRACT_DIR = typer.Option(DEFAULT_DIR, "--dir", help="The contract folder (relative to the working directory).")


@app.command("export")
def export(
    directory: Path = CONTRACT_DIR,
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if the files differ from the code."),
) -> None:
    """Print schema.graphql (/graphql) and schema.public.graphql (/public/graphql) into the contract folder.

    The schemas are built with exactly the built-in plugins (pkh, bpnt, bst, kube), whatever else is
    installed or named by SIKS_PLUGINS; the mode and limits do not change them.
    """
    try:
        contract = code_contract()
    except ContractError as exc:
        fail(str(exc))
    if check:
        stale = find_stale_files(contract, directory)
        if stale:
            names = ", ".join(str(directory / name) for name in stale)
            typer.secho(
                f"the committed contract differs from the code's schema: {names}; "
                "run `siks schema export` and commit the result",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(1)
        typer.echo(f"{directory / MAIN_FILE} and {directory / PUBLIC_FILE} match the code")
        return
    changed = write_contract(contract, directory)
    typer.echo(f"wrote {', '.join(str(directory / name) for name in changed)}" if changed else "contract unchanged")


@app.command("breaking")
def breaking(
    against: Path = typer.Option(
        ..., "--against", help="The base: a contract folder (e.g. main's), or one SDL file (see --public)."
    ),
    directory: Path = CONTRACT_DIR,
    public: bool = typer.Option(False, "--public", help="With a file for --against: it is the public schema."),
    intended_file: Path = typer.Option(DEFAULT_INTENDED, "--intended", help="The intended breaking changes."),
) -> None:
    """Compare the contract with a base; exit 1 on a breaking change not listed as intended (warn on dangerous ones).

    A listed change also needs its deprecation period behind it, and a removed field, enum value or
    argument must have been @deprecated in the base.
    """
    try:
        intended = read_intended(intended_file)
        pairs = _pairs(against, directory, public)
        comparisons = [
            compare(name, _read(base), _read(current), intended, date.today(), base_label=str(base))
            for name, base, current in pairs
        ]
    except ContractFileError as exc:
        fail(str(exc))
    refused = sum(len(_report(comparison)) for comparison in comparisons)
    if refused:
        typer.secho(
            f"{refused} breaking change(s) refused: keep the schema compatible (deprecate first), or list the change "
            f"in {intended_file} with its reason and the day it was deprecated; see docs/api-contract.md",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1)
    typer.echo(f"no unintended breaking changes against {against}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractFileError(f"{path}: cannot be read ({exc.strerror})") from None


def _pairs(against: Path, directory: Path, public: bool) -> list[tuple[str, Path, Path]]:
    """(schema name, base file, current file) for each schema to compare."""
    if not against.is_dir():
        name = "public" if public else "main"
        return [(name, against, directory / SCHEMA_FILES[name])]
    pairs = [(name, against / file, directory / file) for name, file in SCHEMA_FILES.items()]
    found = [pair for pair in pairs if pair[1].is_file()]
    if not found:
        raise ContractFileError(f"{against} holds neither {MAIN_FILE} nor {PUBLIC_FILE}")
    for name, base, _current in pairs:
        if not base.is_file():
            typer.echo(f"{name}: {base} does not exist; nothing to compare")
    return found


def _report(comparison: Comparison) -> list[str]:
    """Print what changed; the refused changes."""
    for change in comparison.dangerous:
        typer.secho(f"warning [{comparison.schema}]: {change}", fg=typer.colors.YELLOW)
    refused = []
    for finding in comparison.breaking:
        if finding.problem is None:
            reason = finding.intended.reason if finding.intended else ""
            typer.echo(f"intended [{finding.schema}]: {finding.change} ({reason})")
        else:
            typer.secho(f"breaking [{finding.schema}]: {finding.change} — {finding.problem}", err=True, fg="red")
            refused.append(finding.change)
    return refused
