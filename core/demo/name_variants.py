"""How one Indonesian name is written differently by different agencies, as data, and the way back.

``siks demo reference`` writes a registry member's name in another agency's extract with one of
these rules applied (``apply_variant``); ``normalise_name`` maps every spelling a rule makes back
to one key, so a matcher (and the tests) can see that ``Moch. Soeharto`` is ``Muhammad Suharto``.
Two rules drop words instead (``middle_name`` adds a middle name the registry dropped,
``one_word`` keeps the first word only); those do not normalise back, and ``drops_words`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: Abbreviated and variant forms of common given names: canonical -> the forms seen in other registries.
GIVEN_VARIANTS: dict[str, tuple[str, ...]] = {
    "Muhammad": ("Muhamad", "Mohammad", "Mochammad", "Moch.", "Moh.", "Muh.", "M."),
    "Siti": ("St.",),
    "Ahmad": ("Achmad", "Akhmad", "A."),
    "Nur": ("Noer",),
    "Nurul": ("Noerul",),
}
#: Old (pre-1972, Van Ophuijsen / Soewandi) spellings: the modern letters -> the old ones.
OLD_SPELLINGS: tuple[tuple[str, str], ...] = (("u", "oe"), ("j", "dj"), ("c", "tj"), ("kh", "ch"))
#: Titles written before or after a name (haji/hajjah, degrees).
PREFIX_TITLES_MALE: tuple[str, ...] = ("H.", "Drs.", "Ir.")
PREFIX_TITLES_FEMALE: tuple[str, ...] = ("Hj.", "Dra.")
SUFFIX_TITLES: tuple[str, ...] = ("S.Pd.", "S.E.", "S.H.", "S.Ag.", "A.Md.")
#: Middle names an agency may hold that the registry left out.
MIDDLE_NAMES: tuple[str, ...] = ("Nur", "Budi", "Dwi", "Tri", "Eka", "Adi", "Putra", "Putri", "Sri")

ALL_TITLES = frozenset(t.lower().rstrip(".") for t in (*PREFIX_TITLES_MALE, *PREFIX_TITLES_FEMALE, *SUFFIX_TITLES))
_CANONICAL = {form.lower().rstrip("."): name.lower() for name, forms in GIVEN_VARIANTS.items() for form in forms}
_WORD = re.compile(r"[^\s,]+")
_VOWELS = "aeiou"


@dataclass(frozen=True, slots=True)
class Variant:
    rule: str
    name: str


def _words(name: str) -> list[str]:
    return _WORD.findall(name)


def _given_variant(name: str, pick: Callable[[int], int], female: bool) -> str | None:
    words = _words(name)
    for i, word in enumerate(words):
        forms = GIVEN_VARIANTS.get(word)
        if forms:
            words[i] = forms[pick(len(forms))]
            return " ".join(words)
    return None


def _old_spelling(name: str, pick: Callable[[int], int], female: bool) -> str | None:
    lower = name.lower()
    usable = [(new, old) for new, old in OLD_SPELLINGS if new in lower]
    if not usable:
        return None
    new, old = usable[pick(len(usable))]
    at = lower.index(new)
    found = name[at : at + len(new)]
    replacement = old.capitalize() if found[0].isupper() else old
    return name[:at] + replacement + name[at + len(new) :]


def _doubled_letter(name: str, pick: Callable[[int], int], female: bool) -> str | None:
    # a consonant between two vowels, written twice (Rina -> Rinna, Dedi -> Deddi)
    spots = [
        i
        for i in range(1, len(name) - 1)
        if name[i].isalpha()
        and name[i].lower() not in _VOWELS
        and name[i - 1].lower() in _VOWELS
        and name[i + 1].lower() in _VOWELS
    ]
    if not spots:
        return None
    i = spots[pick(len(spots))]
    return name[: i + 1] + name[i] + name[i + 1 :]


def _title(name: str, pick: Callable[[int], int], female: bool) -> str | None:
    choices = [*(PREFIX_TITLES_FEMALE if female else PREFIX_TITLES_MALE), *SUFFIX_TITLES]
    title = choices[pick(len(choices))]
    return f"{name}, {title}" if title in SUFFIX_TITLES else f"{title} {name}"


def _middle_name(name: str, pick: Callable[[int], int], female: bool) -> str | None:
    words = _words(name)
    if len(words) < 2:
        return None
    return " ".join([words[0], MIDDLE_NAMES[pick(len(MIDDLE_NAMES))], *words[1:]])


def _one_word(name: str, pick: Callable[[int], int], female: bool) -> str | None:
    words = _words(name)
    return words[0] if len(words) >= 2 else None


#: rule name -> how it rewrites a name (None where it does not apply to that name).
RULES: dict[str, Callable[[str, Callable[[int], int], bool], str | None]] = {
    "given_name_form": _given_variant,
    "old_spelling": _old_spelling,
    "doubled_letter": _doubled_letter,
    "title": _title,
    "middle_name": _middle_name,
    "one_word": _one_word,
}
#: Rules whose result keeps every word: ``normalise_name`` takes the variant back to the registry's key.
NORMALISING_RULES = frozenset({"given_name_form", "old_spelling", "doubled_letter", "title"})


def apply_variant(name: str, female: bool, pick: Callable[[int], int]) -> Variant | None:
    """The name as another agency writes it; ``pick(n)`` returns a number below n (the caller's draw).

    Rules are tried from a drawn starting point in ``RULES`` order; the first that applies wins.
    """
    rules = list(RULES.items())
    start = pick(len(rules))
    for offset in range(len(rules)):
        rule, rewrite = rules[(start + offset) % len(rules)]
        result = rewrite(name, pick, female)
        if result is not None and result != name:
            return Variant(rule, result)
    return None


def normalise_name(name: str) -> str:
    """One key for the spellings of a name: lower case, no titles, canonical given names, modern
    spelling, no doubled letters, single spaces."""
    words = []
    for raw in _words(name.lower()):
        word = raw.rstrip(".")
        if word in ALL_TITLES:
            continue
        word = _CANONICAL.get(word, word)
        for new, old in OLD_SPELLINGS:
            word = word.replace(old, new)
        word = re.sub(r"(.)\1+", r"\1", word)
        words.append(word)
    return " ".join(words)


def drops_words(registry: str, reference: str) -> bool:
    """``reference`` is ``registry`` with a middle word added, or cut to its first word."""
    a, b = _words(registry), _words(reference)
    if len(b) == 1 and len(a) >= 2:
        return b[0] == a[0]
    return len(b) == len(a) + 1 and b[0] == a[0] and b[2:] == a[1:]
