"""Parsing the JSON text a field app wrote into a package, within limits checked before parsing.

A visit's ``changes`` and a proposal's ``household`` are a few kilobytes nested three or four
deep. Text longer than ``JSON_MAX_CHARACTERS`` or arrays and objects nested more than
``JSON_MAX_DEPTH`` deep are refused before the parser sees them: Python's parser recurses once
per level, and a 100,000-deep array would end the import with a ``RecursionError`` instead of a
refusal naming the row.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.offline.values import ValueProblem

JSON_MAX_DEPTH = 16
JSON_MAX_CHARACTERS = 256 * 1024
#: The characters that open or close a level or a string, and the escape inside strings.
_MARKS = re.compile(r'[\\"\[\]{}]')


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest more than ``limit`` deep; brackets in strings do not count.

    One pass over the text; malformed JSON is left for the parser to refuse.
    """
    depth = 0
    in_string = False
    escaped_at = -1  # the position of the character a backslash escapes
    for mark in _MARKS.finditer(text):
        at, char = mark.start(), mark.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def field_json(value: Any, path: str) -> Any:
    """The parsed JSON of a package cell; ValueProblem naming ``path`` when it is not JSON or too big or deep."""
    if not isinstance(value, str):
        raise ValueProblem(f"{path}: is not JSON text")
    if len(value) > JSON_MAX_CHARACTERS:
        raise ValueProblem(f"{path}: the JSON is longer than {JSON_MAX_CHARACTERS:,} characters")
    if nested_deeper_than(value, JSON_MAX_DEPTH):
        raise ValueProblem(f"{path}: the JSON is nested more than {JSON_MAX_DEPTH} deep")
    try:
        return json.loads(value)
    except ValueError:
        raise ValueProblem(f"{path}: is not valid JSON") from None
