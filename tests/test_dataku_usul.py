"""SIKS-Dataku Usul and Lacak over HTTP against the real application and database: a citizen's usul
becomes a pending proposal of the village (seen by its operator through GraphQL), its ticket tracks
it through the chain, bad input and forged forms store nothing, duplicates fold, requests are limited;
other members and a photo of the house (checked as field photos, kept without metadata) travel with it."""

from __future__ import annotations

import io
import random
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.usul import HOUSE_PLACEHOLDERS, TICKET_ALPHABET, TICKET_LENGTH
from core.foundation.enums import Sex
from core.foundation.refusals import Invalid
from core.foundation.settings import Settings
from core.households.identity import make_nik
from core.households.service import register_household
from core.models import PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS, DatakuTicket, Proposal, VisitPhoto
from core.models.security import AuditEntry
from core.schema.global_ids import decode
from core.storage.db import write_transaction
from tests.conftest import GraphQLClient, token_headers
from tests.factories import VILLAGE, household
from tests.photo_files import gps_of, jpeg_with_gps, png
from tests.serving import serve

USUL = "/dataku/usul"
CHAIN = {"provinsi": "32", "kabupaten": "32.01", "kecamatan": "32.01.01", "desa": VILLAGE}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TICKET = re.compile(r'id="ticket">([A-Z2-7]+)<')
HEAD_NIK = make_nik("32.01.01", date(1985, 6, 5), Sex.FEMALE, 7)
KK = "3201010000012345"

PROPOSALS = """
query { proposals(first: 50) { edges { node { id kind status stage villageCode createdBy note
  household { id } } } } }
"""
APPROVE = "mutation($id: ID!) { approveProposals(ids: [$id]) { __typename ... on StepRefused { message } } }"
RETURN = "mutation($id: ID!, $reason: String!) { returnProposal(id: $id, reason: $reason) { __typename } }"
REJECT = "mutation($id: ID!, $r: String!) { rejectProposal(id: $id, reason: $r) { __typename } }"


def usul_form(**change: str) -> dict[str, str]:
    return {
        "desa": VILLAGE,
        "nama": "Neneng Kurniasih",
        "nik": HEAD_NIK,
        "kk": KK,
        "alamat": "Kampung Rawa Kalong",
        "rt": "003",
        "rw": "005",
        "telepon": "0812-3456-7890",
        "alasan": "Suami meninggal, tiga anak masih sekolah, tidak ada penghasilan tetap.",
        "website": "",
        **change,
    }


async def revised_after_the_visit(db: AsyncEngine, settings: Settings, proposal_id: int) -> None:
    """The village operator revises the returned usul with the house as found on the visit."""
    from core.audit.log import RequestInfo
    from core.auth.principal import Principal
    from core.verification.proposals import Revision, proposal_by_id, revise_proposal

    operator = RequestInfo(Principal("operator-desa", "village_operator", VILLAGE), client="test")
    async with write_transaction(db) as conn:
        record = await proposal_by_id(conn, proposal_id, VILLAGE)
        assert record is not None
        surveyed = household(village=VILLAGE)
        made = await revise_proposal(conn, operator, proposal_id, record.version, Revision(household=surveyed))
        assert not isinstance(made, Invalid), made


async def send(http: httpx.AsyncClient, photo: tuple[str, bytes, str] | None = None, **change: str) -> httpx.Response:
    """The usul form as a browser posts it: multipart when a photo is chosen (field ``foto``)."""
    page = await http.get(USUL, params=CHAIN)
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match and 'id="usul-form"' in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text
    files = {"foto": photo} if photo is not None else None
    return await http.post(USUL, data={"csrf_token": match.group(1), **usul_form(**change)}, files=files)


def ticket_of(page: httpx.Response) -> str:
    match = TICKET.search(page.text)
    assert match, page.text
    return match.group(1)


