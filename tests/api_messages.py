"""The English texts of core and the plugins that can reach the API, found by reading the code (AST).

A text is a string literal or f-string written as the message of:

- a field error: ``FieldError(field, message)`` (core's and ``core.plugin_api``'s);
- a typed error: ``ValidationError.single(field, message)``, a ``message=`` keyword of a call to a
  class named ``...Error``, ``...Refused``, ``...Conflict``, ``NotFound`` or ``cls``;
- a GraphQL error: ``GraphQLError(message)``;
- an HTTP refusal: ``send_error(send, status, message)``, ``error_response(status, message)``, ``_error``;
- a GraphQL error class's own: ``super().__init__(message, ...)``;
- a problem a service words for one of the above: the string returned by a function whose name
  ends in ``problem`` or whose docstring begins "Why" or "What makes", a string assigned to
  ``problem``, ``message`` or ``reason``, and the message of a raised ``PeriodError``,
  ``RegionCodeError``, ``TokenError``, ``TokenRefused`` or ``NotAuthenticated`` (shown as written);
- a message constant: ``..._MESSAGE``, ``..._ERROR`` (``INTERNAL_ERROR``), the values of ``..._MESSAGES``,
  and what a ``message`` function or property returns (a deadline's, a body limit's).

Each text becomes its catalog form: an f-string's values become ``%(name)s`` placeholders (named after
the value's last identifier). ``shape`` compares forms without the names, so the catalog may name its
placeholders better than the code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent.parent
#: Folders read; the pages (core/dataku) have their own catalog and test, the CLI and demo answer no request.
FOLDERS = ("core", "plugins")
SKIPPED = (
    *("core/dataku", "core/cli", "core/demo", "core/migrations", "core/contract", "core/welfare", "core/reference"),
    *("core/audit", "core/foundation/settings.py"),  # the audit's own checks and start-up refusals answer no request
)
#: Calls whose argument at the given position is a message (``__init__``: a GraphQL error class's own).
MESSAGE_CALLS = {"FieldError": 1, "GraphQLError": 0, "__init__": 0, "send_error": 2, "error_response": 1, "_error": 1}
MESSAGE_CALLS |= {"cls": 0}  # a GraphQL error's own constructor (``ExecutionStopped.too_large``)
#: Module constants that are messages: ``..._MESSAGE``, ``..._ERROR`` and the values of ``..._MESSAGES``.
CONSTANT = re.compile(r"_?[A-Z_]*(MESSAGE|_ERROR|MESSAGES)$")
MESSAGE_KEYWORD_OWNERS = re.compile(r"(Error|Refused|Conflict|NotFound|cls|Stopped)$")
ASSIGNED = {"problem", "message", "reason"}
RAISED = {"PeriodError", "RegionCodeError", "TokenError", "TokenRefused", "NotAuthenticated"}
_PLACEHOLDER = re.compile(r"%\(\w+\)s")


@dataclass(frozen=True, slots=True)
class Text:
    msgid: str  # the catalog form
    where: str  # path:line

    @property
    def shape(self) -> str:
        return shape(self.msgid)


def shape(msgid: str) -> str:
    """The form without placeholder names."""
    return _PLACEHOLDER.sub("%s", msgid)


def _name(node: ast.expr, taken: set[str]) -> str:
    names = re.findall(r"[A-Za-z_]\w*", ast.unparse(node))
    words = [n for n in names if n not in {"len", "str", "repr", "self", "join", "replace", "value", "title"}]
    base = (words or names or ["value"])[-1].lower()
    name, number = base, 2
    while name in taken:
        name, number = f"{base}{number}", number + 1
    taken.add(name)
    return name


def catalog_form(node: ast.expr) -> str | None:
    """The catalog form of a string literal or f-string, or None for anything else (a variable, a call)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("%", "%%") if "%" in node.value else node.value
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        taken: set[str] = set()
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value).replace("%", "%%"))
            elif isinstance(value, ast.FormattedValue):
                parts.append(f"%({_name(value.value, taken)})s")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "..." "..." split by a line break
        left, right = catalog_form(node.left), catalog_form(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return "ValidationError.single" if func.attr == "single" else func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _says_why(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function that words a problem: named ``...problem`` or documented as "Why ..." / "What makes ..."."""
    doc = ast.get_docstring(function) or ""
    named = function.name.endswith("problem") or function.name.strip("_") == "message"
    return named or doc.startswith(("Why ", "What makes ", "What a request"))


def _messages(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = _callee(node)
            position = 1 if callee == "ValidationError.single" else MESSAGE_CALLS.get(callee)
            if position is not None and len(node.args) > position:
                yield node.args[position]
            if MESSAGE_KEYWORD_OWNERS.search(callee) or callee == "ValidationError.single":
                yield from (k.value for k in node.keywords if k.arg == "message")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _says_why(node):
            yield from (r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ASSIGNED for t in node.targets):
            yield node.value
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and CONSTANT.fullmatch(t.id) for t in node.targets
        ):
            yield from node.value.values if isinstance(node.value, ast.Dict) else (node.value,)  # type: ignore[misc]
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and _callee(node.exc) in RAISED:
            yield from node.exc.args[:1]


def texts() -> list[Text]:
    """Every text of core and the plugins that can reach the API, in catalog form (see the module's docstring)."""
    found: list[Text] = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(SKIPPED):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in _messages(tree):
                branches = (node.body, node.orelse) if isinstance(node, ast.IfExp) else (node,)  # a if c else b
                for branch in branches:
                    form = catalog_form(branch)
                    if form and " " in form and re.search(r"[A-Za-z]{2}", form):  # words, not an identifier
                        found.append(Text(form, f"{relative}:{node.lineno}"))
    return found
