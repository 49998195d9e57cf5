"""Run the real ``siks`` command in the test process (click's CliRunner) instead of a subprocess.

A subprocess pays for a fresh interpreter and the imports of the schema, numpy, scipy and CatBoost
on every call (seconds each, more under load); in process the command costs what it does. The
command is the same one the ``siks`` entry point runs (``core.cli.main``, with its handling of plugin
conflicts), against the test database named by the environment the session's ``settings`` fixture set.

The command calls ``asyncio.run`` (core/cli/common.py), which cannot run inside the test's own event
loop, so it runs in a worker thread while the test waits — as it waited for a subprocess. The result
looks like ``subprocess.CompletedProcess``: ``returncode``, ``stdout``, ``stderr`` (an unexpected
exception's traceback is written to ``stderr`` and gives exit code 1, as a crashing process would).

Tests of the installed entry point itself (start-up, ``--help``, serving) keep real subprocesses:
tests/test_cli_serve.py, tests/test_bulk_import.py, tests/test_demo.py.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner

import core.cli
from core.foundation.settings import get_settings


@dataclass(frozen=True)
class Ran:
    """What a ``siks`` run left: the fields of ``subprocess.CompletedProcess`` the tests read."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class _Entry:
    """The ``siks`` entry point as CliRunner calls commands: ``main(args=..., prog_name=...)``."""

    name = "siks"

    def main(self, args: Any = (), prog_name: str = "siks", **_: Any) -> Any:
        return core.cli.main(list(args))


def siks(
    *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None, timeout: float = 300
) -> Ran:
    """Run ``siks *args`` in process; ``env`` overrides environment variables (None unsets one) for the run.

    A run still going after ``timeout`` seconds fails the test (a subprocess would have been killed; a
    thread cannot be, so it is left to end with the process)."""
    outcome: list[Ran] = []
    failure: list[BaseException] = []

    def work() -> None:
        runner = CliRunner()
        hook = sys.excepthook  # typer installs its own on every call
        get_settings.cache_clear()  # settings come from the environment of this run
        try:
            result = runner.invoke(_Entry(), list(args), input=input, env=dict(env or {}))  # type: ignore[arg-type]
            stderr = result.stderr
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                stderr += "".join(traceback.format_exception(result.exception))
            outcome.append(Ran(args, result.exit_code, result.stdout, stderr))
        except BaseException as exc:  # noqa: BLE001 — re-raised in the test's thread
            failure.append(exc)
        finally:
            sys.excepthook = hook
            get_settings.cache_clear()

    thread = threading.Thread(target=work, name=f"siks {' '.join(args)}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"siks {' '.join(args)} still running after {timeout:g} s")
    if failure:
        raise failure[0]
    return outcome[0]
