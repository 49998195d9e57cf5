"""The estimated cost of a GraphQL operation, refused before it runs above ``SIKS_MAX_QUERY_COST``.

Every field counts once per item of each list it sits in. A list paged with ``first`` or ``last``
counts that many items (the field's declared page, ``paged``, when both are omitted); every
other list counts the size it declares in ``core/schema/list_sizes.py`` — real worst cases such
as the 7,285 districts of ``regions(level: DISTRICT)`` and the 108 villages of the largest
district — or
``UNDECLARED_ITEMS`` when it declares none. A list of scalars counts once, as a scalar does:
its items are plain values that nothing resolves, and ``SIKS_MAX_RESPONSE_BYTES`` bounds them.

The estimate runs right after validation (``core.schema.hardening.HardenedValidation``), with
the request's variables: ``first: $n`` counts the ``n`` sent, a batch of NIKs its length. Without
variables (``operation_cost(..., variables=None)``) a variable counts at its worst.

Fragments are costed once per type and parent detail, so the estimate stays linear in the
document however often a fragment is spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core.schema.list_sizes import PAGE_DEFAULT, UNDECLARED_ITEMS, VARIABLE, Arguments, Known, hint_of

#: Items a list paged with ``first`` counts when the argument is left out and has no default.
DEFAULT_PAGE_ITEMS = 50


class Walk:
    """The fragments (by name) and operations of one document."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _page_items(arguments: Arguments, field: GraphQLField, max_page: int) -> int | None:
    """Items the list under this field counts, when the field takes ``first`` (``last`` counts alike; neither:
    the field's declared page, ``paged``); else None."""
    if "first" not in field.args:
        return None
    sizes = [arguments.get(name, field.args[name].default_value) for name in ("first", "last") if name in field.args]
    if any(size is VARIABLE for size in sizes):
        return max_page
    given = [size for size in sizes if type(size) is int]
    items = max(given) if given else _page_default(field)
    return min(max(items, 0), max_page)


def _page_default(field: GraphQLField) -> int:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field.extensions else None
    declared = (getattr(definition, "metadata", None) or {}).get(PAGE_DEFAULT)
    if type(declared) is int:
        return declared
    default = field.args["first"].default_value
    return default if type(default) is int else DEFAULT_PAGE_ITEMS


def _is_list(field: GraphQLField) -> bool:
    output = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(output, GraphQLList)


def variable_values(operation: OperationDefinitionNode, given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The operation's variables as sent, with the defaults of those left out; None when unknown (not sent yet)."""
    if given is None:
        return None
    values = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in given:
            values[name] = given[name]
        elif definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    return values


def _arguments(node: FieldNode, variables: Mapping[str, Any] | None) -> Arguments:
    """The field's arguments as Python values; a variable's value when known, else ``VARIABLE``."""
    arguments: dict[str, Any] = {}
    for argument in node.arguments or ():
        value = argument.value
        if isinstance(value, VariableNode):
            name = value.name.value
            arguments[argument.name.value] = variables.get(name) if variables is not None else VARIABLE
        else:
            arguments[argument.name.value] = value_from_ast_untyped(value, variables)
    return arguments


def field_size(
    node: FieldNode,
    parent_type: str,
    field: GraphQLField,
    detail: Any,
    limits: tuple[int, Known, Mapping[str, Any] | None],
) -> tuple[int, Any]:
    """(items the field counts per parent item, the detail passed to the fields below it); ``limits`` is
    (largest page, what is known of the data, the operation's variables or None)."""
    max_page, known, variables = limits
    arguments = _arguments(node, variables)
    page = _page_items(arguments, field, max_page)
    if page is not None:  # a paged list counts its page; a connection passes its page down to its edges
        return (page, None) if _is_list(field) else (1, page)
    hint = hint_of(parent_type, node.name.value, field)
    if hint is not None:
        sized = hint.size(arguments, detail, known)
        return sized.items, sized.detail
    return (UNDECLARED_ITEMS, None) if _is_list(field) else (1, None)


def operation_cost(
    schema: GraphQLSchema,
    walk: Walk,
    operation: OperationDefinitionNode,
    max_page: int,
    known: Known | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The estimated cost of one operation (see the module docstring); ``variables`` as sent, None when
    unknown (then a variable's value is priced at its worst)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    limits = (max_page, known or Known(), variable_values(operation, variables))
    memo: dict[tuple[str, str, Any], int] = {}
    open_fragments: set[str] = set()

    def cost(selection_set: SelectionSetNode, parent: GraphQLNamedType, detail: Any) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += field_cost(selection, parent, detail)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                total += cost(selection.selection_set, target or parent, detail)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value, detail)
        return total

    def fragment_cost(name: str, detail: Any) -> int:
        fragment = walk.fragments.get(name)
        if fragment is None or name in open_fragments:
            return 0
        target = schema.get_type(fragment.type_condition.name.value)
        if target is None:
            return 0
        key = (name, target.name, detail)
        if key not in memo:
            open_fragments.add(name)
            memo[key] = cost(fragment.selection_set, target, detail)
            open_fragments.discard(name)
        return memo[key]

    def field_cost(node: FieldNode, parent: GraphQLNamedType, detail: Any) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0  # introspection and __typename are free; unknown fields are reported elsewhere
        field = parent.fields.get(name)
        if field is None:
            return 0
        items, below = field_size(node, parent.name, field, detail, limits)
        if node.selection_set is None:
            return 1  # a scalar, or a list of scalars: plain values, bounded by the answer's size cap
        return 1 + items * cost(node.selection_set, get_named_type(field.type), below)

    return cost(operation.selection_set, root, None)


def cost_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    settings: tuple[int, int, Known],
) -> list[GraphQLError]:
    """An error for the operation to run when its cost is above the limit; ``settings`` is (the limit, the largest
    page, what is known of the data). Run after validation, with the request's variables."""
    max_cost, max_page, known = settings
    walk = Walk(document)
    errors = []
    for operation in walk.operations:
        name = operation.name.value if operation.name else None
        if operation_name is not None and name != operation_name:
            continue
        spent = operation_cost(schema, walk, operation, max_page, known, variables)
        if spent > max_cost:
            errors.append(
                GraphQLError(
                    f"'{name or 'anonymous'}' costs {spent:,}, more than the limit of {max_cost:,}: ask for smaller "
                    "pages (first), fewer nested lists or fewer items at once",
                    operation,
                )
            )
    return errors
