"""A program's settings per year, read from a ``settings.toml`` shipped inside its package.

Amounts and thresholds are configuration, not code: a program unit changes a figure by editing
its file. The file holds one table per year (``[2026]``); the latest year not after a period
applies (``Program.settings_for``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib.resources import files
from typing import Any

SETTINGS_FILE = "settings.toml"


class ProgramSettingsError(ValueError):
    """A program's settings file is malformed; start-up stops with the file named."""


def load_program_settings(package: str, required: Iterable[str] = ()) -> dict[int, Mapping[str, Any]]:
    """The ``settings.toml`` of ``package`` as ``{year: settings}``; every year must have ``required`` keys."""
    source = files(package).joinpath(SETTINGS_FILE)
    where = f"{package}/{SETTINGS_FILE}"
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise ProgramSettingsError(f"{where}: {exc}") from exc
    settings: dict[int, Mapping[str, Any]] = {}
    for key, values in raw.items():
        if not key.isdigit() or not isinstance(values, dict):
            raise ProgramSettingsError(f"{where}: top-level entries must be year tables such as [2026], not '{key}'")
        missing = [name for name in required if name not in values]
        if missing:
            raise ProgramSettingsError(f"{where}: year {key} lacks {', '.join(missing)}")
        settings[int(key)] = values
    if not settings:
        raise ProgramSettingsError(f"{where}: no year table")
    return dict(sorted(settings.items()))
