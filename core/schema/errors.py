"""Expected business errors, returned as members of a mutation's result union.

Every typed error implements ``interface Error { message: String! code: ErrorCode! }``, so a client
can select ``... on Error { message code }`` once for all of a result's errors (core's and plugins').
"""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, default_field_resolver

from core.foundation.refusals import Conflict, Invalid, Missing
from core.foundation.refusals import FieldError as FieldErrorData
from core.foundation.wording import say
from core.schema.authorization import unguarded


@strawberry.enum(description="What kind of typed error a result is (Error.code).")
class ErrorCode(Enum):
    VALIDATION_FAILED = "VALIDATION_FAILED"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    NOT_FOUND = "NOT_FOUND"
    STEP_REFUSED = "STEP_REFUSED"
    CYCLE_REFUSED = "CYCLE_REFUSED"
    LOGIN_FAILED = "LOGIN_FAILED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    GRIEVANCE_REFUSED = "GRIEVANCE_REFUSED"


@strawberry.interface(description="A typed error: nothing was changed, and message says why in one sentence.")
class Error:
    message: str
    code: ErrorCode


def coded(code: ErrorCode) -> Any:
    """The ``code`` field of an error type: always ``code``."""

    def resolve() -> ErrorCode:
        return code

    return strawberry.field(resolver=resolve, description=f"Always {code.name} for this type.")


@unguarded
@strawberry.type(description="One thing wrong with the input.")
class FieldError:
    field: str = strawberry.field(description="Dotted path of the input field, e.g. members.1.nik.")
    message: str


@unguarded
@strawberry.type(description="The input broke a rule; nothing was changed.")
class ValidationError(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.VALIDATION_FAILED)
    fields: list[FieldError]

    @classmethod
    def of(cls, invalid: Invalid) -> ValidationError:
        return cls(
            message=f"{len(invalid.errors)} problem(s) with the input; nothing was changed",
            fields=[FieldError(field=e.field, message=e.message) for e in invalid.errors],
        )

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls.of(Invalid([FieldErrorData(field, message)]))


@unguarded
@strawberry.type(description="The record changed since you read it; read it again and reapply your change.")
class VersionConflict(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.VERSION_CONFLICT)
    current_version: int

    @classmethod
    def of(cls, conflict: Conflict) -> VersionConflict:
        return cls(
            message=f"the {conflict.entity} is now at version {conflict.current_version}; read it again and retry",
            current_version=conflict.current_version,
        )


@unguarded
@strawberry.type(description="No record with that id (or none you may see).")
class NotFound(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.NOT_FOUND)

    @classmethod
    def of(cls, missing: Missing) -> NotFound:
        return cls(message=f"no active {missing.entity} with id {missing.key}")


@unguarded
@strawberry.type(description="The step cannot be taken in the proposal's present state; nothing was changed.")
class StepRefused(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.STEP_REFUSED)


def said_in_the_callers_language(schema: GraphQLSchema) -> None:
    """The ``message`` of every typed error (core's and plugins') and of ``FieldError`` answers in the request's
    language (``core.foundation.wording``); only these fields are wrapped, every other field resolves as built."""
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        if graphql_type.name == "FieldError" or any(i.name == "Error" for i in graphql_type.interfaces):
            field = graphql_type.fields.get("message")
            if field is not None:
                _say_field(field)


def _say_field(field: GraphQLField) -> None:
    resolve = field.resolve or default_field_resolver

    async def said_later(pending: Any) -> Any:
        value = await pending
        return say(value) if isinstance(value, str) else value

    def said(source: Any, info: Any, **arguments: Any) -> Any:
        value = resolve(source, info, **arguments)
        if inspect.isawaitable(value):
            return said_later(value)
        return say(value) if isinstance(value, str) else value

    field.resolve = said
