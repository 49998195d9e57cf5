"""The contract's SDL: both GraphQL schemas as the code builds them, with the built-in plugins only.

Each program plugin adds fields, and ``core.schema.programs`` assembles its types from the plugin
registry when it is first imported, so the schema of a running process depends on what happens to
be installed. The contract is therefore printed in a fresh interpreter whose plugins are exactly
``CONTRACT_PLUGINS``: ``SIKS_PLUGINS`` is set to them and every other ``SIKS_`` variable is left
out of its environment. Neither the mode nor any limit changes the printed schema (a test holds
the builders to that), so development and production serve the same contract.

``python -m core.contract.sdl`` is that interpreter's entry: it prints both schemas as JSON. Once
the schema's types are built from a registry handed to the builder (not read at import), the
contract can be printed in this process from ``build_registry(make_manager(CONTRACT_PLUGINS))``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The built-in programs, the only plugins the contract is printed with.
CONTRACT_PLUGINS: tuple[str, ...] = ("bpnt", "bst", "kube", "pbi_jk", "pkh")
#: Where the contract lives in the repository, relative to its root.
DEFAULT_DIR = Path("contract")
MAIN_FILE = "schema.graphql"
PUBLIC_FILE = "schema.public.graphql"
#: Plugins core registers itself, never named in an allowlist.
_CORE_PLUGINS = frozenset({"core-facts"})
_ENV_PREFIX = "SIKS_"


class ContractError(RuntimeError):
    """The schemas could not be printed."""


@dataclass(frozen=True, slots=True)
class Contract:
    """The SDL of the main API (``/graphql``) and of the public one (``/public/graphql``)."""

    main: str
    public: str

    def files(self) -> dict[str, str]:
        """File name → content, as committed in the contract folder."""
        return {MAIN_FILE: self.main, PUBLIC_FILE: self.public}


def print_schemas() -> Contract:
    """Both schemas as this interpreter builds them; refuses unless its plugins are the contract's."""
    from core.foundation.settings import Settings
    from core.programs.registry import registry_from_settings
    from core.public.schema import build_public_schema
    from core.schema.build import build_schema

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    registry = registry_from_settings(settings)
    loaded = sorted(set(registry.plugins) - _CORE_PLUGINS)
    if loaded != sorted(CONTRACT_PLUGINS):
        raise ContractError(f"the contract is printed with plugins {', '.join(CONTRACT_PLUGINS)}, not {loaded}")
    return Contract(main=_sdl(build_schema(settings, registry=registry)), public=_sdl(build_public_schema(settings)))


def _sdl(schema: object) -> str:
    return str(schema.as_str()).rstrip("\n") + "\n"  # type: ignore[attr-defined]


def contract_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` without any SIKS_ setting, loading exactly the contract's plugins."""
    kept = {name: value for name, value in environ.items() if not name.startswith(_ENV_PREFIX)}
    return {**kept, "SIKS_PLUGINS": ",".join(CONTRACT_PLUGINS)}


@lru_cache(maxsize=1)
def code_contract() -> Contract:
    """The contract the installed code gives, printed in a fresh interpreter (a few seconds; cached)."""
    result = subprocess.run(
        [sys.executable, "-m", "core.contract.sdl"],
        env=contract_environment(dict(os.environ)),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ContractError(f"printing the schemas failed: {last}")
    printed = json.loads(result.stdout)
    return Contract(main=printed["main"], public=printed["public"])


def stale_files(contract: Contract, directory: Path) -> list[str]:
    """The contract files in ``directory`` that are missing or differ from ``contract``."""
    stale = []
    for name, content in contract.files().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return stale


def write_contract(contract: Contract, directory: Path) -> list[str]:
    """Write the files that changed; their names."""
    changed = stale_files(contract, directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        (directory / name).write_text(contract.files()[name], encoding="utf-8", newline="\n")
    return changed


if __name__ == "__main__":
    printed = print_schemas()
    sys.stdout.write(json.dumps({"main": printed.main, "public": printed.public}))
