"""The languages of the pages: Bahasa Indonesia by default, English by ``?lang=en`` (kept in a cookie)
or by ``Accept-Language``.

The catalog machinery is shared with the API (``core.foundation.i18n``): the pages' messages are the
``messages`` domain of ``core/locale/id/LC_MESSAGES/``. Strings in Python are marked with ``N_`` and
translated when a page is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from core.foundation.i18n import (
    DOMAIN,
    LANGUAGES,
    LOCALE_DIR,
    N_,
    Message,
    compile_catalog,
    from_accept_language,
    po_path,
    translations,
)

DEFAULT = "id"
COOKIE = "dataku_lang"
QUERY = "lang"
COOKIE_MAX_AGE = 365 * 86_400

__all__ = [
    "COOKIE",
    "COOKIE_MAX_AGE",
    "DEFAULT",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "QUERY",
    "Choice",
    "Message",
    "compile_catalog",
    "from_accept_language",
    "language_of",
    "po_path",
    "translations",
]


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
