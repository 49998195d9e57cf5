"""Fields a request may carry once: each is one attempt (a login, a refresh, a look-up).

Throttles count requests and attempts; twenty aliases of ``login`` in one document would be twenty
password guesses for the price of one request. So a document that asks for such a field more than
once (by aliases, repeated fields or fragments, in any of its operations) is refused at validation,
before anything runs. Every field node counts, so the count bounds what execution could run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationContext, ValidationRule


def once_per_document(type_name: str, fields: dict[str, str]) -> type[ValidationRule]:
    """A rule refusing documents asking for any of ``fields`` of ``type_name`` more than once.

    ``fields`` maps each field name to what one request may do with it, e.g. ``{"login": "log in once"}``.
    """

    class OncePerDocument(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.seen: Counter[str] = Counter()
            self.second: dict[str, FieldNode] = {}

        def enter_field(self, node: FieldNode, *_args: Any) -> None:
            parent = self.context.get_parent_type()
            name = node.name.value
            if parent is None or parent.name != type_name or name not in fields:
                return
            self.seen[name] += 1
            if self.seen[name] == 2:
                self.second[name] = node

        def leave_document(self, *_args: Any) -> None:
            for name, node in self.second.items():
                self.report_error(
                    GraphQLError(
                        f"the document asks for {name} {self.seen[name]} times; a request may {fields[name]}: "
                        f"send one {name} field per request",
                        node,
                    )
                )

    OncePerDocument.__name__ = f"Once{type_name}Fields"
    return OncePerDocument
