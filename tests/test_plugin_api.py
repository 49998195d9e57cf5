"""core.plugin_api is the whole of what plugins use from core, and the built-in plugins use nothing else."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import core.plugin_api as api

ROOT = Path(__file__).resolve().parent.parent


def _type_checking_names() -> set[str]:
    tree = ast.parse((ROOT / "core" / "plugin_api.py").read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    names = {
        alias.asname or alias.name for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    names |= {target.id for node in block.body if isinstance(node, ast.Assign) for target in node.targets}  # type: ignore[attr-defined]
    return {name for name in names if not name.startswith("_")}


def test_every_export_resolves_and_mypy_sees_the_same_names() -> None:
    assert _type_checking_names() == set(api.__all__)
    for name in api.__all__:
        assert getattr(api, name) is not None


def test_an_unknown_name_says_where_the_list_is() -> None:
    with pytest.raises(AttributeError, match="docs/plugins.md lists what it exports"):
        api.no_such_name  # noqa: B018


def test_declaring_a_program_does_not_load_the_graphql_layer() -> None:
    code = (
        "import sys\nfrom core.plugin_api import Program, hookimpl, load_program_settings\n"
        "import plugins.pkh\nassert 'core.schema.context' not in sys.modules, 'GraphQL loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(
    "plugin", ["plugins.pkh", "plugins.bpnt", "plugins.bst", "plugins.kube", "plugins.pbi_jk", "siks_elderly"]
)
def test_plugins_import_nothing_from_core_but_the_plugin_api(plugin: str) -> None:
    folder = Path(importlib.import_module(plugin).__file__ or "").parent
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "core":
                assert node.module == "core.plugin_api", f"{path}: from {node.module} import ..."
            if isinstance(node, ast.Import):
                assert not [a.name for a in node.names if a.name.split(".")[0] == "core"], f"{path} imports core"


def test_the_import_contracts_hold() -> None:
    lint = str(Path(sys.executable).parent / "lint-imports")  # installed with the test extras
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "3 kept, 0 broken" in result.stdout
