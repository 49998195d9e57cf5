"""SIKS-Dataku's limits over HTTP (the real application and database; SQLite and PostgreSQL): the
region-choosing pages per address (``SIKS_DATAKU_REGION_STEPS_PER_MINUTE``, apart from the public
look-ups), and tracking one ticket from all addresses (``SIKS_DATAKU_TICKET_CHECKS_PER_HOUR``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.limits import ticket_key
from core.dataku.pages import CONTENT_SECURITY_POLICY
from core.foundation.settings import Settings
from tests.serving import serve, serve_many
from tests.test_dataku_pages import look_up
from tests.test_dataku_usul import CHAIN, send, ticket_of
from tests.test_public import plant


async def test_region_steps_are_limited_per_address_apart_from_the_look_ups(
    db: AsyncEngine, settings: Settings
) -> None:
    await plant(db)
    limits = {"dataku_region_steps_per_minute": 3, "public_requests_per_minute": 5}
    async with serve_many(settings.model_copy(update=limits), "10.0.0.1", "10.0.0.2") as (first, second):
        assert (await first.get("/dataku/cek-bansos")).status_code == 200
        assert (await first.get("/dataku/usul", params={"provinsi": "32"})).status_code == 200
        assert (await look_up(first, "Siti Rosida")).status_code == 200  # its form is the third step
        limited = await first.get("/dataku/cek-bansos", params=CHAIN)
        assert limited.status_code == 429 and limited.headers["content-type"].startswith("text/html")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "Terlalu banyak halaman dibuka dari alamat Anda: paling banyak 3 per menit" in limited.text
        assert 'id="region-form"' not in limited.text  # no query was made
        assert (await first.get("/dataku/sanggah")).status_code == 429  # Sanggah's steps are steps too
        english = await first.get("/dataku/usul", params={"lang": "en"})
        assert (
            english.status_code == 429 and "Too many pages opened from your address: at most 3 a minute" in english.text
        )
        assert (await first.get("/dataku/")).status_code == 200  # the home page reads nothing: not counted
        assert (await first.get("/dataku/lacak")).status_code == 200
        assert (await second.get("/dataku/cek-bansos", params=CHAIN)).status_code == 200  # another address
        graphql = await first.post("/public/graphql", json={"query": "{ __typename }"})
        assert graphql.status_code == 200  # the steps did not spend the public look-ups (1 of 5 used)


async def test_one_ticket_is_limited_from_all_addresses_together(db: AsyncEngine, settings: Settings) -> None:
    limits = {"dataku_ticket_checks_per_hour": 2, "public_requests_per_minute": 100}
    async with serve_many(settings.model_copy(update=limits), "10.0.0.1", "10.0.0.2", "10.0.0.3") as clients:
        first, second, third = clients
        code = ticket_of(await send(first))
        assert (await first.get("/dataku/lacak", params={"kode": code})).status_code == 200
        assert (await second.get("/dataku/lacak", params={"kode": code.lower()})).status_code == 200  # same ticket
        limited = await third.get("/dataku/lacak", params={"kode": f"{code[:5]}-{code[5:]}"})
        assert limited.status_code == 429 and 'id="status"' not in limited.text
        retry_after = int(limited.headers["retry-after"])
        assert 3000 <= retry_after <= 3600
        assert "Tiket ini terlalu sering dilacak: paling banyak 2 kali per jam" in limited.text
        english = await third.get("/dataku/lacak", params={"kode": code, "lang": "en"})
        assert english.status_code == 429 and "This ticket has been tracked too often" in english.text
        other = await third.get("/dataku/lacak", params={"kode": "ABCDE23456"})
        assert other.status_code == 404  # another code has its own count
        malformed = await third.get("/dataku/lacak", params={"kode": "abc"})
        assert malformed.status_code == 400  # refused before any ticket is counted


async def test_ticket_counts_are_keyed_by_a_keyed_hash_not_the_code(settings: Settings) -> None:
    key = ticket_key(settings.secret_key, "ABCDE23456")
    assert "ABCDE23456" not in key and len(key) == 32
    assert key != ticket_key("another-secret-0123456789abcdef", "ABCDE23456")
    assert key != ticket_key(settings.secret_key, "ABCDE23457")


async def test_guessing_codes_is_limited_by_the_address_limit(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings.model_copy(update={"public_requests_per_minute": 3})) as http:
        for guess in ("AAAAA22222", "AAAAA22223", "AAAAA22224"):
            assert (await http.get("/dataku/lacak", params={"kode": guess})).status_code == 404
        limited = await http.get("/dataku/lacak", params={"kode": "AAAAA22225"})
        assert limited.status_code == 429 and "paling banyak 3 per menit" in limited.text
