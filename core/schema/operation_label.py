"""The label a GraphQL request is counted under in ``/metrics``: its operation type and first root field.

``query:households``, ``mutation:updateHousehold``: the root field is one of the schema's own fields
(a field the schema does not have, or a document that did not parse, is ``query:invalid``), never the
client's operation name or aliases, so the labels stay as few as the schema's root fields. The
outcome is the first error's ``extensions.code``, or none when the operation answered without errors.
Both are noted in the request's ASGI state, which ``core.http.observe`` reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, OperationType
from strawberry.extensions import SchemaExtension

OPERATION_KEY = "siks_operation"
OUTCOME_KEY = "siks_outcome"
INVALID = "invalid"


def _root_field(document: Any, operation_name: str | None) -> str | None:
    for definition in getattr(document, "definitions", ()):
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and (definition.name is None or definition.name.value != operation_name):
            continue
        for selection in definition.selection_set.selections:
            if isinstance(selection, FieldNode):
                return selection.name.value
        return None
    return None


def operation_label(execution_context: Any) -> str:
    """``<type>:<root field>`` for a field the schema's root type has, else ``<type>:invalid``."""
    try:
        kind = execution_context.operation_type.value
    except Exception:  # the document did not parse, or names no operation
        return f"query:{INVALID}"
    schema = execution_context.schema._schema
    root = schema.get_root_type(OperationType(kind))
    field = _root_field(execution_context.graphql_document, execution_context.operation_name)
    if root is None or field is None or field not in root.fields:
        return f"{kind}:{INVALID}"
    return f"{kind}:{field}"


class OperationLabel(SchemaExtension):
    """Notes the request's operation label and outcome code for the request metrics."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        request = getattr(context, "request", None)
        if request is None:
            return
        state = request.scope.setdefault("state", {})
        state[OPERATION_KEY] = operation_label(self.execution_context)
        errors = getattr(self.execution_context.result, "errors", None) or ()
        codes = [(error.extensions or {}).get("code") for error in errors]
        state[OUTCOME_KEY] = next((str(code) for code in codes if code), "ERROR" if errors else None)
