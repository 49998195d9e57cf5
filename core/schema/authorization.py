"""Who may read which GraphQL type, whatever path leads to it.

Every object type of the schema says which Casbin objects its data belongs to:

- ``@guarded("member")``: reading any field of the type needs ``member, read`` (every object named
  must be readable); ``personal=`` names the fields whose answers count as personal data for the
  read audit (``core.schema.disclosure``), ``household=`` / ``person=`` the record's attributes
  that say whose data it is;
- ``@unguarded``: the type carries no registry data of its own (errors, page info, who am I);
- ``@namespace``: a container (``Query``, ``Programs``) whose fields each lead to a declared type
  or carry their own ``field_reads(...)``.

An interface may be declared ``@checked_per_record``: the fields returning it (``node``, ``nodes``) check each
record's type against its Casbin objects while resolving and answer null for a type the caller may not read, so
selecting the interface's own fields (``id``) needs no object up front; a fragment on an implementing type
(``... on Household``) is checked like any selection of that type.

A field may add objects of its own with ``strawberry.field(metadata=field_reads("member"))``.
A schema with an undeclared type, or a namespace field that is neither, does not start.

Before any resolver runs, ``ReadAuthorization`` walks the operation (fragments and inline
fragments included, so a union member or a fragment counts like a direct selection) and refuses
the whole request when it selects a field the caller's role may not read: ``data`` is null and
one error per object refused carries ``extensions.code = FORBIDDEN`` and the refused fields.
Casbin is asked once per object and request, never per record, so the planned fast path of
``core.schema.execution`` needs no check of its own. Region scope stays where it was: in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_introspection_type,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core.schema.access import Forbidden, allowed
from core.schema.context import Context

T = TypeVar("T")
READ = "read"
GUARD_ATTRIBUTE = "__siks_guard__"
PER_RECORD_ATTRIBUTE = "__siks_checked_per_record__"
FIELD_KEY = "siks_reads"


@dataclass(frozen=True, slots=True)
class Guard:
    """What reading a GraphQL object type needs, and which of its fields are personal data."""

    objects: tuple[str, ...] = ()
    namespace: bool = False
    personal: frozenset[str] = frozenset()  # Python names of the fields that make a read personal
    household: str | None = None  # attribute of the record holding its household id (or ids)
    person: str | None = None  # attribute of the record identifying the person


def guarded(
    *objects: str, personal: tuple[str, ...] = (), household: str | None = None, person: str | None = None
) -> Callable[[T], T]:
    """Declare the Casbin objects a type's data belongs to (all must be readable to select its fields)."""
    if not objects:
        raise ValueError("guarded() needs at least one Casbin object; use @unguarded for types without data")
    if personal and household is None and person is None:
        raise ValueError("a type with personal fields must say whose data it is (household= or person=)")

    def mark(cls: T) -> T:
        setattr(cls, GUARD_ATTRIBUTE, Guard(tuple(objects), False, frozenset(personal), household, person))
        return cls

    return mark


def unguarded(cls: T) -> T:
    """Declare that a type carries no registry data of its own (errors, page info, the caller)."""
    setattr(cls, GUARD_ATTRIBUTE, Guard())
    return cls


def namespace(cls: T) -> T:
    """Declare a container type: each field leads to a declared type or carries ``field_reads``."""
    setattr(cls, GUARD_ATTRIBUTE, Guard(namespace=True))
    return cls


def checked_per_record(cls: T) -> T:
    """Declare an interface whose fields check each record's type while resolving (``core.schema.nodes``)."""
    setattr(cls, PER_RECORD_ATTRIBUTE, True)
    return cls


def _per_record(named: GraphQLNamedType) -> bool:
    definition = named.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if named.extensions else None
    return bool(getattr(getattr(definition, "origin", None), PER_RECORD_ATTRIBUTE, False))


def field_reads(*objects: str) -> dict[str, tuple[str, ...]]:
    """``metadata`` for a strawberry field whose answer needs these Casbin objects besides its type's."""
    return {FIELD_KEY: tuple(objects)}


def guard_of(object_type: GraphQLObjectType) -> Guard | None:
    """The declaration of a strawberry object type, or None (introspection, undeclared, not strawberry)."""
    definition = object_type.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    origin = getattr(definition, "origin", None)
    guard = getattr(origin, GUARD_ATTRIBUTE, None)
    return guard if isinstance(guard, Guard) else None


class UndeclaredType(Exception):
    """A type or field of the schema says nothing about who may read it: the server does not start."""


@dataclass(frozen=True)
class ReadRules:
    """For every object type: the objects its fields need; for some fields: objects of their own."""

    types: dict[str, tuple[str, ...]]
    fields: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def needs(self, type_name: str, field_name: str) -> tuple[str, ...]:
        own = self.fields.get((type_name, field_name))
        return self.types[type_name] + own if own else self.types[type_name]


