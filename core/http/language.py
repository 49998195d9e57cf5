"""The language of the API's answers: ``Accept-Language`` (Indonesian or English, by its q-values).

Without a usable header ``/public/graphql`` answers in Bahasa Indonesia (the public's endpoint, like the
SIKS-Dataku pages) and everything else in English (what operators' and integrators' clients were
built against). The language is ``core.foundation.wording.LANGUAGE`` for the request, so every message
written on the way out — typed errors, GraphQL errors, HTTP refusals of the limits in front — is said
in it; GraphQL answers say which in ``Content-Language``. Error codes never change with the language.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.foundation.i18n import from_accept_language
from core.foundation.wording import ENGLISH, speaking

INDONESIAN = "id"
#: Paths answered in Indonesian when the request does not ask for a language.
INDONESIAN_FIRST = ("/public/",)
#: Paths whose answers carry ``Content-Language``.
GRAPHQL_PATHS = frozenset({"/graphql", "/public/graphql"})


def language_for(path: str, accept_language: str) -> str:
    """The language of the answer to a request for ``path`` sent with ``accept_language``."""
    asked = from_accept_language(accept_language)
    if asked is not None:
        return asked
    return INDONESIAN if path.startswith(INDONESIAN_FIRST) else ENGLISH


class ApiLanguage:
    """ASGI middleware: answers the request in its language and names it in GraphQL answers' ``Content-Language``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        language = language_for(path, Headers(scope=scope).get("accept-language", ""))

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start" and path in GRAPHQL_PATHS:
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Language", language)
                vary = headers.get("Vary")
                if vary is None:
                    headers["Vary"] = "Accept-Language"
                elif "accept-language" not in vary.lower():
                    headers["Vary"] = f"{vary}, Accept-Language"
            await send(message)

        with speaking(language):
            await self.app(scope, receive, send_with_language)
