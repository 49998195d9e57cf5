"""Names as the public types them and as the public may see them."""

from __future__ import annotations

MIN_NAME_LENGTH = 3
MAX_NAME_LENGTH = 120
VISIBLE_LETTERS = 2


def normalise_name(name: str) -> str:
    """Case and spacing folded: ``'  siti   Aminah '`` and ``'SITI AMINAH'`` compare equal."""
    return " ".join(name.split()).casefold()


def search_key(name: str) -> str:
    """The name without spaces, upper-cased (ASCII), as the database compares it."""
    return "".join(name.split()).upper()


def mask_name(name: str) -> str:
    """The first two letters of every word, the rest as stars: ``'Siti Rosida'`` → ``'SI** RO****'``."""
    return " ".join(word[:VISIBLE_LETTERS] + "*" * max(len(word) - VISIBLE_LETTERS, 0) for word in name.upper().split())
