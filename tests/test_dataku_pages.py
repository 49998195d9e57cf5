"""SIKS-Dataku pages over HTTP against the real application and database: layout and headers, the
languages, the village cascade, Cek Bansos (masked as the public GraphQL look-up, the same rate
limits), bad input, CSRF and the honeypot."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku import csrf, i18n
from core.dataku.pages import CONTENT_SECURITY_POLICY
from core.foundation.settings import Settings
from core.models.security import AuditEntry
from tests.serving import serve
from tests.test_public import LOOKUP, NEIGHBOUR, VILLAGE, plant

PAGE = "/dataku/cek-bansos"
CHAIN = {"provinsi": "32", "kabupaten": "32.01", "kecamatan": "32.01.01", "desa": VILLAGE}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def form_token(http: httpx.AsyncClient, **params: str) -> str:
    """Open the look-up form of the village (the cookie is kept by the client) and read its token."""
    page = await http.get(PAGE, params=CHAIN | params)
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


async def look_up(http: httpx.AsyncClient, name: str, nik: str = "", village: str = VILLAGE) -> httpx.Response:
    token = await form_token(http)
    return await http.post(PAGE, data={"desa": village, "nama": name, "nik": nik, "csrf_token": token, "website": ""})


async def audit_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(AuditEntry.__table__))).scalar_one())


# --- layout, headers, languages ------------------------------------------------------------------


async def test_home_is_indonesian_with_strict_headers_and_our_own_style_sheet(client: httpx.AsyncClient) -> None:
    page = await client.get("/dataku/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["content-language"] == "id"
    assert '<html lang="id">' in page.text
    assert "Data kesejahteraan sosial untuk warga" in page.text
    assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
    assert 'href="/dataku/static/site.css"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no third-party assets
    css = await client.get("/dataku/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert len(page.content) + len(css.content) < 100_000


async def test_lang_switch_is_remembered_in_a_cookie(client: httpx.AsyncClient) -> None:
    english = await client.get("/dataku/", params={"lang": "en"})
    assert "Social welfare data for citizens" in english.text and '<html lang="en">' in english.text
    assert english.cookies.get(i18n.COOKIE) == "en"
    again = await client.get("/dataku/")  # the client sends the cookie back
    assert again.headers["content-language"] == "en"
    back = await client.get("/dataku/", params={"lang": "id"})
    assert "Data kesejahteraan sosial untuk warga" in back.text
    assert 'href="/dataku/?lang=en"' in back.text


@pytest.mark.parametrize(
    ("header", "language"),
    [("en-US,en;q=0.9", "en"), ("fr, en;q=0.5, id;q=0.4", "en"), ("id-ID,en;q=0.8", "id"), ("fr", "id"), ("", "id")],
)
async def test_accept_language_chooses_when_nothing_was_switched(
    client: httpx.AsyncClient, header: str, language: str
) -> None:
    page = await client.get("/dataku/", headers={"accept-language": header})
    assert page.headers["content-language"] == language


def test_every_message_of_the_code_and_templates_is_translated_to_indonesian() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    methods = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "N_": None, "gettext": None}
    used = {message for _f, _l, message, *_ in extract_from_dir(str(Path(i18n.__file__).parent), methods, keywords)}
    with i18n.po_path("id").open("rb") as source:
        catalog = read_po(source, locale="id")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert len(used) > 30
    assert used - translated == set(), "run pybabel extract/update and translate (docs/dataku.md)"
    assert i18n.translations("id").gettext("Next") == "Lanjut"


# --- the village cascade -------------------------------------------------------------------------


async def test_the_cascade_lists_one_level_at_a_time_without_javascript(client: httpx.AsyncClient) -> None:
    first = await client.get(PAGE)
    assert first.status_code == 200
    assert 'name="provinsi"' in first.text and 'name="kabupaten"' not in first.text
    assert 'value="32"' in first.text and 'id="lookup-form"' not in first.text
    second = await client.get(PAGE, params={"provinsi": "32"})
    assert 'value="32.01"' in second.text and 'name="kecamatan"' not in second.text
    last = await client.get(PAGE, params=CHAIN)
    assert 'id="lookup-form"' in last.text and 'name="desa" value="32.01.01.1001"' in last.text
    assert "Pondok Rajeg" in last.text


async def test_a_code_outside_the_chain_is_dropped_with_a_message(client: httpx.AsyncClient) -> None:
    page = await client.get(PAGE, params={"provinsi": "32", "kabupaten": "35.78", "kecamatan": "35.78.01"})
    assert page.status_code == 200
    assert "Wilayah itu tidak ada dalam daftar" in page.text
    assert 'name="kecamatan"' not in page.text and 'id="lookup-form"' not in page.text


# --- Cek Bansos ----------------------------------------------------------------------------------


async def test_cek_bansos_answers_masked_names_and_programmes_as_the_public_lookup(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    planted = await plant(db)
    answer = await look_up(client, "  siti   ROSIDA ")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    graphql = await client.post(
        "/public/graphql", json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": "Siti Rosida"}}
    )
    people = graphql.json()["data"]["cekBansos"]["people"]
    assert [p["maskedName"] for p in people] == ["SI** RO****", "SI** RO****"]
    for person in people:
        for aid in person["aid"]:
            assert aid["programName"] in answer.text and aid["period"] in answer.text
    assert answer.text.count('class="person"') == len(people)
    assert "Rosida" not in answer.text.replace('value="  siti   ROSIDA "', "")  # only the field the citizen typed
    assert "1 Januari 2026" in answer.text and "31 Maret 2026" in answer.text  # dates in Indonesian
    assert "Keluarga terdaftar tetapi belum menerima bantuan." in answer.text  # the namesake got nothing
    assert all(nik not in answer.text for nik in planted.niks.values())


async def test_a_nik_narrows_the_answer_and_is_never_shown(db: AsyncEngine, client: httpx.AsyncClient) -> None:
    planted = await plant(db)
    nik = planted.niks["rosida:Siti Rosida"]
    exact = await look_up(client, "Siti Rosida", nik)
    assert exact.status_code == 200 and exact.text.count('class="person"') == 1
    assert nik not in exact.text
    wrong = await look_up(client, "Siti Rosida", "3201010101010001")
    assert 'id="not-found"' in wrong.text and "Tidak ada warga dengan nama itu" in wrong.text


async def test_nobody_of_that_name_in_the_village(db: AsyncEngine, client: httpx.AsyncClient) -> None:
    await plant(db)
    other = await look_up(client, "Budi Santoso", village=NEIGHBOUR)
    assert other.status_code == 200 and 'id="not-found"' in other.text


@pytest.mark.parametrize(
    ("form", "field", "indonesian", "english"),
    [
        ({"nama": "Si"}, "nama", "Tulis nama lengkap sesuai KTP, 3 sampai 120 karakter.", "Write the full name"),
        ({"nama": "x" * 121}, "nama", "Tulis nama lengkap sesuai KTP", "3 to 120 characters"),
        ({"nik": "3201abc"}, "nik", "NIK adalah 16 angka pada KTP", "A NIK is the 16 digits"),
        ({"desa": "32.01.01"}, "desa", "Pilih desa/kelurahan dari daftar", "Choose the village from the list"),
        ({"desa": "99.99.99.9999"}, "desa", "Pilih desa/kelurahan dari daftar", "Choose the village from the list"),
        ({"desa": f"{VILLAGE}.1"}, "desa", "Pilih desa/kelurahan dari daftar", "Choose the village from the list"),
    ],
)
async def test_bad_input_gets_a_clear_message_in_the_language_and_stores_nothing(
    db: AsyncEngine, client: httpx.AsyncClient, form: dict[str, str], field: str, indonesian: str, english: str
) -> None:
    before = await audit_rows(db)
    token = await form_token(client)
    data = {"desa": VILLAGE, "nama": "Siti Rosida", "nik": "", "csrf_token": token, "website": ""} | form
    refused = await client.post(PAGE, data=data)
    assert refused.status_code == 400
    assert f'data-field="{field}"' in refused.text and indonesian in refused.text
    assert 'id="answer"' not in refused.text and "3201abc" not in refused.text
    client.cookies.set(i18n.COOKIE, "en", domain="siks.test", path="/dataku")
    token = await form_token(client)
    refused = await client.post(PAGE, data=data | {"csrf_token": token})
    assert refused.status_code == 400 and english in refused.text
    assert await audit_rows(db) == before


# --- CSRF, honeypot, rate limits -----------------------------------------------------------------


async def test_a_post_without_a_valid_token_for_its_cookie_is_refused(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await plant(db)
    form = {"desa": VILLAGE, "nama": "Siti Rosida", "nik": "", "website": ""}
    token = await form_token(client)
    assert (await client.post(PAGE, data=form | {"csrf_token": token})).status_code == 200
    for forged in ("", token + "x", token.replace(".", "!", 1)):
        refused = await client.post(PAGE, data=form | {"csrf_token": forged})
        assert refused.status_code == 403 and 'id="answer"' not in refused.text
        assert "Formulir sudah kedaluwarsa atau tidak berasal dari situs ini" in refused.text
    other = csrf.FormGuard("another-secret-" + "0" * 32).token_for(client.cookies[csrf.COOKIE])
    assert (await client.post(PAGE, data=form | {"csrf_token": other})).status_code == 403
    cookie = client.cookies[csrf.COOKIE]
    client.cookies.delete(csrf.COOKIE)
    assert (await client.post(PAGE, data=form | {"csrf_token": token})).status_code == 403  # no cookie
    client.cookies.set(csrf.COOKIE, "someone-elses-nonce-0123456789", domain="siks.test", path="/dataku")
    assert (await client.post(PAGE, data=form | {"csrf_token": token})).status_code == 403  # another cookie
    client.cookies.set(csrf.COOKIE, cookie, domain="siks.test", path="/dataku")
    assert (await client.post(PAGE, data=form | {"csrf_token": token})).status_code == 200


def test_tokens_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = csrf.FormGuard("a-secret-of-enough-length-0123456789")
    nonce = guard.new_nonce()
    form = {csrf.FIELD: guard.token_for(nonce)}
    assert guard.check(form, nonce) is None
    monkeypatch.setattr(csrf, "MAX_AGE_SECONDS", -1)
    assert guard.check(form, nonce) is csrf.Refusal.EXPIRED


async def test_the_honeypot_refuses_without_counting_or_looking_up(db: AsyncEngine, settings: Settings) -> None:
    await plant(db)
    async with serve(settings.model_copy(update={"public_requests_per_minute": 1})) as http:
        token = await form_token(http)
        form = {"desa": VILLAGE, "nama": "Siti Rosida", "nik": "", "csrf_token": token}
        trapped = await http.post(PAGE, data=form | {"website": "http://spam.example"})
        assert trapped.status_code == 400 and 'id="answer"' not in trapped.text
        assert "Formulir tidak dapat dikirim." in trapped.text
        assert (await http.post(PAGE, data=form | {"website": ""})).status_code == 200  # the one allowed look-up


async def test_the_page_and_the_public_graphql_share_one_rate_limit(db: AsyncEngine, settings: Settings) -> None:
    await plant(db)
    async with serve(settings.model_copy(update={"public_requests_per_minute": 2})) as http:
        variables = {"village": VILLAGE, "name": "Siti Rosida"}
        assert (await http.post("/public/graphql", json={"query": LOOKUP, "variables": variables})).status_code == 200
        assert (await look_up(http, "Siti Rosida")).status_code == 200
        limited = await look_up(http, "Siti Rosida")
        assert limited.status_code == 429 and 'id="answer"' not in limited.text
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert "Terlalu banyak pencarian dari alamat Anda: paling banyak 2 per menit" in limited.text
        assert (await http.post("/public/graphql", json={"query": LOOKUP, "variables": variables})).status_code == 429


async def test_nik_look_ups_of_one_name_share_the_public_daily_budget(db: AsyncEngine, settings: Settings) -> None:
    planted = await plant(db)
    nik = planted.niks["rosida:Siti Rosida"]
    async with serve(settings.model_copy(update={"public_nik_checks_per_day": 1})) as http:
        variables = {"village": VILLAGE, "name": "Siti Rosida", "nik": nik}
        first = await http.post("/public/graphql", json={"query": LOOKUP, "variables": variables})
        assert first.json()["data"]["cekBansos"]["found"] is True
        refused = await look_up(http, "SITI ROSIDA", nik)
        assert refused.status_code == 429 and "Nama ini sudah dicari dengan NIK 1 kali hari ini" in refused.text
        assert nik not in refused.text
        assert (await look_up(http, "Siti Rosida")).status_code == 200  # by name only is still answered
