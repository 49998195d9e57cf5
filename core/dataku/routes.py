"""The handlers of ``/dataku``: thin, the rules are in ``cascade``, ``cekbansos``, ``usul``, ``lacak`` and ``csrf``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from core.dataku import cekbansos, csrf, errors, lacak, limits, usul
from core.dataku.cascade import RegionLists, codes_of, kept_cascade
from core.dataku.i18n import N_, Message
from core.dataku.pages import PREFIX, SecurityHeaders, render
from core.runtime.ratelimit import client_key

STATIC = Path(__file__).parent / "static"
CSRF_REFUSED = Message(N_("The form has expired or did not come from this site; please send it again."))
HONEYPOT_REFUSED = Message(N_("The form could not be sent."))
USUL = "usul.html"
LACAK = "lacak.html"
REGION_DROPPED = Message(N_("That region is not in the list; choose again from this level."))


def _form_nonce(request: Request) -> tuple[str, bool]:
    """The CSRF nonce of the request's cookie, or a new one (True: set the cookie)."""
    kept = request.cookies.get(csrf.COOKIE, "")
    return (kept, False) if 20 <= len(kept) <= 64 else (csrf.FormGuard.new_nonce(), True)


def _page(
    request: Request, state: Any, context: dict[str, Any], status_code: int = 200, template: str = "cek_bansos.html"
) -> Response:
    """A page with a form (``template``) and its CSRF token for the request's cookie (set when new)."""
    nonce, new = _form_nonce(request)
    guard: csrf.FormGuard = state.dataku_forms
    page = {"csrf_field": csrf.FIELD, "csrf_token": guard.token_for(nonce), "honeypot": csrf.HONEYPOT, **context}
    response = render(request, template, page, status_code)
    if new:
        response.set_cookie(
            csrf.COOKIE, nonce, httponly=True, samesite="strict", path=PREFIX, secure=request.url.scheme == "https"
        )
    return response


def dataku_app(state: Any) -> ASGIApp:
    """The pages and their static files; ``state`` is the application's (engine, settings, guards, registry)."""
    state.dataku_forms = csrf.FormGuard(state.settings.secret_key)
    regions = RegionLists()

    async def index(request: Request) -> Response:
        return render(request, "index.html", {})

    async def cek_bansos_form(request: Request) -> Response:
        limited = await limits.count_region_step(state.guards, client_key(request.scope))
        if limited is not None:
            return errors.limited(request, limited)
        levels = await kept_cascade(regions, state.engine, request.query_params)
        notice = REGION_DROPPED if levels.dropped else None
        return _page(request, state, {"cascade": levels, "village": levels.village, "notice": notice})

    async def cek_bansos_lookup(request: Request) -> Response:
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        levels = await kept_cascade(regions, state.engine, codes_of(form.get("desa", "")))
        context: dict[str, Any] = {"cascade": levels, "village": levels.village, "notice": None, "name": ""}
        refusal = state.dataku_forms.check(form, request.cookies.get(csrf.COOKIE))
        if refusal is not None:
            message = HONEYPOT_REFUSED if refusal is csrf.Refusal.HONEYPOT else CSRF_REFUSED
            return _page(
                request, state, {**context, "notice": message}, 400 if refusal is csrf.Refusal.HONEYPOT else 403
            )
        context["name"] = form.get("nama", "")[:200]
        limited = await cekbansos.count_request(state.guards, client_key(request.scope))
        if limited is not None:
            return _limited(request, state, context, limited)
        question = await cekbansos.read_question(state.engine, form, regions)
        if isinstance(question, list):
            return _page(request, state, {**context, "problems": question}, 400)
        if question.nik is not None:
            limited = await cekbansos.count_nik_check(state.guards, state.settings, question)
            if limited is not None:
                return _limited(request, state, context, limited)
        answer = await cekbansos.answer(state.engine, state.settings, state.registry, question)
        return _page(request, state, {**context, "answer": answer})

    async def usul_form(request: Request) -> Response:
        limited = await limits.count_region_step(state.guards, client_key(request.scope))
        if limited is not None:
            return errors.limited(request, limited)
        levels = await kept_cascade(regions, state.engine, request.query_params)
        notice = REGION_DROPPED if levels.dropped else None
        context: dict[str, Any] = {"cascade": levels, "village": levels.village, "notice": notice, "values": {}}
        return _page(request, state, context, template=USUL)

    async def usul_send(request: Request) -> Response:
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        levels = await kept_cascade(regions, state.engine, codes_of(form.get("desa", "")))
        values = {name: form.get(name, "")[:400] for name in usul.KEPT_FIELDS}
        context: dict[str, Any] = {"cascade": levels, "village": levels.village, "notice": None, "values": values}
        refusal = state.dataku_forms.check(form, request.cookies.get(csrf.COOKIE))
        if refusal is not None:
            honeypot = refusal is csrf.Refusal.HONEYPOT
            message = HONEYPOT_REFUSED if honeypot else CSRF_REFUSED
            return _page(request, state, {**context, "notice": message}, 400 if honeypot else 403, USUL)
        limited = await usul.count_request(state.guards, client_key(request.scope))
        if limited is not None:
            return _limited(request, state, context, limited, USUL)
        proposed = await usul.read_usul(state.engine, form, regions)
        sent = (
            proposed
            if isinstance(proposed, list)
            else await usul.submit(state.engine, proposed, client_key(request.scope))
        )
        if isinstance(sent, list):
            return _page(request, state, {**context, "problems": sent}, 400, USUL)
        return render(request, "usul_sent.html", {"ticket": sent}, 200 if sent.folded else 201)

    async def lacak_page(request: Request) -> Response:
        code = request.query_params.get("kode", "")[:40]
        context: dict[str, Any] = {"code": code, "notice": None}
        if not code:
            return render(request, LACAK, context)
        limited = await usul.count_request(state.guards, client_key(request.scope))
        wanted = lacak.well_formed(code)
        if limited is None and wanted is not None:
            limited = await limits.count_ticket_check(state.guards, state.settings.secret_key, wanted)
        if limited is not None:
            response = render(request, LACAK, {**context, "notice": limited.message}, limited.status)
            response.headers["retry-after"] = str(limited.retry_after)
            return response
        if wanted is None:
            return render(request, LACAK, {**context, "notice": lacak.BAD_CODE}, 400)
        found = await lacak.track(state.engine, wanted)
        if isinstance(found, Message):
            return render(request, LACAK, {**context, "notice": found}, 404)
        return render(request, LACAK, {**context, "tracked": found})

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/cek-bansos", cek_bansos_form, methods=["GET"]),
        Route("/cek-bansos", cek_bansos_lookup, methods=["POST"]),
        Route("/usul", usul_form, methods=["GET"]),
        Route("/usul", usul_send, methods=["POST"]),
        Route("/lacak", lacak_page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return SecurityHeaders(errors.PageErrors(Router(routes=routes), routes))


def _limited(
    request: Request, state: Any, context: dict[str, Any], refused: cekbansos.Refused, template: str = "cek_bansos.html"
) -> Response:
    response = _page(request, state, {**context, "notice": refused.message}, refused.status, template)
    response.headers["retry-after"] = str(refused.retry_after)
    return response
