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
producing the ordinary errors. A field whose metadata declares it a pure function of one attribute
(``core.schema.global_ids``: global ids) is planned as that attribute, converted. Other fields with
resolvers, unions, interfaces, ``@defer`` and field arguments are never planned. Plain fields
bypass field middleware, which SIKS does not use.

Both ways, every completed object, list and leaf is counted against the operation's ``Budget``
(``core/schema/limits.py``): the answer's size and the request's deadline. A stop is raised
through graphql-core's field error handling, which would otherwise turn it into a null for that
one field and go on with the next. A list longer than ``TURN_ITEMS`` is completed in turns,
giving the event loop back between them: completing thousands of objects is otherwise one
synchronous stretch during which no other request of the process is answered.

Both ways note the records whose selected fields are personal data (``core.schema.disclosure``),
so the read audit sees what the answer returns. Who may read a type is settled before execution
(``core.schema.authorization``), so neither way checks it per record.
"""

from __future__ import annotations

import asyncio
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
from graphql.pyutils import Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core.runtime.deadline import current_deadline
from core.schema.disclosure import Recorder, recorder
from core.schema.global_ids import PLAIN_KEY
from core.schema.limits import VALUE_BYTES, Budget, ExecutionStopped, leaf_bytes

#: List items completed between two turns of the event loop, so other requests are served during a long list.
TURN_ITEMS = 100

Converter = Callable[[Any], Any]
Spend = Callable[[int], None]
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


def _then(first: Converter, second: Converter) -> Converter:
    def convert(value: Any) -> Any:
        return second(first(value))

    return convert


def _list(item: Converter, spend: Spend) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
            raise _GiveUp
        items = [item(element) for element in value]
        spend(VALUE_BYTES + len(items) + sum(len(element) for element in items if type(element) is str))
        return items

    return convert


def _key_bytes(response_names: Any) -> int:
    """Bytes an object's keys take in the answer with their values' punctuation (strings add their length)."""
    return 2 + sum(len(name) + VALUE_BYTES for name in response_names)


class PlanningExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, completing plain objects through compiled plans, within a budget."""

    #: The largest answer in bytes (None: no cap); set per schema by ``core.schema.hardening.execution_context``.
    max_response_bytes: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Any, int]] = {}
        self._recorders: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Recorder | None]] = {}
        self.budget = Budget(self.max_response_bytes, current_deadline())
        self._asynchronous = False  # set once a resolver's awaitable is awaited: only then may a list take turns

    def handle_field_error(
        self, raw_error: Exception, return_type: Any, field_details_list: FieldDetailsList, path: Any
    ) -> None:
        if isinstance(raw_error, ExecutionStopped):
            raise raw_error  # stops the operation, not just this field
        super().handle_field_error(raw_error, return_type, field_details_list, path)

    def complete_leaf_value(self, return_type: Any, result: Any) -> Any:  # type: ignore[override]
        completed = super().complete_leaf_value(return_type, result)
        self.budget.spend(leaf_bytes(completed))
        return completed

    def complete_list_value(
        self,
        return_type: Any,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        self.budget.spend(VALUE_BYTES)
        if (
            self._asynchronous
            and isinstance(result, list)
            and len(result) > TURN_ITEMS
            and not self.get_stream_usage(field_details_list, path)
        ):
            item_type = return_type.of_type
            return self._complete_in_turns(item_type, field_details_list, info, path, result, position_context)
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    async def complete_awaitable_value(self, *args: Any) -> Any:
        self._asynchronous = True
        return await super().complete_awaitable_value(*args)

    async def _complete_in_turns(
        self,
        item_type: Any,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Any,
        items: list[Any],
        position_context: Any,
    ) -> list[Any]:
        """graphql-core's completion of a list, ``TURN_ITEMS`` items at a time: the asynchronous work of one turn
        (its resolvers, their loaders' batches) is awaited before the next turn starts, and the event loop runs
        other requests in between. All items at once would put thousands of tasks in the loop's queue at the same
        moment, and every other request would wait for all of them."""
        completed: list[Any] = []
        for start in range(0, len(items), TURN_ITEMS):
            pending: list[int] = []
            try:
                for index in range(start, min(start + TURN_ITEMS, len(items))):
                    item, item_path = items[index], path.add_key(index, None)
                    if self.is_awaitable(item):
                        completed.append(
                            self.complete_awaitable_list_item_value(
                                item, item_type, field_details_list, info, item_path, position_context
                            )
                        )
                        pending.append(index)
                    elif self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, position_context
                    ):
                        pending.append(index)
            except Exception:
                self.settle_in_background([completed[index] for index in pending])
                raise
            if pending:
                results = await gather_with_cancel(*(completed[index] for index in pending))
                for index, value in zip(pending, results, strict=True):
                    completed[index] = value
            else:
                await asyncio.sleep(0)
        return completed

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan, key_bytes = self._plan(return_type, field_details_list)
        if plan is not _NOT_PLAIN:
            try:
                return plan(result)
            except _GiveUp:
                pass
        self.budget.spend(key_bytes)
        note = self._recorder(return_type, field_details_list)
        if note is not None:
            note(result)
        return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

    def _plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> tuple[Any, int]:
        """The object's plan (or ``_NOT_PLAIN``) and the bytes its keys take in the answer."""
        key = (object_type, id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(object_type, field_details_list)
            key_bytes = _key_bytes(grouped_field_set)
            note = self._recorder(object_type, field_details_list)
            plan = _NOT_PLAIN if new_defer_usages else self._compile(object_type, grouped_field_set, key_bytes, note)
            cached = (field_details_list, plan, key_bytes)
            self._plans[key] = cached  # the list is kept alive so its id is not reused
        return cached[1], cached[2]

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

    def _compile(
        self, object_type: GraphQLObjectType, grouped_field_set: Any, key_bytes: int, note: Recorder | None
    ) -> Any:
        entries: list[tuple[str, str | None, Any]] = []
        for response_name, field_group in grouped_field_set.items():
            node = field_group[0].node
            name = node.name.value
            if name == "__typename":
                entries.append((response_name, None, object_type.name))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or node.arguments:
                return _NOT_PLAIN
            definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            plain = (getattr(definition, "metadata", None) or {}).get(PLAIN_KEY)
            convert = self._converter(field_def.type, field_group)
            if convert is None:
                return _NOT_PLAIN
            if plain is not None:  # a pure function of one attribute (a global id): read it, convert, serialise
                attribute, to_value = plain
                entries.append((response_name, attribute, _then(to_value, convert)))
                continue
            if not getattr(field_def.resolve, "_is_default", False) or definition is None:
                return _NOT_PLAIN
            if not definition.is_basic_field:
                return _NOT_PLAIN
            entries.append((response_name, definition.python_name, convert))
        is_type_of = object_type.is_type_of
        spend = self.budget.spend

        def plan(source: Any) -> dict[str, Any]:
            if is_type_of is not None and is_type_of(source, None) is not True:
                raise _GiveUp
            if note is not None:
                note(source)
            out: dict[str, Any] = {}
            size = key_bytes
            for response_name, attribute, convert in entries:
                value = convert if attribute is None else convert(getattr(source, attribute))
                out[response_name] = value
                if type(value) is str:
                    size += len(value)
            spend(size)
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
            return _list(item, self.budget.spend) if item is not None else None
        if isinstance(output_type, GraphQLObjectType):
            sub_plan, _keys = self._plan(output_type, field_group)
            return None if sub_plan is _NOT_PLAIN else sub_plan
        return None  # unions and interfaces resolve their type at run time
