"""Rendering a page: Jinja2 through Starlette's templates, in the request's language, with strict headers.

Templates translate every string with ``_`` (the request's gettext); ``say`` renders a ``Message``
of a module (a message id and its parameters). Every response under ``/dataku`` carries the
security headers of ``SecurityHeaders``: a Content-Security-Policy allowing our own style sheet and
nothing else (no scripts, no inline styles, no frames, forms posted to ourselves only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from cachetools import LRUCache
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.dataku import i18n
from core.storage.records import RegionRecord

PREFIX = "/dataku"
TEMPLATES = Path(__file__).parent / "templates"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

#: Templates are compiled once a process and never checked again (``auto_reload=False``: no file status
#: read for each template of every page); a changed template is served after a restart.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
)


def region_options(regions: list[RegionRecord], chosen: str | None) -> Markup:
    """The ``<option>`` elements of one region step, every code and name escaped, kept for the list (the same
    object while ``cascade.RegionLists`` keeps it) and choice. Written here rather than as a template loop: a
    step lists up to a few hundred regions, and Jinja's loop over them was a third of a Cek Bansos answer's
    time (bench/dataku_bench.py)."""
    key = (id(regions), chosen)
    kept = _options.get(key)
    if kept is not None and kept[0] is regions:  # the entry holds the list, so its id cannot be reused meanwhile
        return kept[1]
    html = Markup(
        "".join(
            f'<option value="{escape(region.code)}"{" selected" if region.code == chosen else ""}>'
            f"{escape(region.name)}</option>"
            for region in regions
        )
    )
    _options[key] = (regions, html)
    return html


_options: LRUCache[tuple[int, str | None], tuple[list[RegionRecord], Markup]] = LRUCache(maxsize=2048)


templates.env.globals["region_options"] = region_options


def with_language(request: Request, language: str) -> str:
    """The address of this page in ``language`` (its other query parameters kept)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != i18n.QUERY]
    return f"{request.url.path}?{urlencode([*query, (i18n.QUERY, language)])}"


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """The template ``name`` in the request's language; remembers a language chosen by ``?lang=``."""
    choice = i18n.language_of(request)
    translations = i18n.translations(choice.language)

    page = {
        "_": translations.gettext,
        "say": lambda message: message.translated(translations),
        "language": choice.language,
        "languages": {code: with_language(request, code) for code in i18n.LANGUAGES},
        "day": lambda day: format_date(day, format="long", locale=choice.language),
        "number": lambda n: format_decimal(n, locale=choice.language),
        "rupiah": lambda n: format_currency(n, "IDR", format="¤ #,##0", currency_digits=False, locale=choice.language),
        "percent": lambda share: format_percent(share, format="#,##0.0%", locale=choice.language),
        "prefix": PREFIX,
        **context,
    }
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    response.headers["content-language"] = choice.language
    if choice.remember:
        response.set_cookie(
            i18n.COOKIE,
            choice.language,
            max_age=i18n.COOKIE_MAX_AGE,
            path=PREFIX,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


class SecurityHeaders:
    """ASGI wrapper putting ``HEADERS`` on every response of the pages and their static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, sending)
