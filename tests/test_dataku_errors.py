"""SIKS-Dataku's own refusals over HTTP (the real application and database; SQLite and PostgreSQL): an
unknown path, a method a page does not answer, an unexpected failure and a database outage each get a
small HTML page in the request's language with the pages' security headers, never plain text or JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.pages import CONTENT_SECURITY_POLICY
from core.foundation.settings import Settings
from core.http.app import create_app
from core.runtime.outage import RETRY_AFTER_SECONDS
from tests.outage_support import PostgresOutage, SQLiteOutage


def assert_page(response: httpx.Response, status: int, language: str, *texts: str) -> None:
    """An HTML page of the site, in ``language``, with the security headers and no script."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-language"] == language and f'<html lang="{language}">' in response.text
    assert "<script" not in response.text and 'id="to-home"' in response.text
    for text in texts:
        assert text in response.text, response.text


@pytest.mark.parametrize(
    ("path", "language", "text"),
    [
        ("/dataku/tidak-ada", "id", "Tidak ada halaman di alamat ini."),
        ("/dataku/tidak-ada?lang=en", "en", "There is no page at this address."),
        ("/dataku/cek-bansos/lagi", "id", "Halaman tidak ditemukan"),
        ("/dataku/static/tidak-ada.css", "id", "Halaman tidak ditemukan"),
    ],
)
async def test_an_unknown_path_gets_a_404_page_in_the_language(
    client: httpx.AsyncClient, path: str, language: str, text: str
) -> None:
    assert_page(await client.get(path), 404, language, text)


async def test_accept_language_chooses_the_error_pages_language(client: httpx.AsyncClient) -> None:
    page = await client.get("/dataku/tidak-ada", headers={"accept-language": "en-GB,en;q=0.9"})
    assert_page(page, 404, "en", "Page not found")


async def test_a_method_the_page_does_not_answer_gets_a_405_page_naming_every_allowed_method(
    client: httpx.AsyncClient,
) -> None:
    put = await client.put("/dataku/cek-bansos", content=b"x")
    assert_page(put, 405, "id", "Halaman ini tidak menerima permintaan seperti itu.")
    assert put.headers["allow"] == "GET, HEAD, POST"
    post = await client.post("/dataku/lacak?lang=en", data={"kode": "ABCDE23456"})
    assert_page(post, 405, "en", "This page does not accept that kind of request.")
    assert post.headers["allow"] == "GET, HEAD"
    assert (await client.get("/graphql-nothing")).headers["content-type"].startswith("application/json")  # the API


async def test_an_unexpected_failure_gets_a_500_page_with_the_request_id_and_no_internals(
    db: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("core.dataku.lacak.track", broken)  # any unexpected failure while answering a page
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http:
            page = await http.get("/dataku/lacak", params={"kode": "ABCDE23456"}, headers={"X-Request-Id": "r-500"})
            english = await http.get("/dataku/lacak", params={"kode": "ABCDE23456", "lang": "en"})
    assert_page(page, 500, "id", "Terjadi kesalahan", "r-500")
    assert "secret" not in page.text and page.headers["x-request-id"] == "r-500"
    assert_page(english, 500, "en", "The page failed on our side")
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)  # the log has it


@pytest.fixture
async def outage(
    db: AsyncEngine, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    quick = {"db_connect_timeout_seconds": 1.0, "db_pool_timeout_seconds": 1.0, "db_lock_timeout_seconds": 0.5}
    base = settings.model_copy(update=quick)
    made = PostgresOutage(base) if db.dialect.name == "postgresql" else SQLiteOutage(base, tmp_path)
    app = create_app(await made.start())
    try:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http,
        ):
            assert (await http.get("/dataku/cek-bansos")).status_code == 200
            await made.down(app)
            yield made, http
    finally:
        await made.close()


async def test_a_database_outage_gets_a_503_page_with_retry_after(outage: tuple[object, httpx.AsyncClient]) -> None:
    _made, http = outage
    page = await http.get("/dataku/cek-bansos", params={"provinsi": "32"})
    assert_page(page, 503, "id", "Basis data sedang tidak dapat menjawab", f"{RETRY_AFTER_SECONDS} detik")
    assert page.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
