"""The part of a subscription's filter that notifications honour: the region it names.

A subscription's ``filter`` is kept as the integrator sent it (an ``expression``, a ``predicate``
list, or an ``idtype-value``). Notifications are thin (``core.dci.notify``), so of a filter's
conditions only the region ones are applied when events are fanned out: any condition on a region
attribute (``REGION_ATTRIBUTES``) whose value is a Kemendagri code, in either query form, limits the
subscription to households in that region (several codes: any of them). Every other condition is
left to the integrator's follow-up search, which applies it in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.regions.codes import is_region_code

#: Attributes whose value names a region (the DCI social profile's ``location`` / ``district`` and ours).
REGION_ATTRIBUTES = frozenset({"region_code", "region", "location", "district", "village_code"})
_EQUALS = frozenset({"eq", "$eq", "=", "==", "in", "$in", "starts_with", "$startswith", "like"})


def _codes(value: Any) -> Iterator[str]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, str) and is_region_code(item.strip()):
            yield item.strip()


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
        return
    if not isinstance(node, dict):
        return
    name = node.get("attribute_name")
    predicate = isinstance(name, str) and name.lower() in REGION_ATTRIBUTES
    if predicate and str(node.get("operator", "eq")).lower() in _EQUALS:  # predicate form
        yield from _codes(node.get("attribute_value"))
    for key, value in node.items():
        if isinstance(key, str) and key.lower() in REGION_ATTRIBUTES:  # expression form: {"location": {"$eq": ..}}
            if isinstance(value, dict):
                for operator, operand in value.items():
                    if str(operator).lower() in _EQUALS:
                        yield from _codes(operand)
            else:
                yield from _codes(value)
        elif isinstance(value, dict | list):
            yield from _walk(value)


def region_filter(filter_: Any) -> tuple[str, ...] | None:
    """The region codes ``filter_`` (the parsed JSON of a subscription's filter) limits it to, or None."""
    codes = tuple(dict.fromkeys(_walk(filter_)))
    return codes or None
