"""Opaque global ids (Relay style) in the API: base64 of ``Type:key`` (``core.foundation.ids.encode_global``).

Every object type with an id answers its id, and every field naming another entity's id
(``householdId``, ``roundId`` ...), as a global id, so any id can be passed back to a mutation or
to ``node(id)``. Arguments taking an entity id accept the global id of that type and, for the
deprecation period of the published contract, the old raw whole-number id
(docs/api-contract.md); a global id of another type, or text that is neither, is refused naming
the argument.

The fields are plain for ``core.schema.execution``: their metadata says which attribute they read
and how it is converted, so a page of households keeps its compiled plan.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from core.foundation.ids import decode_global as decode
from core.foundation.ids import encode_global as encode
from core.foundation.ids import id_from_text
from core.schema.errors import ValidationError

#: ``metadata`` key of a field that is a pure function of one attribute: (attribute, convert).
PLAIN_KEY = "siks_plain"


class InvalidId(GraphQLError):
    """An id argument that is not an id of the expected type (``BAD_USER_INPUT``, naming the argument); a mutation
    whose result can be a ValidationError answers one instead (``IdRefusals``)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}", extensions={"code": "BAD_USER_INPUT", "argument": argument})
        self.argument = argument
        self.reason = message


def parse_global(value: object, argument: str, type_name: str | None) -> int:
    """The row id in ``value``: a global id of ``type_name`` or (deprecated) the raw whole number; InvalidId naming
    ``argument`` otherwise. Without ``type_name`` only the raw whole number is taken."""
    text = str(value)
    number = id_from_text(text)
    if number is not None:
        return number  # the legacy raw id, accepted during the deprecation period
    if type_name is None:
        raise InvalidId(argument, f"{text[:40]!r} is not a whole-number id")
    found = decode(text)
    if found is None:
        raise InvalidId(argument, f"{text[:40]!r} is not an id returned by this API")
    kind, key = found
    if kind != type_name:
        raise InvalidId(argument, f"expected the id of a {type_name}, got the id of a {kind}")
    number = id_from_text(key)
    if number is None:
        raise InvalidId(argument, f"{text[:40]!r} is not an id returned by this API")
    return number


class IdRefusals(FieldExtension):
    """On a mutation whose result can be a ValidationError: an id argument refused (``InvalidId``) answers that
    ValidationError, naming the argument, like any other refused input; nothing was changed."""

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except InvalidId as refused:
            return ValidationError.single(refused.argument, refused.reason)


def refuse_ids_as_validation_errors(mutation: type) -> None:
    """Give every field of ``mutation`` whose result union holds ValidationError the ``IdRefusals`` extension."""
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        members = getattr(field.type, "types", ())
        if ValidationError in members and not any(isinstance(e, IdRefusals) for e in field.extensions):
            field.extensions.append(IdRefusals())


def _converter(type_name: str) -> Callable[[Any], str | None]:
    def convert(key: Any) -> str | None:
        return None if key is None else encode(type_name, key)

    return convert


def _list_converter(type_name: str) -> Callable[[Any], list[str] | None]:
    def convert(keys: Any) -> list[str] | None:
        return None if keys is None else [encode(type_name, key) for key in keys]

    return convert


def global_id(type_name: str, attribute: str = "id", *, required: bool = True, description: str | None = None) -> Any:
    """A field answering the global id of the ``type_name`` record whose key is the source's ``attribute``
    (``required=False``: null when the attribute is)."""
    return _field(_converter(type_name), attribute, strawberry.ID if required else strawberry.ID | None, description)


def global_ids(type_name: str, attribute: str, description: str | None = None) -> Any:
    """A field answering the global ids of the ``type_name`` records whose keys are the source's ``attribute``."""
    return _field(_list_converter(type_name), attribute, list[strawberry.ID], description)


def _field(convert: Callable[[Any], Any], attribute: str, answer: Any, description: str | None) -> Any:
    def resolve(root: Any) -> Any:
        return convert(getattr(root, attribute))

    resolve.__annotations__ = {"root": Any, "return": answer}
    return strawberry.field(resolver=resolve, description=description, metadata={PLAIN_KEY: (attribute, convert)})
