"""docs/plugins.md documents every hook with its exact arguments (as datasette's docs test does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from core.programs import hookspecs

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
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
