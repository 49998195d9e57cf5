"""SIKS's languages: Bahasa Indonesia and English, from gettext catalogs shared by the pages and the API.

Message ids are English; ``core/locale/id/LC_MESSAGES/<domain>.po`` translates them to Indonesian, one
catalog a domain: ``messages`` for the SIKS-Dataku pages, ``api`` for the API's error messages
(``core.foundation.wording``). A plugin adds its own ``api`` catalog (``core.plugin_api.add_api_catalog``).
The ``.po`` files are the only committed form: they are compiled to ``.mo`` bytes in memory when a
catalog is first used, so a compiled catalog can never be older than its source.
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

LOCALE_DIR = Path(__file__).parent.parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("id", "en")  # English is the message ids themselves


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


def po_path(language: str, domain: str = DOMAIN, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{domain}.po"


def compile_catalog(language: str, domain: str = DOMAIN, locale_dir: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The ``.po`` catalog of ``language`` compiled to ``.mo`` in memory (fuzzy entries left out)."""
    with po_path(language, domain, locale_dir).open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@cache
def translations(language: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The translations of ``language``: compiled once a process; English is the ids as written."""
    if language == "en":
        return gettext.NullTranslations()
    return compile_catalog(language, domain)


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
