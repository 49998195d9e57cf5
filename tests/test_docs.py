"""docs/plugins.md documents every hook with its exact arguments (as datasette's docs test does); the docs
name only files and modules that exist."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from core.programs import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("siks_"))
DOCUMENTED = dict(re.findall(r"^### (siks_\w+)\(([^)]*)\)", DOCS, flags=re.MULTILINE))


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 8


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_arguments(hook: str) -> None:
    assert hook in DOCUMENTED, f"docs/plugins.md has no '### {hook}(...)' section"
    arguments = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    documented = [a.strip() for a in DOCUMENTED[hook].split(",") if a.strip()]
    assert documented == arguments


def test_no_documented_hook_is_missing_from_the_specs() -> None:
    assert sorted(DOCUMENTED) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_and_keyword_typed_arguments(hook: str) -> None:
    function = getattr(hookspecs, hook)
    assert function.__doc__ and len(function.__doc__.strip()) > 40
    for parameter in inspect.signature(function).parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{hook}({parameter.name}) has no type"


# --- docs/integrators.md lists every extensions.code the API answers with ----------------------------

CORE = Path(__file__).resolve().parent.parent / "core"
INTEGRATORS = (Path(__file__).resolve().parent.parent / "docs" / "integrators.md").read_text(encoding="utf-8")
_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,}")


def _strings(node: ast.AST, constants: dict[str, str]) -> list[str]:
    """String constants an expression can give, following module-level names bound to one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) + _strings(node.orelse, constants)
    return []


def error_codes_in_code() -> dict[str, str]:
    """code → file: values of a "code" key in a dict literal, and what a function named error_code returns."""
    found: dict[str, str] = {}
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: statement.value.value
            for statement in tree.body
            if isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }
        values: list[ast.AST] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                values += [v for k, v in zip(node.keys, node.values, strict=True) if _strings(k, {}) == ["code"]]
            if isinstance(node, ast.FunctionDef) and node.name == "error_code":
                values += [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
        for value in values:
            for code in _strings(value, constants):
                if _CODE.fullmatch(code):
                    found.setdefault(code, str(path.relative_to(CORE.parent)))
    return found


def test_every_error_code_the_api_uses_is_documented_for_integrators() -> None:
    used = error_codes_in_code()
    assert {"FORBIDDEN", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "INTERNAL_SERVER_ERROR"} <= set(used)
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", INTEGRATORS, flags=re.MULTILINE))
    missing = {code: where for code, where in used.items() if code not in documented}
    assert not missing, f"document these extensions.code values in docs/integrators.md, 'Errors': {missing}"
    assert documented <= set(used), f"docs/integrators.md lists codes the API never sends: {documented - set(used)}"


# `# file: tests/...` lines are the snippets of a plugin package in plugins.md, not paths of this tree.
_CODE_PATH = re.compile(r"(?<!# file: )\b((?:core|plugins|tests|bench|contract|policies)/[\w./-]*\w)")
_MODULE = re.compile(r"`((?:core|plugins)(?:\.\w+)+)")


def _named_paths() -> list[tuple[str, str]]:
    named = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        named += [(doc.name, path) for path in _CODE_PATH.findall(text) if "*" not in path and "<" not in path]
        named += [(doc.name, module) for module in _MODULE.findall(text)]
    return named


def _is_module(parts: list[str]) -> bool:
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_path_and_module_the_docs_name_exists() -> None:
    """README and docs/ (architecture.md above all) stay true to the tree: a file, folder or module they
    name that was moved or removed fails here."""
    missing = []
    for doc, name in _named_paths():
        if "/" in name:
            if not (ROOT / name).exists():
                missing.append(f"{doc}: {name}")
            continue
        parts = name.split(".")
        # `core.x.y` may name a module, a package, or an attribute of one (`core.plugin_api.run_write`).
        found = any(_is_module(parts[:n]) for n in range(len(parts), 1, -1))
        if not found:
            missing.append(f"{doc}: {name}")
    assert _named_paths(), "the docs name no paths: the pattern is broken"
    assert not missing, "docs name what is not in the tree:\n" + "\n".join(missing)
