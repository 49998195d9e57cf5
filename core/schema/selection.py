"""What a query asks for below the current field, so related rows are fetched up front."""

from __future__ import annotations

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info


def selected_paths(strawberry_info: Info) -> frozenset[str]:
    """Dotted field names selected under the current field (``edges.node.members``), fragments followed."""
    info = strawberry_info._raw_info
    found: set[str] = set()

    def walk(selection_set: SelectionSetNode | None, prefix: str) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                path = f"{prefix}{selection.name.value}"
                found.add(path)
                walk(selection.selection_set, path + ".")
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, prefix)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = info.fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, prefix)

    for node in info.field_nodes:
        walk(node.selection_set, "")
    return frozenset(found)