async def stored(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        proposals = (await conn.execute(select(func.count()).select_from(Proposal.__table__))).scalar_one()
        tickets = (await conn.execute(select(func.count()).select_from(DatakuTicket.__table__))).scalar_one()
    return int(proposals), int(tickets)


async def test_a_usul_is_a_pending_proposal_of_the_village_and_its_ticket_tracks_it(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    sent = await send(client)
    assert sent.status_code == 201, sent.text
    code = ticket_of(sent)
    assert len(code) == TICKET_LENGTH and set(code) <= set(TICKET_ALPHABET)
    assert HEAD_NIK not in sent.text and KK not in sent.text

    operator = GraphQLClient(client, token_headers(settings, "village_operator", VILLAGE))
    [edge] = (await operator(PROPOSALS))["proposals"]["edges"]
    proposal = edge["node"]
    assert (proposal["kind"], proposal["status"], proposal["stage"]) == ("NEW_HOUSEHOLD", "PENDING", "DISTRICT")
    assert proposal["villageCode"] == VILLAGE and proposal["createdBy"] == "dataku"
    assert "0812345678" in proposal["note"] and "tiga anak" in proposal["note"]
    elsewhere = GraphQLClient(client, token_headers(settings, "village_operator", "32.01.01.1002"))
    assert (await elsewhere(PROPOSALS))["proposals"]["edges"] == []

    tracked = await client.get("/dataku/lacak", params={"kode": code.lower()})
    assert tracked.status_code == 200
    assert "Sedang diverifikasi: menunggu di tingkat kecamatan." in tracked.text
    assert "diusulkan" in tracked.text and HEAD_NIK not in tracked.text and "Neneng" not in tracked.text
    assert "Kalong" not in tracked.text and "0812" not in tracked.text

    district = GraphQLClient(client, token_headers(settings, "district_officer", "32.01.01"))
    unsurveyed = (await district(APPROVE, {"id": proposal["id"]}))["approveProposals"][0]
    assert unsurveyed["__typename"] == "StepRefused", unsurveyed  # the house is not surveyed yet
    returned = await district(RETURN, {"id": proposal["id"], "reason": "survei rumah dulu"})
    assert returned["returnProposal"]["__typename"] == "Proposal"
    await revised_after_the_visit(db, settings, int(decode(proposal["id"])[1]))  # type: ignore[index]
    assert (await district(APPROVE, {"id": proposal["id"]}))["approveProposals"][0]["__typename"] == "Proposal"
    tracked = await client.get("/dataku/lacak", params={"kode": code, "lang": "en"})
    assert "Being verified: waiting at the regency or city level." in tracked.text
    assert "approved and sent on" in tracked.text

    regency = GraphQLClient(client, token_headers(settings, "regency_office", "32.01"))
    rejected = await regency(REJECT, {"id": proposal["id"], "r": "Sudah pindah ke Depok, Bu Neneng"})
    assert rejected["rejectProposal"]["__typename"] == "Proposal"
    tracked = await client.get("/dataku/lacak", params={"kode": code})
    assert "Not accepted: rejected at the regency or city level." in tracked.text
    assert "Depok" not in tracked.text  # the officer's reason is not public


async def test_the_head_is_read_from_the_nik_and_the_house_awaits_the_village_visit(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    assert (await send(client)).status_code == 201
    async with db.connect() as conn:
        household = (await conn.execute(select(PROPOSED_HOUSEHOLDS))).one()
        member = (await conn.execute(select(PROPOSED_MEMBERS))).one()
    assert household.kk_number == KK and household.floor_area == HOUSE_PLACEHOLDERS["floor_area"]
    assert (household.rt, household.rw, household.address) == ("003", "005", "Kampung Rawa Kalong")
    assert (member.nik, member.name, member.sex, member.relationship) == (
        HEAD_NIK,
        "Neneng Kurniasih",
        "female",
        "head",
    )
    assert str(member.birth_date)[:10] == "1985-06-05"


async def test_bad_input_gets_a_message_per_field_and_stores_nothing(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    bad = await send(client, nik="3201011234", kk="12", nama="A", alamat="", rt="abcd", telepon="12", alasan="x")
    assert bad.status_code == 400
    fields = set(re.findall(r'data-field="([a-z]+)"', bad.text))
    assert fields == {"nik", "kk", "nama", "alamat", "rt", "telepon", "alasan"}
    assert "NIK kepala keluarga adalah 16 angka di KTP" in bad.text
    assert "3201011234" not in bad.text
    english = await client.post(
        USUL + "?lang=en",
        data={"csrf_token": TOKEN.search(bad.text).group(1), **usul_form(rw="")},  # type: ignore[union-attr]
    )
    assert english.status_code == 400 and "RW is 1 to 3 digits, such as 005." in english.text
    village = await send(client, desa="32.01.01")
    assert village.status_code == 400 and 'data-field="desa"' in village.text
    assert await stored(db) == (0, 0)


async def test_a_nik_or_kk_already_registered_is_refused_in_the_catalogs_words(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    data = household()
    async with write_transaction(db) as conn:
        assert not isinstance(await register_household(conn, data), Invalid)
    before = await stored(db)
    refused = await send(client, nik=data.members[0].nik)
    assert refused.status_code == 400
    assert "NIK ini sudah terdaftar dalam sebuah keluarga" in refused.text
    refused = await send(client, kk=data.kk_number)
    assert refused.status_code == 400 and "Kartu Keluarga (KK) ini sudah terdaftar." in refused.text
    assert await stored(db) == before


async def test_the_same_family_sent_again_gets_the_same_ticket_and_nothing_new(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    first = ticket_of(await send(client))
    again = await send(client, nama="Neneng K.", alasan="Dikirim lagi karena lupa kode tiketnya.")
    assert again.status_code == 200 and ticket_of(again) == first and 'id="folded"' in again.text
    by_kk = await send(client, nik=make_nik("32.01.01", date(1980, 1, 2), Sex.MALE, 9))
    assert ticket_of(by_kk) == first
    assert await stored(db) == (1, 1)


async def test_forged_forms_and_the_honeypot_store_nothing(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await client.get(USUL, params=CHAIN)
    forged = await client.post(USUL, data={"csrf_token": "forged", **usul_form()})
    assert forged.status_code == 403 and "Formulir sudah kedaluwarsa" in forged.text
    missing = await client.post(USUL, data=usul_form())
    assert missing.status_code == 403
    honeypot = await send(client, website="http://spam.example")
    assert honeypot.status_code == 400
    assert await stored(db) == (0, 0)


async def test_unknown_and_malformed_tickets_get_a_clear_message(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    unknown = await client.get("/dataku/lacak", params={"kode": "ABCDE23456"})
    assert unknown.status_code == 404 and "Tidak ada usulan atau sanggah dengan kode tiket itu" in unknown.text
    malformed = await client.get("/dataku/lacak", params={"kode": "abc-0", "lang": "en"})
    assert malformed.status_code == 400 and "A ticket code is 10 letters and digits" in malformed.text
    empty = await client.get("/dataku/lacak")
    assert empty.status_code == 200 and 'id="lacak-form"' in empty.text


async def test_usul_and_lacak_count_against_the_address_limit(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings.model_copy(update={"public_requests_per_minute": 2})) as http:
        code = ticket_of(await send(http))
        assert (await http.get("/dataku/lacak", params={"kode": code})).status_code == 200
        limited = await http.get("/dataku/lacak", params={"kode": code})
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert "Terlalu banyak permintaan dari alamat Anda: paling banyak 2 per menit" in limited.text
        refused = await send(http, nik=make_nik("32.01.01", date(1990, 3, 4), Sex.MALE, 3), kk="3201010000099999")
        assert refused.status_code == 429 and 'id="ticket"' not in refused.text
    assert await stored(db) == (1, 1)


async def test_the_example_of_the_docs(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    chain = {"provinsi": "32", "kabupaten": "32.01", "kecamatan": "32.01.11", "desa": "32.01.11.2001"}
    page = await client.get(USUL, params=chain)
    token = TOKEN.search(page.text)
    assert token, page.text
    example = usul_form(desa="32.01.11.2001", nik="3201114506850007", kk="3201110000012345", rt="3", rw="5")
    husband = {"anggota1_nama": "Asep Sunandar", "anggota1_nik": "3201112011800004", "anggota1_hubungan": "spouse"}
    sent = await client.post(
        USUL,
        data={"csrf_token": token.group(1), **example, **husband, "telepon": "081234567890"},
        files={"foto": ("rumah.png", png(), "image/png")},
    )
    assert sent.status_code == 201, sent.text
    tracked = await client.get(f"/dataku/lacak?kode={ticket_of(sent)}")
    assert "Sedang diverifikasi: menunggu di tingkat kecamatan" in tracked.text


async def test_a_returned_usul_says_so_and_the_proposal_is_audited_as_the_pages(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    code = ticket_of(await send(client))
    district = GraphQLClient(client, token_headers(settings, "district_officer", "32.01.01"))
    [edge] = (await district(PROPOSALS))["proposals"]["edges"]
    back = "mutation($id: ID!, $r: String!) { returnProposal(id: $id, reason: $r) { __typename } }"
    returned = await district(back, {"id": edge["node"]["id"], "r": "Lengkapi data rumah setelah kunjungan"})
    assert returned["returnProposal"]["__typename"] == "Proposal"
    tracked = await client.get("/dataku/lacak", params={"kode": code})
    assert "Dikembalikan ke tingkat desa/kelurahan untuk diperbaiki." in tracked.text
    assert "dikembalikan untuk diperbaiki" in tracked.text and "kunjungan" not in tracked.text
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(AuditEntry.__table__.c.actor, AuditEntry.__table__.c.operation).where(
                    AuditEntry.__table__.c.entity == "proposal"
                )
            )
        ).all()
    assert ("dataku", "proposal:propose") in [tuple(row) for row in rows]
    again = await send(client, alasan="Masih menunggu kunjungan desa, dikirim lagi.")
    assert ticket_of(again) == code  # a returned usul is still open: folded


CHILD_NIK = make_nik("32.01.01", date(2012, 3, 4), Sex.MALE, 8)
HUSBAND_NIK = make_nik("32.01.01", date(1980, 11, 20), Sex.MALE, 4)
PHOTOS_OF_PROPOSALS = """
query { proposals(first: 5) { edges { node { photos { id kind contentType size uploadedBy url } } } } }
"""


def photo_files(settings: Settings) -> set[Path]:
    return {path for path in settings.photo_dir.rglob("*") if path.is_file()}


async def stored_photos(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(VisitPhoto.__table__))).all())


async def test_a_photo_of_the_house_is_kept_without_its_metadata_and_shown_to_the_operators(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    original = jpeg_with_gps(64, 48)
    assert gps_of(original)  # the phone wrote where the photo was taken
    before = photo_files(settings)
    sent = await send(client, photo=("rumah.jpg", original, "image/jpeg"))
    assert sent.status_code == 201, sent.text

    operator = GraphQLClient(client, token_headers(settings, "village_operator", VILLAGE))
    [edge] = (await operator(PHOTOS_OF_PROPOSALS))["proposals"]["edges"]
    [photo] = edge["node"]["photos"]
    assert (photo["kind"], photo["contentType"], photo["uploadedBy"]) == ("HOUSE_FRONT", "image/jpeg", "dataku")
    assert photo["size"] == len(original)
    served = await client.get(photo["url"], headers=token_headers(settings, "village_operator", VILLAGE))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert gps_of(served.content) == {}  # even an officer gets it without the position: the original is not kept
    assert Image.open(io.BytesIO(served.content)).size == (64, 48)
    elsewhere = token_headers(settings, "village_operator", "32.01.01.1002")
    assert (await client.get(photo["url"], headers=elsewhere)).status_code == 404

    [row] = await stored_photos(db)
    assert row.visit_id is None and row.proposal_id is not None  # type: ignore[attr-defined]
    assert row.original_key == row.public_key  # type: ignore[attr-defined]
    [kept] = photo_files(settings) - before
    assert gps_of(kept.read_bytes()) == {}
    audit = AuditEntry.__table__
    async with db.connect() as conn:
        query = select(audit.c.actor).where(
            audit.c.operation == "attachProposalPhoto",
            audit.c.entity_id == str(row.id),  # type: ignore[attr-defined]
        )
        assert (await conn.execute(query)).scalars().all() == ["dataku"]


async def test_a_png_photo_and_other_members_travel_with_the_head(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    rows = {
        "anggota1_nama": "Asep Sunandar",
        "anggota1_nik": HUSBAND_NIK,
        "anggota1_hubungan": "spouse",
        "anggota3_nama": "  Dede   Rohman ",
        "anggota3_nik": CHILD_NIK,
        "anggota3_hubungan": "child",
    }
    sent = await send(client, photo=("rumah.png", png(), "image/png"), **rows)  # row 2 left empty: ignored
    assert sent.status_code == 201, sent.text
    async with db.connect() as conn:
        members = (await conn.execute(select(PROPOSED_MEMBERS).order_by(PROPOSED_MEMBERS.c.name))).all()
    found = [(m.name, m.nik, m.sex, m.relationship, str(m.birth_date)[:10]) for m in members]
    assert found == [
        ("Asep Sunandar", HUSBAND_NIK, "male", "spouse", "1980-11-20"),
        ("Dede Rohman", CHILD_NIK, "male", "child", "2012-03-04"),
        ("Neneng Kurniasih", HEAD_NIK, "female", "head", "1985-06-05"),
    ]
    [row] = await stored_photos(db)
    assert row.content_type == "image/png"  # type: ignore[attr-defined]


async def test_a_bad_member_row_is_refused_naming_its_row_and_nothing_is_stored(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    registered = household()
    async with write_transaction(db) as conn:
        assert not isinstance(await register_household(conn, registered), Invalid)
    before, files = await stored(db), photo_files(settings)
    photo = ("rumah.jpg", jpeg_with_gps(), "image/jpeg")

    bad = await send(client, photo, anggota2_nama="Dede", anggota2_nik="3201011234", anggota2_hubungan="child")
    assert bad.status_code == 400 and 'data-field="anggota2"' in bad.text
    assert "Anggota keluarga baris 2: NIK adalah 16 angka di Kartu Keluarga (KK)" in bad.text
    assert "3201011234" not in bad.text and 'value="Dede"' in bad.text  # the name is kept, the NIK never shown
    head = await send(client, photo, anggota4_nama="Ibu Kedua", anggota4_nik=CHILD_NIK, anggota4_hubungan="head")
    assert head.status_code == 400 and "baris 4: Pilih hubungan anggota" in head.text  # one head: the one above

    taken = registered.members[0].nik
    elsewhere = await send(client, photo, anggota3_nama="Asep Sunandar", anggota3_nik=taken, anggota3_hubungan="spouse")
    assert elsewhere.status_code == 400 and 'data-field="anggota3"' in elsewhere.text
    assert "Anggota keluarga baris 3: NIK ini sudah terdaftar dalam sebuah keluarga" in elsewhere.text
    twice = await send(client, photo, anggota1_nama="Neneng Lagi", anggota1_nik=HEAD_NIK, anggota1_hubungan="other")
    assert twice.status_code == 400 and "baris 1: NIK ini juga ditulis untuk anggota keluarga yang lain" in twice.text
    no_nik = await send(client, anggota5_nama="Asep Sunandar", anggota5_hubungan="spouse")
    assert no_nik.status_code == 400 and "Anggota keluarga baris 5: NIK adalah 16 angka" in no_nik.text
    assert '<details id="more-members" open>' in no_nik.text  # rows 4 to 9 are folded unless one needs care

    assert await stored(db) == before and await stored_photos(db) == []
    assert photo_files(settings) == files


async def test_a_photo_that_is_not_what_it_claims_or_not_an_image_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: AsyncEngine, settings: Settings
) -> None:
    files = photo_files(settings)
    lying = await send(client, photo=("rumah.jpg", png(), "image/jpeg"))
    assert lying.status_code == 400 and 'data-field="foto"' in lying.text
    assert "dinamai atau ditandai sebagai JPEG tetapi isinya PNG" in lying.text
    text = await send(client, photo=("rumah.png", b"<html>bukan foto</html>", "image/png"))
    assert text.status_code == 400 and "Foto rumah harus berupa gambar JPEG, PNG atau WebP" in text.text
    cut = await send(client, photo=("rumah.jpg", jpeg_with_gps()[:300], "image/jpeg"))
    assert cut.status_code == 400 and "tidak dapat dibaca sebagai gambar yang utuh" in cut.text
    with_bad_fields = await send(client, photo=("rumah.jpg", jpeg_with_gps(), "image/jpeg"), rt="abcd")
    assert with_bad_fields.status_code == 400 and 'data-field="rt"' in with_bad_fields.text  # the photo was fine
    forged = await client.post(
        USUL, data={"csrf_token": "forged", **usul_form()}, files={"foto": ("rumah.jpg", jpeg_with_gps())}
    )
    assert forged.status_code == 403 and "Formulir sudah kedaluwarsa" in forged.text
    assert await stored(db) == (0, 0) and await stored_photos(db) == []
    assert photo_files(settings) == files


def noisy_jpeg(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(out, "JPEG")
    return out.getvalue()


async def test_a_photo_or_form_over_the_limit_is_refused_with_413_and_a_page(
    db: AsyncEngine, settings: Settings
) -> None:
    files = photo_files(settings)
    async with serve(settings.model_copy(update={"max_photo_bytes": 4096})) as http:
        over = noisy_jpeg(96)
        assert 4096 < len(over) < 64 * 1024  # within the form's room: the photo's own check refuses it
        refused = await send(http, photo=("rumah.jpg", over, "image/jpeg"))
        assert refused.status_code == 413 and 'data-field="foto"' in refused.text
        assert "Foto rumah lebih besar dari 0.00391 MB" in refused.text and 'id="usul-form"' in refused.text

        huge = noisy_jpeg(480)
        assert len(huge) > 4096 + 64 * 1024  # the body itself is over the limit: refused before it is read
        refused = await send(http, photo=("rumah.jpg", huge, "image/jpeg"))
        assert refused.status_code == 413 and refused.headers["content-type"].startswith("text/html")
        assert "Foto rumah lebih besar dari" in refused.text and 'href="/dataku/usul"' in refused.text
        assert "content-security-policy" in refused.headers

        async def streamed() -> AsyncIterator[bytes]:  # no declared length: counted while it is read
            yield b'--b0undary\r\nContent-Disposition: form-data; name="foto"; filename="rumah.jpg"\r\n\r\n'
            for _ in range(20):
                yield b"x" * 10_000

        multipart = {"content-type": "multipart/form-data; boundary=b0undary"}
        refused = await http.post(USUL, content=streamed(), headers=multipart)
        assert refused.status_code == 413 and "Foto rumah lebih besar dari" in refused.text

        form = await http.post("/dataku/cek-bansos", data={"nama": "x" * 1_100_000})
        assert form.status_code == 413 and "Formulir lebih besar daripada" in form.text
    assert await stored(db) == (0, 0) and await stored_photos(db) == []
    assert photo_files(settings) == files
