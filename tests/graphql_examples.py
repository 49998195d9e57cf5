"""The GraphQL examples of README.md and docs/*.md: every ```graphql block, one operation at a time.

A block may hold several operations (each line its own query, with ``#`` comments); each is checked
on its own, with the block's fragments. A block is for the public schema (``/public/graphql``) when
its fence says so (```graphql public) or when its operations ask only for the public root fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    parse,
)

REPOSITORY = Path(__file__).resolve().parent.parent
DOCUMENTS = (REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md")))
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```graphql(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: where it is, its text, and whether the fence marks it public."""

    path: Path
    line: int
    text: str
    marked_public: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPOSITORY)}:{self.line}"


@dataclass(frozen=True, slots=True)
class Example:
    """One operation of a block, as a document of its own (with the block's fragments)."""

    block: Block
    index: int
    schema: str  # main or public
    document: DocumentNode

    @property
    def operation(self) -> OperationDefinitionNode:
        return next(d for d in self.document.definitions if isinstance(d, OperationDefinitionNode))

    @property
    def where(self) -> str:
        line = self.block.line + self.operation.loc.source.get_location(self.operation.loc.start).line
        return f"{self.block.path.relative_to(REPOSITORY)}:{line}"


def blocks(paths: tuple[Path, ...] = DOCUMENTS) -> list[Block]:
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1  # the fence's line; the body starts below it
            indent = len(match["indent"])
            body = "\n".join(row[indent:] for row in match["body"].splitlines())
            found.append(Block(path, line, body, "public" in match["info"].split()))
    return found


@cache
def contract_schema(name: str) -> GraphQLSchema:
    file = "schema.public.graphql" if name == "public" else "schema.graphql"
    return build_schema((REPOSITORY / "contract" / file).read_text(encoding="utf-8"))


def examples(block: Block) -> list[Example]:
    """The block's operations (a syntax error raises GraphQLSyntaxError naming the line)."""
    document = parse(block.text)
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    schema = "public" if block.marked_public or _asks_only_public_fields(operations) else "main"
    return [
        Example(block, index, schema, DocumentNode(definitions=(operation, *fragments)))
        for index, operation in enumerate(operations)
    ]


def _asks_only_public_fields(operations: list[OperationDefinitionNode]) -> bool:
    public = set(contract_schema("public").query_type.fields)  # type: ignore[union-attr]
    main = set(contract_schema("main").query_type.fields)  # type: ignore[union-attr]
    roots = {
        selection.name.value  # type: ignore[attr-defined]
        for operation in operations
        for selection in operation.selection_set.selections
    }
    queries = all(operation.operation is OperationType.QUERY for operation in operations)
    return bool(roots) and queries and roots <= public and not roots <= main
