"""SIKS-Dataku Sanggah over HTTP against the real application and database: an objection to a named
recipient becomes a grievance case of the village (seen by its operator through GraphQL), its ticket
tracks it on Lacak (public replies and the decision's reason, nothing personal), bad input and forged
forms store nothing, a repeated objection folds, requests are limited."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.models import DatakuTicket, Grievance
from core.schema.global_ids import decode
from tests.conftest import GraphQLClient, token_headers
from tests.grievance_support import SIBLING, VILLAGE, recipient
from tests.serving import serve

SANGGAH = "/dataku/sanggah"
CHAIN = {"provinsi": "32", "kabupaten": "32.01", "kecamatan": "32.01.01", "desa": VILLAGE}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TICKET = re.compile(r'id="ticket">([A-Z2-7]+)<')
CASES = "{ grievances { edges { node { id status reason text reporterPhone householdId version } } } }"
REPLY = """mutation($id: ID!, $v: Int!, $text: String!, $public: Boolean!) {
  replyToGrievance(id: $id, version: $v, text: $text, public: $public) { __typename ... on Grievance { version } } }"""
RESOLVE = """mutation($id: ID!, $v: Int!, $reason: String!) {
  resolveGrievance(id: $id, version: $v, outcome: REJECTED, reason: $reason) { __typename } }"""


def sanggah_form(**change: str) -> dict[str, str]:
    return {
        "desa": VILLAGE,
        "nama": "Siti Rosida",
        "rt": "",
        "jenis": "no_longer_poor",
        "keterangan": "Sudah punya mobil baru dan toko besar di pasar.",
        "telepon": "0812-3456-7890",
        "website": "",
        **change,
    }


async def send(http: httpx.AsyncClient, **change: str) -> httpx.Response:
    page = await http.get(SANGGAH, params=CHAIN)
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match and 'id="sanggah-form"' in page.text
    return await http.post(SANGGAH, data={"csrf_token": match.group(1), **sanggah_form(**change)})


def ticket_of(page: httpx.Response) -> str:
    match = TICKET.search(page.text)
    assert match, page.text
    return match.group(1)


async def stored(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        cases = (await conn.execute(select(func.count()).select_from(Grievance.__table__))).scalar_one()
        tickets = (await conn.execute(select(func.count()).select_from(DatakuTicket.__table__))).scalar_one()
    return int(cases), int(tickets)


async def test_an_objection_is_a_case_of_the_village_and_its_ticket_tracks_it(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    planted = await recipient(db, "Siti Rosida")
    sent = await send(client)
    assert sent.status_code == 201, sent.text
    code = ticket_of(sent)
    assert "SI** RO****" in sent.text and "Siti Rosida" not in sent.text

    operator = GraphQLClient(client, token_headers(settings, "village_operator", VILLAGE))
    [edge] = (await operator(CASES))["grievances"]["edges"]
    case = edge["node"]
    assert (case["status"], case["reason"], case["reporterPhone"]) == ("OPEN", "NO_LONGER_POOR", "081234567890")
    assert "toko besar" in case["text"] and decode(case["householdId"]) == ("Household", str(planted.household_id))
    elsewhere = GraphQLClient(client, token_headers(settings, "village_operator", SIBLING))
    assert (await elsewhere(CASES))["grievances"]["edges"] == []

    tracked = await client.get("/dataku/lacak", params={"kode": code.lower()})
    assert tracked.status_code == 200
    assert "Sanggah diterima: menunggu di tingkat desa/kelurahan." in tracked.text
    assert "Rosida" not in tracked.text and "toko" not in tracked.text and "0812" not in tracked.text

    public = "Kami akan survei rumah penerima minggu ini."
    done = await operator(REPLY, {"id": case["id"], "v": 1, "text": public, "public": True})
    internal = "Info dari Pak RT 03: tokonya milik adik."
    await operator(
        REPLY, {"id": case["id"], "v": done["replyToGrievance"]["version"], "text": internal, "public": False}
    )
    tracked = await client.get("/dataku/lacak", params={"kode": code, "lang": "en"})
    assert public in tracked.text and "the officers replied" in tracked.text
    assert "Pak RT" not in tracked.text and "operator" not in tracked.text.lower()

    reason = "Hasil survei: penerima masih layak dibantu."
    resolved = await operator(RESOLVE, {"id": case["id"], "v": 3, "reason": reason})
    assert resolved["resolveGrievance"]["__typename"] == "Grievance"
    tracked = await client.get("/dataku/lacak", params={"kode": code, "lang": "id"})
    assert "Diputuskan: sanggah tidak diterima; keluarga tetap menerima bantuan." in tracked.text
    assert reason in tracked.text and 'id="resolution"' in tracked.text
    assert str(planted.household_id) not in tracked.text


async def test_bad_input_gets_a_message_per_field_and_stores_nothing(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await recipient(db, "Siti Rosida")
    bad = await send(client, nama="A", rt="abcd", jenis="jahat", keterangan="x", telepon="12")
    assert bad.status_code == 400
    assert set(re.findall(r'data-field="([a-z]+)"', bad.text)) == {"nama", "rt", "jenis", "keterangan", "telepon"}
    assert "Pilih alasan dari daftar." in bad.text
    assert "Jelaskan dalam 10 sampai 400 karakter mengapa penerima tidak layak." in bad.text
    english = await client.post(
        SANGGAH + "?lang=en",
        data={"csrf_token": TOKEN.search(bad.text).group(1), **sanggah_form(jenis="")},  # type: ignore[union-attr]
    )
    assert english.status_code == 400 and "Choose the reason from the list." in english.text
    village = await send(client, desa="32.01.01")
    assert village.status_code == 400 and 'data-field="desa"' in village.text
    assert await stored(db) == (0, 0)


async def test_only_a_current_recipient_can_be_objected_to(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await recipient(db, "Budi Santoso", receiving=False)
    await recipient(db, "Siti Rosida", SIBLING)
    for name in ("Budi Santoso", "Siti Rosida", "Orang Lain"):  # not receiving; another village; nobody
        refused = await send(client, nama=name)
        assert refused.status_code == 400 and 'data-field="nama"' in refused.text
        assert "Tidak ada penerima bantuan dengan nama itu di desa/kelurahan ini saat ini." in refused.text
    assert await stored(db) == (0, 0)


async def test_two_recipients_of_one_name_are_told_apart_by_rt(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await recipient(db, "Siti Rosida", rt="001")
    second = await recipient(db, "SITI  ROSIDA", rt="007")
    ambiguous = await send(client)
    assert ambiguous.status_code == 400 and 'data-field="rt"' in ambiguous.text
    assert "tulis RT tempat tinggal penerima" in ambiguous.text and "RT 007" not in ambiguous.text
    sent = await send(client, rt="7")
    assert sent.status_code == 201
    async with db.connect() as conn:
        household = (await conn.execute(select(Grievance.__table__.c.household_id))).scalar_one()
    assert household == second.household_id


async def test_the_same_objection_again_gets_the_same_ticket(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await recipient(db, "Siti Rosida")
    first = ticket_of(await send(client))
    again = await send(client, nama="siti  rosida", keterangan="Dikirim lagi, lupa kode tiketnya.")
    assert again.status_code == 200 and ticket_of(again) == first and 'id="folded"' in again.text
    other_reason = await send(client, jenis="civil_servant", keterangan="Suaminya anggota Polri aktif.")
    assert other_reason.status_code == 201 and ticket_of(other_reason) != first
    assert await stored(db) == (2, 2)


async def test_forged_forms_and_the_honeypot_store_nothing(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await recipient(db, "Siti Rosida")
    await client.get(SANGGAH, params=CHAIN)
    forged = await client.post(SANGGAH, data={"csrf_token": "forged", **sanggah_form()})
    assert forged.status_code == 403 and "Formulir sudah kedaluwarsa" in forged.text
    assert (await client.post(SANGGAH, data=sanggah_form())).status_code == 403
    honeypot = await send(client, website="http://spam.example")
    assert honeypot.status_code == 400 and 'id="ticket"' not in honeypot.text
    assert await stored(db) == (0, 0)


async def test_sanggah_counts_against_the_address_limit(db: AsyncEngine, settings: Settings) -> None:
    await recipient(db, "Siti Rosida")
    async with serve(settings.model_copy(update={"public_requests_per_minute": 2})) as http:
        code = ticket_of(await send(http))
        assert (await http.get("/dataku/lacak", params={"kode": code})).status_code == 200
        limited = await send(http, jenis="moved")
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert "Terlalu banyak permintaan dari alamat Anda: paling banyak 2 per menit" in limited.text
    assert await stored(db) == (1, 1)


async def test_the_home_page_links_to_sanggah(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    home = await client.get("/dataku/")
    assert 'href="/dataku/sanggah"' in home.text and "Sanggah penerima bantuan" in home.text
    page = await client.get(SANGGAH, params=CHAIN)
    assert page.status_code == 200 and "Mengapa penerima tidak layak?" in page.text and "Sudah mampu" in page.text
