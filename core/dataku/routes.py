"""The handlers of ``/dataku``: thin, the rules are in ``cascade``, ``cekbansos``, ``usul``, ``sanggah``, ``lacak``,
``rekap``, ``charts`` and ``csrf``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from core.dataku import cekbansos, charts, csrf, errors, i18n, lacak, limits, rekap, sanggah, usul
from core.dataku.cascade import RegionLists, codes_of, kept_cascade
from core.dataku.i18n import N_, Message
from core.dataku.pages import PREFIX, SecurityHeaders, render
from core.http.middleware import BodySizeLimit
from core.regions.queries import regions_by_code
from core.runtime.ratelimit import client_key
from core.storage.records import RegionRecord
from core.verification.photos import KeptPhoto, discard_files
from core.verification.storage import folder_store

STATIC = Path(__file__).parent / "static"
CSRF_REFUSED = Message(N_("The form has expired or did not come from this site; please send it again."))
HONEYPOT_REFUSED = Message(N_("The form could not be sent."))
USUL = "usul.html"
SANGGAH = "sanggah.html"
LACAK = "lacak.html"
REKAP = "rekap.html"
SVG = "image/svg+xml"
REGION_DROPPED = Message(N_("That region is not in the list; choose again from this level."))
FORM_UNREADABLE = Message(N_("The form could not be read; open the page again and send it from there."))
FORM_TOO_LARGE = Message(N_("The form is larger than a form of these pages can be; open the page again."))
REFUSED = "refused.html"


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
    state.dataku_rekap = rekap.RekapCache(state.settings.rekap_cache_seconds)
    usul_parts = {
        "rows": range(1, usul.MEMBER_ROWS + 1),
        "shown_rows": usul.SHOWN_ROWS,
        "row_field": usul.row_field,
        "relationships": usul.RELATIONSHIPS,
        "photo_field": usul.PHOTO_FIELD,
        "photo_limit": usul.megabytes(state.settings.max_photo_bytes),
    }
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
        refused = _forged(request, state, form, context)
        if refused is not None:
            return refused
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
        return _page(request, state, {**context, **usul_parts}, template=USUL)

    async def usul_send(request: Request) -> Response:
        try:
            posted = await request.form(max_files=1, max_fields=usul.MAX_FIELDS)
        except HTTPException:  # malformed multipart, too many fields or files
            return render(request, REFUSED, {"notice": FORM_UNREADABLE, "back": f"{PREFIX}/usul"}, 400)
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
        levels = await kept_cascade(regions, state.engine, codes_of(form.get("desa", "")))
        values = {name: form.get(name, "")[:400] for name in usul.KEPT_FIELDS}
        context: dict[str, Any] = {
            "cascade": levels,
            "village": levels.village,
            "notice": None,
            "values": values,
            **usul_parts,
        }
        refused = _forged(request, state, form, context, USUL)
        if refused is not None:
            return refused
        limited = await usul.count_request(state.guards, client_key(request.scope))
        if limited is not None:
            return _limited(request, state, context, limited, USUL)
        proposed = await usul.read_usul(state.engine, form, regions)
        photo = await _house_photo(posted, levels.village)
        if isinstance(proposed, list) or isinstance(photo, usul.PhotoRefusal):
            problems = proposed if isinstance(proposed, list) else []
            status = 400
            if isinstance(photo, usul.PhotoRefusal):
                problems, status = [*problems, photo.problem], photo.status
            elif photo is not None:
                await discard_files(*photo)
            return _page(request, state, {**context, "problems": problems}, status, USUL)
        sent = await usul.submit(state.engine, proposed, client_key(request.scope), photo)
        if isinstance(sent, list):
            return _page(request, state, {**context, "problems": sent}, 400, USUL)
        return render(request, "usul_sent.html", {"ticket": sent}, 200 if sent.folded else 201)

    async def sanggah_form(request: Request) -> Response:
        limited = await limits.count_region_step(state.guards, client_key(request.scope))
        if limited is not None:
            return errors.limited(request, limited)
        levels = await kept_cascade(regions, state.engine, request.query_params)
        notice = REGION_DROPPED if levels.dropped else None
        context: dict[str, Any] = {
            "cascade": levels, "village": levels.village, "notice": notice, "values": {}, "reasons": sanggah.REASONS
        }  # fmt: skip
        return _page(request, state, context, template=SANGGAH)

    async def sanggah_send(request: Request) -> Response:
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        levels = await kept_cascade(regions, state.engine, codes_of(form.get("desa", "")))
        values = {name: form.get(name, "")[:400] for name in sanggah.KEPT_FIELDS}
        context: dict[str, Any] = {
            "cascade": levels, "village": levels.village, "notice": None, "values": values, "reasons": sanggah.REASONS
        }  # fmt: skip
        refused = _forged(request, state, form, context, SANGGAH)
        if refused is not None:
            return refused
        limited = await usul.count_request(state.guards, client_key(request.scope))
        if limited is not None:
            return _limited(request, state, context, limited, SANGGAH)
        objection = await sanggah.read_sanggah(state.engine, form, regions)
        filed = (
            objection
            if isinstance(objection, list)
            else await sanggah.submit(state.engine, state.settings, objection, client_key(request.scope))
        )
        if isinstance(filed, list):
            return _page(request, state, {**context, "problems": filed}, 400, SANGGAH)
        return render(request, "sanggah_sent.html", {"filed": filed}, 200 if filed.ticket.folded else 201)

    async def _house_photo(posted: FormData, village: Any) -> tuple[Any, KeptPhoto] | usul.PhotoRefusal | None:
        """The photo of the house posted with the form, checked and kept; None when there is none."""
        upload = usul.chosen_photo(posted.get(usul.PHOTO_FIELD))
        if upload is None or village is None:
            return None
        store = folder_store(state.settings.photo_dir)
        kept = await usul.keep_photo(store, upload, village.code, state.settings.max_photo_bytes)
        return kept if isinstance(kept, usul.PhotoRefusal) else (store, kept)

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

    async def province_asked(request: Request) -> RegionRecord | None | Message:
        """The province of ``?provinsi=`` (None: the country), or the message of an unknown code."""
        code = request.query_params.get("provinsi", "").strip()[:20]
        if not code:
            return None
        async with state.engine.connect() as conn:
            found = (await regions_by_code(conn, [code])).get(code)
        return found if found is not None and found.level_number == 1 else rekap.UNKNOWN_PROVINCE

    def counting(province: RegionRecord | None) -> Any:
        async def count() -> rekap.Rekap:
            async with state.engine.connect() as conn:
                return await rekap.make_rekap(conn, province, state.registry, state.settings.public_recap_min_count)

        return count

    async def rekap_page(request: Request) -> Response:
        province = await province_asked(request)
        if isinstance(province, Message):
            return render(request, REKAP, {"notice": province, "rekap": None}, 404)
        found = await state.dataku_rekap.rekap(province.code if province else "", counting(province))
        language = i18n.language_of(request).language
        query = urlencode({**({"provinsi": province.code} if province else {}), i18n.QUERY: language})
        context = {"notice": None, "rekap": found, "chart_query": query, "figures": charts.Figure}
        return render(request, REKAP, context)

    async def rekap_chart(request: Request) -> Response:
        try:
            figure = charts.Figure(request.path_params["figure"])
        except ValueError:
            return Response("Not Found", 404, media_type="text/plain")
        province = await province_asked(request)
        if isinstance(province, Message):
            return Response(province.translated(i18n.translations(i18n.DEFAULT)), 404, media_type="text/plain")
        language = i18n.language_of(request).language
        translations = i18n.translations(language)

        async def draw(found: rekap.Rekap) -> bytes:
            return await charts.draw(found, figure, language, translations)

        key = province.code if province else ""
        svg = await state.dataku_rekap.chart(key, counting(province), (figure.value, language), draw)
        seconds = int(state.settings.rekap_cache_seconds)
        return Response(svg, media_type=SVG, headers={"cache-control": f"public, max-age={seconds}"})

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/cek-bansos", cek_bansos_form, methods=["GET"]),
        Route("/cek-bansos", cek_bansos_lookup, methods=["POST"]),
        Route("/usul", usul_form, methods=["GET"]),
        Route("/usul", usul_send, methods=["POST"]),
        Route("/sanggah", sanggah_form, methods=["GET"]),
        Route("/sanggah", sanggah_send, methods=["POST"]),
        Route("/lacak", lacak_page, methods=["GET"]),
        Route("/rekap", rekap_page, methods=["GET"]),
        Route("/rekap/{figure}.svg", rekap_chart, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    router = Router(routes=routes)

    async def too_large(scope: Scope, receive: Receive, send: Send, upload: bool) -> None:
        request = Request(scope, receive)
        notice = usul.too_large(state.settings.max_photo_bytes) if upload else FORM_TOO_LARGE
        response = render(request, REFUSED, {"notice": notice, "back": request.url.path}, 413)
        await response(scope, receive, send)

    limited = BodySizeLimit(
        router,
        max_bytes=state.settings.max_request_bytes,
        max_upload_bytes=state.settings.max_photo_bytes + usul.FORM_BYTES,
        refuse=too_large,
    )
    # The error pages outside the body limit, which answers its own refusal (413) from the exception it raises.
    return SecurityHeaders(errors.PageErrors(limited, routes))


def _forged(
    request: Request, state: Any, form: dict[str, str], context: dict[str, Any], template: str = "cek_bansos.html"
) -> Response | None:
    """The form page again when the post lacks a valid CSRF token (403) or filled the honeypot (400); else None."""
    refusal = state.dataku_forms.check(form, request.cookies.get(csrf.COOKIE))
    if refusal is None:
        return None
    honeypot = refusal is csrf.Refusal.HONEYPOT
    message = HONEYPOT_REFUSED if honeypot else CSRF_REFUSED
    return _page(request, state, {**context, "notice": message}, 400 if honeypot else 403, template)


def _limited(
    request: Request, state: Any, context: dict[str, Any], refused: cekbansos.Refused, template: str = "cek_bansos.html"
) -> Response:
    response = _page(request, state, {**context, "notice": refused.message}, refused.status, template)
    response.headers["retry-after"] = str(refused.retry_after)
    return response
