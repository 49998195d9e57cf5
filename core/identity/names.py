"""One key for the ways an Indonesian name is written by different agencies.

``normalise_name("H. Moch. Soeharto, S.Pd.")`` and ``normalise_name("Muhammad Suharto")`` are both
``"MUHAMMAD SUHARTO"``: upper-case ASCII, punctuation gone, titles and degrees dropped, old
(pre-1972) spellings modernised, doubled letters collapsed and the common abbreviations of given
names written out. Words an agency added or dropped (middle names, one-word names) are not undone
here; the matcher's name comparison credits them (``core.identity.linkage``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Titles and degrees written before or after a name, without their dots.
TITLES: frozenset[str] = frozenset(
    {
        # haji / hajjah, religious and customary
        "H", "HJ", "HAJI", "HAJJAH", "HAJAH", "KH", "KYAI", "USTADZ", "USTAD", "USTADZAH", "RADEN", "RA",
        # academic and professional
        "DR", "DRS", "DRA", "IR", "PROF", "DRG", "DRH",
        "SPD", "SPDI", "SE", "SH", "SKOM", "SAG", "SSOS", "SKM", "SKEP", "SIP", "SST", "SS", "SSI", "SHI",
        "SP", "STP", "SFARM", "SKED", "SPSI", "SIKOM", "SSN", "SAK", "SHUT", "STR",
        "MPD", "MM", "MSI", "MH", "MAG", "MKES", "MKOM", "MT", "MSC", "MBA", "MA",
        "AMD", "AMDKEB", "AMDKEP", "AMK", "AMAPD", "AMA", "BA", "BSC",
    }
)  # fmt: skip
#: Titles dropped even when written without a dot (others only with one: "MA" may be a name).
PLAIN_TITLES: frozenset[str] = frozenset({"H", "HJ", "HAJI", "HAJJAH", "HAJAH", "DRS", "DRA", "IR", "SPD", "SKOM"})
#: Forms of common given names (after the spelling rules) -> the name written out.
GIVEN_FORMS: dict[str, str] = {
    **dict.fromkeys(
        (
            "MUHAMAD", "MOHAMAD", "MOHAMED", "MUHAMED", "MOKHAMAD", "MUKHAMAD", "MOKH", "MOH", "MUH",
            "MHD", "MOHD", "MUHD", "MUHAMMAD", "M",
        ),
        "MUHAMMAD",
    ),
    **dict.fromkeys(("ST", "SITI"), "SITI"),
    **dict.fromkeys(("AKHMAD", "AHMAD", "AHMED"), "AHMAD"),
}  # fmt: skip
#: Old spellings -> modern, applied in this order inside every word.
OLD_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("DJ", "J"),
    ("TJ", "C"),
    ("OE", "U"),
    ("SJ", "SY"),
    ("NJ", "NY"),
    ("CH", "KH"),
)
_PART = re.compile(r",")
_NOT_LETTER = re.compile(r"[^A-Z\s.]")
_DOUBLED = re.compile(r"([A-Z])\1+")
_SPACES = re.compile(r"\s+")


def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii").upper()


#: The old spellings as patterns: a consonant digraph's letters may be doubled (``SANJJAYA`` is ``SANJAYA``,
#: not ``SANYJAYA``); ``OE`` stays literal, since its E may begin the next syllable (``SAMOEEL`` is ``SAMUEL``).
_OLD_PATTERNS = tuple((re.compile(old if old == "OE" else f"{old[0]}+{old[1]}+"), new) for old, new in OLD_SPELLINGS)


def _modern(word: str) -> str:
    for pattern, new in _OLD_PATTERNS:
        word = pattern.sub(new, word)
    return _DOUBLED.sub(r"\1", word)


@lru_cache(maxsize=1 << 16)
def _word_key(word: str) -> str:
    """One word's key: a given name written out, else its modern spelling (names reuse words: cached)."""
    return GIVEN_FORMS.get(word) or GIVEN_FORMS.get(_modern(word)) or _modern(word)


def _is_title_part(part: str) -> bool:
    # after a comma: "S.Pd.", "S. Pd", "M.Pd., Ph.D": degrees only
    words = [w.replace(".", "") for w in part.split()]
    return bool(words) and all(w in TITLES or len(w) <= 3 for w in words)


def normalise_name(name: str) -> str:
    """The matching key of a name as registered (see the module's docstring); ``""`` for no name."""
    text = _ascii_upper(name).replace("'", "").replace("`", "")
    parts = _PART.split(text)
    kept = [parts[0], *(part for part in parts[1:] if not _is_title_part(part))]
    words: list[str] = []
    for raw in _SPACES.split(_NOT_LETTER.sub(" ", " ".join(kept)).strip()):
        joined = raw.replace(".", "")
        # "S.Pd." is one title; "M.Yusuf" is two words
        pieces = [joined] if joined in TITLES else raw.split(".")
        dotted = "." in raw
        for piece in pieces:
            if not piece:
                continue
            if piece in TITLES and (dotted or piece in PLAIN_TITLES):
                continue
            if piece == "M" and not (dotted or not words):
                words.append(piece)  # a lone undotted "M" inside a name is an initial, not Muhammad
                continue
            words.append(_word_key(piece))
    return " ".join(words)
