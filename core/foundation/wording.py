"""The API's messages in the caller's language: English as the code writes them, Indonesian from the ``api`` catalog.

Services word their refusals in English where they find them (``FieldError("nik", f"NIK {nik} is ...")``);
the API translates the finished text where it leaves the server — the ``message`` of typed errors and
of ``fields``, GraphQL errors, HTTP refusals — in the language of the request (``LANGUAGE``, set by
``core.http.language``). A message id of the ``api`` catalog is the English text with ``%(name)s`` where
the code puts a value::

    msgid "NIK %(nik)s is already a member of another active household"
    msgstr "NIK %(nik)s sudah menjadi anggota rumah tangga aktif lain"

A text matches an id when the id's literal parts appear in order with something between them (the
most literal id first); the values are carried over, each translated in turn when it is itself a
message of the catalog (a part such as "province", or a problem "must be 16 digits"). An id that is
nothing but values and punctuation (``%(label)s %(problem)s``) matches where most of its values are
messages of their own (at least one), its first value one of the shortest few readings (a label, an
argument's name), so reading a text costs a bounded number of look-ups.
A text no id matches is answered as written (English); ``tests/test_api_language.py`` scans the code
for texts that can reach the API and fails on one without an Indonesian translation.

English is the code's own text: nothing is looked up for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path

from babel.messages.pofile import read_po

from core.foundation.i18n import LOCALE_DIR, po_path

DOMAIN = "api"
ENGLISH = "en"
#: The language of the request being answered; English outside a request (CLI, workers, tests).
LANGUAGE: ContextVar[str] = ContextVar("siks_language", default=ENGLISH)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_LETTER = re.compile(r"[^\W\d_]")
#: How deep values are read as messages of their own (a label, its problem, a part of that problem).
MAX_DEPTH = 3
#: Readings of a composed text tried (its first value shortest first: a label, an argument's name).
COMPOSED_READINGS = 4
#: Texts longer than this are answered as written (no message of the catalog is near it).
MAX_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Wording:
    """One entry of the catalog: the English id split at its placeholders, and its translation."""

    msgid: str
    msgstr: str
    literals: tuple[str, ...]  # one more than names: before, between and after the placeholders
    names: tuple[str, ...]
    #: Only values and punctuation: it reads a text where its values are messages of the catalog.
    composed: bool
    weight: int  # characters of literal text: the most literal id is tried first

    @classmethod
    def of(cls, msgid: str, msgstr: str) -> Wording:
        parts = _PLACEHOLDER.split(msgid)
        literals, names = tuple(parts[0::2]), tuple(parts[1::2])
        if any(not between for between in literals[1:-1]):
            raise ValueError(f"api catalog: {msgid!r} has two placeholders with nothing between them")
        text = "".join(literals)
        return cls(msgid, msgstr, literals, names, not _LETTER.search(text), len(text))

    def bindings(self, text: str) -> Iterator[dict[str, str]]:
        """Every way ``text`` reads as this id: the values of its placeholders (none when it does not)."""
        first, last = self.literals[0], self.literals[-1]
        if not text.startswith(first) or not text.endswith(last) or len(text) < len(first) + len(last):
            return
        yield from self._rest(text, 1, len(first), {})

    def _rest(self, text: str, index: int, position: int, bound: dict[str, str]) -> Iterator[dict[str, str]]:
        name = self.names[index - 1]
        if index == len(self.literals) - 1:
            end = len(text) - len(self.literals[-1])
            if end > position:
                yield {**bound, name: text[position:end]}
            return
        literal = self.literals[index]
        found = text.find(literal, position + 1)
        while found != -1:
            yield from self._rest(text, index + 1, found + len(literal), {**bound, name: text[position:found]})
            found = text.find(literal, found + 1)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The ``api`` messages of one language: exact texts, and ids with placeholders (most literal first)."""

    exact: dict[str, str]
    patterns: tuple[Wording, ...]

    def translate(self, text: str, depth: int = 0) -> str | None:
        """``text`` in this language, or None when no message of the catalog is ``text``.

        A value is read as a message one level down (three at most), and only the outermost text may be a
        composed one, so the work stays polynomial in the text's length whatever it holds."""
        if text in self.exact:
            return self.exact[text]
        if depth >= MAX_DEPTH:
            return None
        for wording in self.patterns:
            if (wording.composed and depth) or not all(literal in text for literal in wording.literals):
                continue
            best: tuple[int, dict[str, str], dict[str, str | None]] | None = None
            readings = islice(wording.bindings(text), COMPOSED_READINGS) if wording.composed else wording.bindings(text)
            for values in readings:
                said = {name: self.translate(value, depth + 1) for name, value in values.items()}
                score = sum(value is not None for value in said.values())
                if not wording.composed:
                    best = (score, values, said)
                    break
                if score and (best is None or score > best[0]):
                    best = (score, values, said)
            if best is not None:
                _score, values, said = best
                return wording.msgstr % {name: said[name] or value for name, value in values.items()}
        return None


#: Folders of further ``api`` catalogs (plugins'), in the layout of ``core/locale``.
_EXTRA_DIRS: list[Path] = []


def add_api_catalog(locale_dir: Path) -> None:
    """Adds the ``api`` catalogs under ``locale_dir`` (``<language>/LC_MESSAGES/api.po``) to the API's."""
    if locale_dir not in _EXTRA_DIRS:
        _EXTRA_DIRS.append(locale_dir)
        catalog.cache_clear()
        _said.cache_clear()


def entries(language: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of every translated, not fuzzy entry of the ``api`` catalogs of ``language``."""
    found: list[tuple[str, str]] = []
    for folder in (LOCALE_DIR, *_EXTRA_DIRS):
        path = po_path(language, DOMAIN, folder)
        if path.exists():
            with path.open("rb") as source:
                read = read_po(source, locale=language)
            found += [(m.id, m.string) for m in read if m.id and m.string and not m.fuzzy and isinstance(m.id, str)]
    return found


@lru_cache(maxsize=4)
def catalog(language: str) -> Catalog:
    """The ``api`` catalog of ``language``, read once a process (until a plugin adds its own)."""
    exact: dict[str, str] = {}
    patterns: list[Wording] = []
    for msgid, msgstr in entries(language):
        if _PLACEHOLDER.search(msgid):
            patterns.append(Wording.of(msgid, msgstr))
        else:
            exact[msgid.replace("%%", "%")] = msgstr.replace("%%", "%")
    patterns.sort(key=lambda wording: -wording.weight)
    return Catalog(exact, tuple(patterns))


def say(text: str, language: str | None = None) -> str:
    """``text`` in ``language`` (by default the request's, ``LANGUAGE``); as written when the catalog lacks it."""
    language = language or LANGUAGE.get()
    if language == ENGLISH or not text:
        return text
    return _said(text, language)


@lru_cache(maxsize=4096)
def _said(text: str, language: str) -> str:
    if len(text) > MAX_LENGTH:
        return text
    return catalog(language).translate(text) or text


def translated(text: str, language: str) -> bool:
    """Whether the ``api`` catalog of ``language`` has ``text`` (English always has it)."""
    return language == ENGLISH or (len(text) <= MAX_LENGTH and catalog(language).translate(text) is not None)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Within the block, the API answers in ``language``."""
    token = LANGUAGE.set(language)
    try:
        yield
    finally:
        LANGUAGE.reset(token)
