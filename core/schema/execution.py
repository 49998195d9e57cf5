"""A faster execution of plain sub-trees, with graphql-core's semantics.

graphql-core spends a few microseconds on every field it resolves (an info object, a resolver
call, value completion), which dominates a page of 1,000 households with their members. Most
of those fields are *plain*: strawberry fields with no resolver, arguments or extensions, whose
value is an attribute of the record. For an object whose whole selection is plain (recursively),
this context compiles the selection once per request into a small plan that reads attributes and
serialises leaves directly.

The plan is only an optimisation: whenever it meets something it does not handle exactly like
graphql-core would (a null in a non-null position, a value a scalar refuses, an object that
fails ``is_type_of``), it gives up on that object and graphql-core completes it the ordinary way,
producing the ordinary errors. Fields with resolvers, unions, interfaces, ``@defer`` and field
arguments are never planned. Plain fields bypass field middleware, which SIKS does not use.

Both ways note the records whose selected fields are personal data (``core.schema.disclosure``),
so the read audit sees what the answer returns. Who may read a type is settled before execution
(``core.schema.authorization``), so neither way checks it per record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core.schema.disclosure import Recorder, recorder

Converter = Callable[[Any], Any]
_NOT_PLAIN = object()


class _GiveUp(Exception):
    """The plan met a value it does not complete exactly as graphql-core would."""


def _serialized(serialize: Callable[[Any], Any]) -> Converter:
    def convert(value: Any) -> Any:
        try:
            result = serialize(value)
        except Exception as exc:
            raise _GiveUp from exc
        if result is None or result is Undefined:
            raise _GiveUp
        return result

    return convert


def _leaf(output_type: GraphQLScalarType | GraphQLEnumType) -> Converter:
    """A leaf converter: the value itself where graphql-core would return it unchanged, else serialize()."""
    slow = _serialized(output_type.serialize)
    if isinstance(output_type, GraphQLEnumType):
        names = {value.value: name for name, value in output_type.values.items()}

        def enum_name(value: Any) -> Any:
            try:
                return names[value]
            except (KeyError, TypeError):
                return slow(value)

        return enum_name
    if output_type is GraphQLString:
        return lambda value: value if type(value) is str else slow(value)
    if output_type is GraphQLBoolean:
        return lambda value: value if type(value) is bool else slow(value)
    if output_type is GraphQLInt:
        return lambda value: value if type(value) is int and _INT_MIN <= value <= _INT_MAX else slow(value)
    if output_type is GraphQLFloat:
        return lambda value: value if type(value) is float and math.isfinite(value) else slow(value)
    return slow


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _nullable(inner: Converter) -> Converter:
    def convert(value: Any) -> Any:
        return None if value is None else inner(value)

    return convert


def _required(inner: Converter) -> Converter:
    def convert(value: Any) -> Any:
        if value is None:
            raise _GiveUp
        return inner(value)

    return convert


def _list(item: Converter) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
            raise _GiveUp
        return [item(element) for element in value]

    return convert


class PlanningExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, completing plain objects through compiled plans."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Any]] = {}
        self._recorders: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Recorder | None]] = {}

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        if plan is not _NOT_PLAIN:
            try:
                return plan(result)
            except _GiveUp:
                pass
        note = self._recorder(return_type, field_details_list)
        if note is not None:
            note(result)
        return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

    def _plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Any:
        key = (object_type, id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            cached = (field_details_list, self._compile(object_type, field_details_list))
            self._plans[key] = cached  # the list is kept alive so its id is not reused
        return cached[1]

    def _recorder(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Recorder | None:
        """Notes records of this type for the read audit when the selection holds personal fields; else None."""
        key = (object_type, id(field_details_list))
        cached = self._recorders.get(key)
        if cached is None:
            disclosure = getattr(self.context_value, "disclosure", None)
            note = None
            if disclosure is not None:
                grouped = self.collect_subfields(object_type, field_details_list)[0]
                names = [self._python_name(object_type, group[0].node.name.value) for group in grouped.values()]
                note = recorder(disclosure, object_type, [name for name in names if name is not None])
            cached = (field_details_list, note)
            self._recorders[key] = cached
        return cached[1]

    @staticmethod
    def _python_name(object_type: GraphQLObjectType, name: str) -> str | None:
        field_def = object_type.fields.get(name)
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field_def else None
        return getattr(definition, "python_name", None)

    def _compile(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Any:
        grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return _NOT_PLAIN
        entries: list[tuple[str, str | None, Any]] = []
        for response_name, field_group in grouped_field_set.items():
            node = field_group[0].node
            name = node.name.value
            if name == "__typename":
                entries.append((response_name, None, object_type.name))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or node.arguments or not getattr(field_def.resolve, "_is_default", False):
                return _NOT_PLAIN
            definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if definition is None or not definition.is_basic_field:
                return _NOT_PLAIN
            convert = self._converter(field_def.type, field_group)
            if convert is None:
                return _NOT_PLAIN
            entries.append((response_name, definition.python_name, convert))
        is_type_of = object_type.is_type_of
        note = self._recorder(object_type, field_details_list)

        def plan(source: Any) -> dict[str, Any]:
            if is_type_of is not None and is_type_of(source, None) is not True:
                raise _GiveUp
            if note is not None:
                note(source)
            out: dict[str, Any] = {}
            for response_name, attribute, convert in entries:
                if attribute is None:
                    out[response_name] = convert
                else:
                    out[response_name] = convert(getattr(source, attribute))
            return out

        return plan

    def _converter(self, output_type: GraphQLOutputType, field_group: FieldDetailsList) -> Converter | None:
        if isinstance(output_type, GraphQLNonNull):
            inner = self._converter_of(output_type.of_type, field_group)
            return _required(inner) if inner is not None else None
        inner = self._converter_of(output_type, field_group)
        return _nullable(inner) if inner is not None else None

    def _converter_of(self, output_type: GraphQLOutputType, field_group: FieldDetailsList) -> Converter | None:
        if isinstance(output_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(output_type)
        if isinstance(output_type, GraphQLList):
            item = self._converter(output_type.of_type, field_group)
            return _list(item) if item is not None else None
        if isinstance(output_type, GraphQLObjectType):
            sub_plan = self._plan(output_type, field_group)
            return None if sub_plan is _NOT_PLAIN else sub_plan
        return None  # unions and interfaces resolve their type at run time
