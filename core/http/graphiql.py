"""GraphiQL served from this package's own files, so it works without Internet access (a government intranet).

The page loads only same-origin scripts and styles (``/graphiql/static/...``, vendored from npm:
see ``static/graphiql/NOTICE``) under a strict Content-Security-Policy: no inline script, no other
origin. Its configuration (endpoint, login hint, example documents) travels in a JSON data block
that ``init.js`` reads. Served in development mode only, like the IDE it replaces.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

import orjson
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(str(resources.files("core.http"))) / "static" / "graphiql"
PREFIX = "/graphiql/static"
#: Files the page references, in load order.
STYLES = ("graphiql.min.css",)
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "init.js")
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # CodeMirror and GraphiQL set inline style attributes; no script can come from a style.
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def static_files() -> Mount:
    """The route of the vendored files."""
    return Mount(PREFIX, app=StaticFiles(directory=STATIC), name="graphiql-static")


def graphiql_page(
    endpoint: str, examples: tuple[tuple[str, str], ...], hint: str, headers_template: str = ""
) -> HTMLResponse:
    """The GraphiQL page for ``endpoint`` opening with ``examples`` (title, document) and request headers."""
    config = {
        "endpoint": endpoint,
        "hint": hint,
        "headers": headers_template,
        "examples": [{"title": title, "query": query} for title, query in examples],
    }
    # A JSON data block is never executed; escaping "<" keeps "</script>" inside a document from closing it.
    data = orjson.dumps(config).decode().replace("<", "\\u003c")
    styles = "".join(f'<link rel="stylesheet" href="{PREFIX}/{name}">' for name in STYLES)
    scripts = "".join(f'<script src="{PREFIX}/{name}" defer></script>' for name in SCRIPTS)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>SIKS GraphiQL — {html.escape(endpoint)}</title>{styles}"
        "<style>html,body{height:100%;margin:0}#siks-hint{font:13px sans-serif;padding:6px 12px;"
        "background:#fff8dc;border-bottom:1px solid #ddd}#graphiql{height:calc(100% - 32px)}</style>"
        f'</head><body><div id="siks-hint">{html.escape(hint)}</div><div id="graphiql">Loading GraphiQL…</div>'
        f'<script type="application/json" id="siks-graphiql-config">{data}</script>{scripts}</body></html>'
    )
    response_headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}
    return HTMLResponse(page, headers=response_headers)
