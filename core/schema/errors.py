"""Expected business errors, returned as members of a mutation's result union."""

from __future__ import annotations

import strawberry

from core.foundation.refusals import Conflict, Invalid, Missing
from core.foundation.refusals import FieldError as FieldErrorData
from core.schema.authorization import unguarded


@unguarded
@strawberry.type(description="One thing wrong with the input.")
class FieldError:
    field: str = strawberry.field(description="Dotted path of the input field, e.g. members.1.nik.")
    message: str


@unguarded
@strawberry.type(description="The input broke a rule; nothing was changed.")
class ValidationError:
    message: str
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
class VersionConflict:
    message: str
    current_version: int

    @classmethod
    def of(cls, conflict: Conflict) -> VersionConflict:
        return cls(
            message=f"the {conflict.entity} is now at version {conflict.current_version}; read it again and retry",
            current_version=conflict.current_version,
        )


@unguarded
@strawberry.type(description="No record with that id (or none you may see).")
class NotFound:
    message: str

    @classmethod
    def of(cls, missing: Missing) -> NotFound:
        return cls(message=f"no active {missing.entity} with id {missing.key}")


@unguarded
@strawberry.type(description="The step cannot be taken in the proposal's present state; nothing was changed.")
class StepRefused:
    message: str
