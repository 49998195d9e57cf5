"""Which characters a stored text may hold: one check for every way text arrives.

Every text the registry keeps must be storable in both databases (PostgreSQL text cannot hold NUL)
and writable to every file it exports (XML 1.0, so XLSX, cannot hold most control characters,
lone surrogates or U+FFFE/U+FFFF). A *line* of text (a name, an address, a code) is stricter: no
line breaks or tabs, and no Unicode direction overrides, which make a name display as another.
"""

from __future__ import annotations

import re

# C0 controls but tab and line breaks, DEL and C1 controls, lone surrogates, the two non-characters.
_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
# Tab, line breaks (also U+2028/2029), and the direction embeddings, overrides and isolates.
_NOT_IN_A_LINE = "\t\n\r\u2028\u2029\u202a-\u202e\u2066-\u2069"
_REFUSED_IN_TEXT = re.compile(f"[{_NEVER}]")
_REFUSED_IN_A_LINE = re.compile(f"[{_NEVER}{_NOT_IN_A_LINE}]")


def _described(character: str) -> str:
    return f"the control character U+{ord(character):04X}"


def line_problem(text: str) -> str | None:
    """What makes ``text`` unfit for a one-line field (a name, an address), or None.

    The answer names the first refused character by its code point, never the text itself.
    """
    found = _REFUSED_IN_A_LINE.search(text)
    return None if found is None else f"holds {_described(found.group())}; only one line of printable text is taken"


def text_problem(text: str) -> str | None:
    """What makes a free text (a note; line breaks and tabs allowed) unstorable, or None."""
    found = _REFUSED_IN_TEXT.search(text)
    return None if found is None else f"holds {_described(found.group())}, which cannot be stored"
