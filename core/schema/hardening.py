"""GraphQL hardening: how much one request may ask for, and how little an error reveals.

Every limit is a setting (README, "Settings"):

- depth (``SIKS_MAX_QUERY_DEPTH``) and aliases (``SIKS_MAX_QUERY_ALIASES``): strawberry's own
  validators; tokens (``SIKS_MAX_QUERY_TOKENS``): graphql-core's parser stops counting there;
- cost (``SIKS_MAX_QUERY_COST``): every field counts once per item of each list it sits in; a
  list paged with ``first`` counts ``first`` items (its default when omitted; the largest page
  when given by a variable, whose value validation cannot see), any other list counts
  ``UNPAGED_LIST_ITEMS``;
- before any validator runs, the document's fragments may not expand it beyond the token limit
  in fields, nor nest more than ``MAX_NESTING`` deep: strawberry's depth and alias validators walk
  every fragment spread anew, so a few fragments each spreading the next twice would otherwise
  cost exponential time in validation, where no time limit can stop it;
- batching is off; in production mode introspection, field suggestions ("Did you mean …?") and
  the text of internal errors are off too, while the errors we raise on purpose and validation
  errors stay readable;
- every error carries ``extensions.code`` in Apollo's words: ``GRAPHQL_PARSE_FAILED`` and
  ``GRAPHQL_VALIDATION_FAILED`` before execution, ``BAD_USER_INPUT`` for a GraphQLError a resolver
  raised on purpose, ``INTERNAL_SERVER_ERROR`` for anything else, so a client can tell its own
  mistakes from the server's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
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
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from core.outage import OutageErrors
from core.settings import Mode, Settings

#: Items a list paged with ``first`` counts when the argument is left out and has no default.
DEFAULT_PAGE_ITEMS = 50
#: Items any list without ``first`` counts (a household's members, a region's children, enrollments).
UNPAGED_LIST_ITEMS = 10
#: Deepest nesting of selections and fragment spreads a document may have before validation.
MAX_NESTING = 100
INTERNAL_ERROR = "Internal error: this part of the answer failed on the server and was logged; it is not your input."

Extension = Callable[[], SchemaExtension]


class _Walk:
    """The fragments (by name) and operations of one document."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def expansion_problem(document: DocumentNode, max_fields: int) -> str | None:
    """Why the document is too large once its fragments are spread (linear time), or None."""
    walk = _Walk(document)
    sizes: dict[str, int] = {}
    open_fragments: set[str] = set()

    def size(selection_set: SelectionSetNode, nesting: int) -> int:
        if nesting > MAX_NESTING:
            raise _TooDeep
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value, nesting)
            else:
                total += 1
                if selection.selection_set is not None:
                    total += size(selection.selection_set, nesting + 1)
        return total

    def fragment_size(name: str, nesting: int) -> int:
        if name in sizes:
            return sizes[name]
        fragment = walk.fragments.get(name)
        if fragment is None or name in open_fragments:
            return 0  # unknown and cyclic fragments are reported by the specified rules
        open_fragments.add(name)
        sizes[name] = size(fragment.selection_set, nesting + 1)
        open_fragments.discard(name)
        return sizes[name]

    try:
        fields = sum(size(operation.selection_set, 1) for operation in walk.operations)
    except _TooDeep:
        return f"the document nests selections and fragments more than {MAX_NESTING} deep"
    if fields > max_fields:
        return (
            f"the document's fragments expand it to {fields:,} fields, more than the limit of {max_fields:,}; "
            "spread fewer fragments"
        )
    return None


class _TooDeep(Exception):
    pass


def _page_items(node: FieldNode, field: GraphQLField, max_page: int) -> int | None:
    """Items the list under this field counts, when the field takes ``first``; else None."""
    argument = field.args.get("first")
    if argument is None:
        return None
    given = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
    if isinstance(given, VariableNode):
        return max_page
    if isinstance(given, IntValueNode):
        items = int(given.value)
    elif given is None and isinstance(argument.default_value, int):
        items = argument.default_value
    else:
        items = DEFAULT_PAGE_ITEMS
    return min(max(items, 0), max_page)


def _is_list(field: GraphQLField) -> bool:
    output = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(output, GraphQLList)