@lru_cache(maxsize=16)
def rules_of(schema: GraphQLSchema) -> ReadRules:
    """The read rules of a schema built from declared types; UndeclaredType names what is missing."""
    types: dict[str, tuple[str, ...]] = {}
    fields: dict[tuple[str, str], tuple[str, ...]] = {}
    problems: list[str] = []
    for name, named in sorted(schema.type_map.items()):
        if not isinstance(named, GraphQLObjectType) or is_introspection_type(named):
            continue
        guard = guard_of(named)
        if guard is None:
            problems.append(f"type {name} declares no Casbin object (@guarded(...), @unguarded or @namespace)")
            continue
        types[name] = guard.objects
        for field_name, graphql_field in named.fields.items():
            definition = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            own = tuple((getattr(definition, "metadata", None) or {}).get(FIELD_KEY, ()))
            if own:
                fields[(name, field_name)] = own
            elif guard.namespace and not isinstance(
                get_named_type(graphql_field.type), GraphQLObjectType | GraphQLUnionType | GraphQLInterfaceType
            ):
                problems.append(f"field {name}.{field_name} of a namespace needs metadata=field_reads(...)")
    if problems:
        raise UndeclaredType("; ".join(problems))
    return ReadRules(types, fields)


@dataclass
class Refusal:
    """The fields of one request that need an object the caller's role may not read."""

    obj: str
    fields: list[str] = field(default_factory=list)
    nodes: list[FieldNode] = field(default_factory=list)


def refusals(
    schema: GraphQLSchema,
    rules: ReadRules,
    document: DocumentNode,
    operation_name: str | None,
    may_read: Callable[[str], bool],
) -> list[Refusal]:
    """Every object the operation would read that ``may_read`` refuses, with the fields that need it."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []  # execution reports the missing or ambiguous operation itself
    root = schema.get_root_type(operation.operation)
    if root is None:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found: dict[str, Refusal] = {}
    seen: set[tuple[int, str, frozenset[str] | None]] = set()

    def walk(selection_set: SelectionSetNode, parent: GraphQLNamedType, possible: frozenset[str] | None) -> None:
        key = (id(selection_set), parent.name, possible)
        if key in seen:
            return  # a fragment spread twice under one type is checked once
        seen.add(key)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                visit(selection, parent, possible)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                walk(selection.selection_set, target or parent, _narrowed(schema, possible, parent, target))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                target = schema.get_type(fragment.type_condition.name.value) if fragment else None
                if fragment is not None and target is not None:
                    walk(fragment.selection_set, target, _narrowed(schema, possible, parent, target))

    def visit(node: FieldNode, parent: GraphQLNamedType, possible: frozenset[str] | None) -> None:
        name = node.name.value
        if name.startswith("__"):
            return  # __typename, and the schema's own description (introspection)
        per_record = isinstance(parent, GraphQLInterfaceType) and _per_record(parent)
        for owner in _object_types(schema, parent):
            graphql_field = owner.fields.get(name)
            if graphql_field is None or (possible is not None and owner.name not in possible):
                continue
            for obj in () if per_record else rules.needs(owner.name, name):
                if not may_read(obj):
                    refusal = found.setdefault(obj, Refusal(obj))
                    label = f"{owner.name}.{name}"
                    if label not in refusal.fields:
                        refusal.fields.append(label)
                    refusal.nodes.append(node)
            if node.selection_set is not None:
                walk(node.selection_set, get_named_type(graphql_field.type), None)

    walk(operation.selection_set, root, None)
    return list(found.values())


def _narrowed(
    schema: GraphQLSchema,
    possible: frozenset[str] | None,
    parent: GraphQLNamedType,
    target: GraphQLNamedType | None,
) -> frozenset[str] | None:
    """The object types a fragment on ``target`` can meet under ``parent``: ``... on Error`` inside a union reads
    the union's members that implement Error, not every implementation in the schema."""
    if target is None:
        return possible
    names = frozenset(t.name for t in _object_types(schema, parent))
    if possible is not None:
        names &= possible
    return names & frozenset(t.name for t in _object_types(schema, target))


def _object_types(schema: GraphQLSchema, parent: GraphQLNamedType) -> list[GraphQLObjectType]:
    """The object types a selection on ``parent`` may read (an interface: every implementation)."""
    if isinstance(parent, GraphQLObjectType):
        return [parent]
    if isinstance(parent, GraphQLInterfaceType | GraphQLUnionType):
        return list(schema.get_possible_types(parent))
    return []


class ReadAuthorization(SchemaExtension):
    """Refuses, before execution, a request that selects a field its caller's role may not read (synchronous, so
    it also holds for ``execute_sync``). ``core.schema.disclosure.ReadAudit`` audits a refused mutation."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if execution.graphql_document is not None and isinstance(context, Context):
            schema = execution.schema._schema
            decisions: dict[str, bool] = {}

            def may_read(obj: str) -> bool:
                if obj not in decisions:
                    decisions[obj] = allowed(context, obj, READ)
                return decisions[obj]

            refused = refusals(schema, rules_of(schema), execution.graphql_document, execution.operation_name, may_read)
            if refused:
                errors = [forbidden_error(context, refusal) for refusal in refused]
                execution.result = ExecutionResult(data=None, errors=errors)
        yield


def refused_fields(errors: Iterable[GraphQLError]) -> list[str]:
    """What the read check refused, from an answer's errors ("may not read member (Member.nik)"); [] if nothing."""
    return [
        f"may not read {error.message.rsplit(' ', 1)[-1]} ({', '.join(error.extensions['fields'])})"
        for error in errors
        if error.path is None and (error.extensions or {}).get("code") == "FORBIDDEN" and "fields" in error.extensions
    ]


def forbidden_error(context: Any, refusal: Refusal) -> GraphQLError:
    """FORBIDDEN, in the words resolvers use, with the refused fields (the document's, never data)."""
    error = Forbidden(context.principal, refusal.obj, READ, nodes=refusal.nodes)
    error.extensions = {**(error.extensions or {}), "fields": refusal.fields}
    return error
