"""GraphQL hardening: how much one request may ask for, and how little an error reveals.

Every limit is a setting (README, "Settings"):

- depth (``SIKS_MAX_QUERY_DEPTH``) and aliases (``SIKS_MAX_QUERY_ALIASES``): strawberry's own
  validators; tokens (``SIKS_MAX_QUERY_TOKENS``): graphql-core's parser stops counting there;
- cost (``SIKS_MAX_QUERY_COST``), after validation and with the request's variables: every field
  counts once per item of each list it sits in, each list at its page (``first``) or its declared
  worst-case size (``core/schema/cost.py``, ``core/schema/list_sizes.py``);
- while executing, the response's size (``SIKS_MAX_RESPONSE_BYTES``) and the request's deadline
  (``SIKS_REQUEST_TIMEOUT_SECONDS``) are checked as values are completed (``core/schema/limits.py``);
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
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    SelectionSetNode,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from core.foundation.settings import Mode, Settings
from core.runtime.outage import OutageErrors
from core.schema.cost import Walk, cost_errors
from core.schema.list_sizes import Known

#: Deepest nesting of selections and fragment spreads a document may have before validation.
MAX_NESTING = 100
INTERNAL_ERROR = "Internal error: this part of the answer failed on the server and was logged; it is not your input."

Extension = Callable[[], SchemaExtension]


def expansion_problem(document: DocumentNode, max_fields: int) -> str | None:
    """Why the document is too large once its fragments are spread (linear time), or None."""
    walk = Walk(document)
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
    """Validation with our rules, the fragment-expansion guard first and suggestions hidden on request (cached per
    document); then, for a valid document, its cost with this request's variables (``cost`` is the limit, the
    largest page and what is known of the data)."""

    def __init__(
        self,
        rules: tuple[type[ASTValidationRule], ...],
        hide_suggestions: bool,
        max_fields: int,
        cost: tuple[int, int, Known],
    ) -> None:
        self.rules = rules
        self.hide_suggestions = hide_suggestions
        self.max_fields = max_fields
        self.cost = cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        schema = context.schema._schema
        errors = _validate(
            schema,
            context.graphql_document,
            (*context.validation_rules, *self.rules),
            self.hide_suggestions,
            self.max_fields,
        )
        if not errors:
            errors = cost_errors(schema, context.graphql_document, context.variables, context.operation_name, self.cost)
        context.pre_execution_errors = errors
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
    ]
    if settings.mode is Mode.PRODUCTION:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


def extensions(settings: Settings, known: Known | None = None) -> list[Extension]:
    """Schema extension factories: token limit, hardened validation, query cost, error masking in production,
    error codes, database outages.

    Error codes come after masking: extensions leave ``on_operation`` in reverse order, so errors are
    labelled before internal ones are masked. Outages come last, so they are recognised before either
    (``core.runtime.outage``).
    """
    rules = validation_rules(settings)
    production = settings.mode is Mode.PRODUCTION
    cost = (settings.max_query_cost, settings.max_page_size, known or Known())
    made: list[Extension] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: HardenedValidation(rules, production, settings.max_query_tokens, cost),
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
    """A subclass of ``base`` capping the answer at ``SIKS_MAX_RESPONSE_BYTES``; in production it also leaves
    suggestions out of variable errors."""
    production = settings.mode is Mode.PRODUCTION

    class LimitedExecutionContext(base):  # type: ignore[misc, valid-type]
        max_response_bytes = settings.max_response_bytes

        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            if production:
                kwargs["hide_suggestions"] = True
            return super().build(*args, **kwargs)

    LimitedExecutionContext.__name__ = f"{'Quiet' if production else 'Limited'}{base.__name__}"
    return LimitedExecutionContext