def operation_cost(schema: GraphQLSchema, walk: _Walk, operation: OperationDefinitionNode, max_page: int) -> int:
    """The estimated cost of one operation (see the module docstring); fragments are costed once each."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    memo: dict[tuple[str, str, int | None], int] = {}
    open_fragments: set[str] = set()

    def cost(selection_set: SelectionSetNode, parent: GraphQLNamedType, page: int | None) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += field_cost(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                total += cost(selection.selection_set, target or parent, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value, page)
        return total

    def fragment_cost(name: str, page: int | None) -> int:
        fragment = walk.fragments.get(name)
        if fragment is None or name in open_fragments:
            return 0
        target = schema.get_type(fragment.type_condition.name.value)
        if target is None:
            return 0
        key = (name, target.name, page)
        if key not in memo:
            open_fragments.add(name)
            memo[key] = cost(fragment.selection_set, target, page)
            open_fragments.discard(name)
        return memo[key]

    def field_cost(node: FieldNode, parent: GraphQLNamedType, page: int | None) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0  # introspection and __typename are free; unknown fields are reported elsewhere
        field = parent.fields.get(name)
        if field is None:
            return 0
        if node.selection_set is None:
            return 1
        items = _page_items(node, field, max_page)
        if items is not None:
            factor, below = 1, items
        elif _is_list(field):
            factor, below = (page if page is not None else UNPAGED_LIST_ITEMS), None
        else:
            factor, below = 1, page
        return 1 + factor * cost(node.selection_set, get_named_type(field.type), below)

    return cost(operation.selection_set, root, None)


def cost_rule(max_cost: int, max_page: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations whose estimated cost is above ``max_cost``."""

    class QueryCostRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            walk = _Walk(context.document)
            for operation in walk.operations:
                spent = operation_cost(context.schema, walk, operation, max_page)
                if spent > max_cost:
                    name = operation.name.value if operation.name else "anonymous"
                    context.report_error(
                        GraphQLError(
                            f"'{name}' costs {spent:,}, more than the limit of {max_cost:,}: ask for smaller pages "
                            "(first) or fewer nested lists",
                            operation,
                        )
                    )

    return QueryCostRule


@lru_cache(maxsize=512)
def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...], hide: bool, fields: int
) -> list[GraphQLError]:
    problem = expansion_problem(document, fields)
    if problem is not None:
        return [GraphQLError(problem)]
    return validate(
        schema, document, (*rules, MaybeNullValidationRule, OneOfInputValidationRule), hide_suggestions=hide
    )


class HardenedValidation(SchemaExtension):
    """Validation with our rules, the fragment-expansion guard first and suggestions hidden on request; cached."""

    def __init__(self, rules: tuple[type[ASTValidationRule], ...], hide_suggestions: bool, max_fields: int) -> None:
        self.rules = rules
        self.hide_suggestions = hide_suggestions
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = _validate(
            context.schema._schema,
            context.graphql_document,
            (*context.validation_rules, *self.rules),
            self.hide_suggestions,
            self.max_fields,
        )
        yield


def is_internal(error: GraphQLError) -> bool:
    """An error from a resolver that was not raised on purpose as a GraphQLError (a bug or an outage)."""
    original = error.original_error
    return error.path is not None and original is not None and not isinstance(original, GraphQLError)


def error_code(error: GraphQLError) -> str:
    """The ``extensions.code`` an error is labelled with (see the module docstring)."""
    if error.path is None:
        return "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT" if isinstance(error.original_error, GraphQLError) else "INTERNAL_SERVER_ERROR"


class ErrorCodes(SchemaExtension):
    """Labels every error of the result that has no ``extensions.code`` yet."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:  # a syntax error leaves through the operation as an exception
            _label(error)
            raise
        context = self.execution_context
        for error in [*(getattr(context.result, "errors", None) or ()), *(context.pre_execution_errors or ())]:
            _label(error)


def _label(error: GraphQLError) -> None:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": error_code(error)}


class Schema(strawberry.Schema):
    """strawberry's schema, logging only internal errors: a refused caller, a bad query or a
    validation error is the caller's answer, not the operator's concern, and a traceback for each
    one would bury the errors that are (anonymous probes of the API alone would fill the log)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        super().process_errors([error for error in errors if is_internal(error)], execution_context)


class MaskInternalErrors(MaskErrors):
    """strawberry's MaskErrors for internal errors only, keeping their code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_internal, error_message=INTERNAL_ERROR)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


def validation_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The rule classes, made once per schema so validation results can be cached."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
        cost_rule(settings.max_query_cost, settings.max_page_size),
    ]
    if settings.mode is Mode.PRODUCTION:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


def extensions(settings: Settings) -> list[Extension]:
    """Schema extension factories: token limit, hardened validation, error masking in production, error codes,
    database outages.

    Error codes come after masking: extensions leave ``on_operation`` in reverse order, so errors are
    labelled before internal ones are masked. Outages come last, so they are recognised before either
    (``core.outage``).
    """
    rules = validation_rules(settings)
    production = settings.mode is Mode.PRODUCTION
    made: list[Extension] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: HardenedValidation(rules, hide_suggestions=production, max_fields=settings.max_query_tokens),
    ]
    if production:
        made.append(MaskInternalErrors)
    made.append(ErrorCodes)
    made.append(OutageErrors)
    return made


def config(settings: Settings) -> StrawberryConfig:
    """No batching; no field suggestions in production."""
    return StrawberryConfig(disable_field_suggestions=settings.mode is Mode.PRODUCTION, batching_config=None)


def execution_context(base: type[Any], settings: Settings) -> type[Any]:
    """``base``, or in production a subclass that leaves suggestions out of variable errors too."""
    if settings.mode is not Mode.PRODUCTION:
        return base

    class QuietExecutionContext(base):  # type: ignore[misc, valid-type]
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            kwargs["hide_suggestions"] = True
            return super().build(*args, **kwargs)

    QuietExecutionContext.__name__ = f"Quiet{base.__name__}"
    return QuietExecutionContext
