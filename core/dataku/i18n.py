"""The languages of the pages: Bahasa Indonesia by default, English by ``?lang=en`` (kept in a cookie)
or by ``Accept-Language``.

Message ids are English; ``locale/id/LC_MESSAGES/messages.po`` translates them to Indonesian. The
``.po`` files are the only committed form: they are compiled to ``.mo`` bytes in memory when the
module is first used (``Catalogs``), so a compiled catalog can never be older than its source.
Strings in Python are marked with ``N_`` and translated when a page is rendered.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "id"
LANGUAGES = ("id", "en")  # English is the message ids themselves
COOKIE = "dataku_lang"
QUERY = "lang"
COOKIE_MAX_AGE = 365 * 86_400


def N_(message: str) -> str:  # noqa: N802  (the usual gettext marker name)
    """Marks ``message`` for extraction; it is translated when rendered."""
    return message


@dataclass(frozen=True, slots=True)
class Message:
    """A message id of the catalogs and its parameters (``%(name)s`` style), translated when rendered;
    a parameter that is itself a ``Message`` is translated too."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)

    def translated(self, translations: gettext.NullTranslations) -> str:
        text = translations.gettext(self.text)
        if not self.params:
            return text
        return text % {k: v.translated(translations) if isinstance(v, Message) else v for k, v in self.params.items()}


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(language: str) -> gettext.NullTranslations:
    """The ``.po`` catalog of ``language`` compiled to ``.mo`` in memory (fuzzy entries left out)."""
    with po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The translations of ``language``: compiled once a process; English is the ids as written."""
    if language == "en":
        return gettext.NullTranslations()
    return compile_catalog(language)


def from_accept_language(header: str) -> str | None:
    """The first of ``LANGUAGES`` the header prefers (by its q-values), or None."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


@dataclass(frozen=True, slots=True)
class Choice:
    language: str
    remember: bool  # set the cookie: the language was chosen with ``?lang=``


def language_of(request: Request) -> Choice:
    """``?lang=`` first (then remembered), then the cookie, then ``Accept-Language``, else Indonesian."""
    asked = request.query_params.get(QUERY, "")
    if asked in LANGUAGES:
        return Choice(asked, remember=True)
    kept = request.cookies.get(COOKIE, "")
    if kept in LANGUAGES:
        return Choice(kept, remember=False)
    return Choice(from_accept_language(request.headers.get("accept-language", "")) or DEFAULT, remember=False)
