"""The API's messages in the caller's language (core/foundation/wording.py, core/http/language.py): the same bad
requests answered in Indonesian and in English by ``Accept-Language``, with the same codes, and every text of the
code that can reach the API translated in the ``api`` catalog."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import plugins.kube
import plugins.pbi_jk
from core.foundation import wording
from core.foundation.settings import Settings
from core.http.language import language_for
from core.schema.global_ids import encode
from tests import factories
from tests.api_messages import shape, texts
from tests.conftest import token_headers
from tests.serving import serve

INDONESIAN = {"accept-language": "id"}
ENGLISH = {"accept-language": "en"}
RESULT = """__typename ... on Error { message code } ... on ValidationError { fields { field message } }"""
REGISTER = f"mutation($input: HouseholdInput!) {{ registerHousehold(input: $input) {{ {RESULT} }} }}"
UPDATE = f"""mutation($id: ID!, $version: Int!) {{
  updateHousehold(id: $id, version: $version, changes: {{rt: "007"}}) {{ {RESULT} }} }}"""
LOOKUP = """query($village: String!, $name: String!, $nik: String) {
  cekBansos(villageCode: $village, fullName: $name, nik: $nik) { found } }"""
PLUGINS = (plugins.kube, plugins.pbi_jk)  # imported: their catalogs are added (core.plugin_api.add_api_catalog)


# --- the catalog ---------------------------------------------------------------------------------


def test_every_text_that_can_reach_the_api_has_an_indonesian_translation() -> None:
    found = texts()
    assert len(found) > 150  # the scan still finds what it should
    translated = {shape(msgid) for msgid, _msgstr in wording.entries("id")}
    missing = sorted({f"{text.where}: {text.msgid}" for text in found if text.shape not in translated})
    assert missing == [], "add these to core/locale/id/LC_MESSAGES/api.po (or the plugin's api.po):\n" + "\n".join(
        missing
    )


def test_every_translation_keeps_the_values_of_its_message() -> None:
    placeholder = re.compile(r"%\((\w+)\)s")
    for msgid, msgstr in wording.entries("id"):
        wording.Wording.of(msgid, msgstr)  # no two values side by side: a text could not be read back
        assert sorted(placeholder.findall(msgid)) == sorted(placeholder.findall(msgstr)), msgid


@pytest.mark.parametrize(
    ("english", "indonesian"),
    [
        ("NIK must be exactly 16 digits", "NIK harus tepat 16 digit"),  # a problem inside a message
        ("no active household with id 7", "tidak ada rumah tangga aktif dengan id 7"),  # a word inside a message
        ("livestock count is longer than 3 characters", "jumlah ternak lebih dari 3 karakter"),  # label + problem
        ("name holds the control character U+0007; only one line of printable text is taken",
         "nama berisi karakter kendali U+0007; hanya satu baris teks yang dapat dicetak yang diterima"),
        ("NIK 3201014101900001 is already a member of this household",
         "NIK 3201014101900001 sudah menjadi anggota rumah tangga ini"),  # the most literal message wins
    ],
)  # fmt: skip
def test_a_text_is_read_back_to_its_message_and_its_values_carried_over(english: str, indonesian: str) -> None:
    assert wording.say(english, "id") == indonesian
    assert wording.say(english, "en") == english
    with wording.speaking("id"):
        assert wording.say(english) == indonesian


def test_a_text_outside_the_catalog_is_answered_as_written() -> None:
    assert wording.say("Cannot query field 'x' on type 'Query'.", "id") == "Cannot query field 'x' on type 'Query'."
    assert not wording.translated("something no service says", "id")


@pytest.mark.parametrize(
    ("path", "header", "language"),
    [
        ("/graphql", "", "en"),
        ("/public/graphql", "", "id"),
        ("/graphql", "id-ID,id;q=0.9", "id"),
        ("/public/graphql", "en-US", "en"),
        ("/graphql", "en;q=0.3, id;q=0.8", "id"),
        ("/public/graphql", "id;q=0.2, en;q=0.7", "en"),
        ("/public/graphql", "fr, de;q=0.5", "id"),  # nothing we speak: the endpoint's own default
        ("/graphql", "id;q=0", "en"),  # q=0 refuses
    ],
)
def test_the_language_follows_accept_language_with_its_q_values(path: str, header: str, language: str) -> None:
    assert language_for(path, header) == language


# --- the same bad requests in both languages -----------------------------------------------------


async def post(client: httpx.AsyncClient, path: str, query: str, variables: dict[str, Any], **headers: str) -> Any:
    return await client.post(path, json={"query": query, "variables": variables}, headers=headers)


def messages(value: Any) -> list[str]:
    """Every ``message`` in an answer, depth first."""
    if isinstance(value, dict):
        own = [value["message"]] if isinstance(value.get("message"), str) else []
        return own + [m for key, item in value.items() if key != "message" for m in messages(item)]
    if isinstance(value, list):
        return [m for item in value for m in messages(item)]
    return []


def codes(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["code"]] if isinstance(value.get("code"), str) else []
        return own + [c for key, item in value.items() if key != "code" for c in codes(item)]
    if isinstance(value, list):
        return [c for item in value for c in codes(item)]
    return []


def assert_said_in_both(english: httpx.Response, indonesian: httpx.Response) -> list[str]:
    """Same status and codes; every English message is in the catalog and its Indonesian is what was answered."""
    assert english.status_code == indonesian.status_code
    assert english.headers["content-language"] == "en" and indonesian.headers["content-language"] == "id"
    assert "accept-language" in english.headers["vary"].lower()
    said_en, said_id = english.json(), indonesian.json()
    assert codes(said_en) == codes(said_id) and codes(said_en)
    pairs = list(zip(messages(said_en), messages(said_id), strict=True))
    assert pairs
    for en, id_ in pairs:
        assert wording.translated(en, "id"), f"no Indonesian for {en!r}"
        assert id_ == wording.say(en, "id") and id_ != en, (en, id_)
    return [id_ for _en, id_ in pairs]


async def test_a_bad_registration_is_refused_in_the_callers_language(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    bad = factories.household(rt="abcd", floor_area=0)
    bad.members[0].nik = "12345"
    variables = {"input": factories.household_input(bad)}
    headers = token_headers(settings, "data_centre")
    english = await post(client, "/graphql", REGISTER, variables, **headers, **ENGLISH)
    indonesian = await post(client, "/graphql", REGISTER, variables, **headers, **INDONESIAN)
    said = assert_said_in_both(english, indonesian)
    result = english.json()["data"]["registerHousehold"]
    assert result["code"] == "VALIDATION_FAILED" and len(result["fields"]) >= 3
    assert "NIK harus tepat 16 digit" in said and "RT harus 1 sampai 3 digit" in said, said
    assert said[0].endswith("masalah pada masukan; tidak ada yang diubah")
    unasked = await post(client, "/graphql", REGISTER, variables, **headers)  # /graphql speaks English by default
    assert unasked.json() == english.json() and unasked.headers["content-language"] == "en"
    preferred = await post(client, "/graphql", REGISTER, variables, **headers, **{"accept-language": "en;q=0.4, id"})
    assert preferred.json() == indonesian.json()


async def test_a_stale_version_and_a_missing_household_in_both_languages(
    db: AsyncEngine, client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = token_headers(settings, "data_centre")
    registered = await post(
        client, "/graphql", REGISTER, {"input": factories.household_input(factories.household())}, **headers
    )
    household_id = registered.json()["data"]["registerHousehold"]
    assert household_id["__typename"] == "Household", registered.json()
    query = "query { households(first: 1) { edges { node { id } } } }"
    [edge] = (await post(client, "/graphql", query, {}, **headers)).json()["data"]["households"]["edges"]
    stale = {"id": edge["node"]["id"], "version": 99}
    english = await post(client, "/graphql", UPDATE, stale, **headers, **ENGLISH)
    indonesian = await post(client, "/graphql", UPDATE, stale, **headers, **INDONESIAN)
    assert assert_said_in_both(english, indonesian) == ["rumah tangga kini pada versi 1; baca lagi lalu coba lagi"]
    missing = {"id": encode("Household", 999_999), "version": 1}
    english = await post(client, "/graphql", UPDATE, missing, **headers, **ENGLISH)
    indonesian = await post(client, "/graphql", UPDATE, missing, **headers, **INDONESIAN)
    assert assert_said_in_both(english, indonesian) == ["tidak ada rumah tangga aktif dengan id 999999"]


async def test_refusals_before_any_resolver_in_both_languages(client: httpx.AsyncClient, settings: Settings) -> None:
    bad_token = {"authorization": "Bearer not-a-token"}
    english = await post(client, "/graphql", "{ __typename }", {}, **bad_token, **ENGLISH)
    indonesian = await post(client, "/graphql", "{ __typename }", {}, **bad_token, **INDONESIAN)
    assert english.status_code == 401
    assert assert_said_in_both(english, indonesian) == ["belum terautentikasi: token tidak sah"]
    operator = token_headers(settings, "village_operator", "32.01.01.1001")
    cycle = 'mutation { runProgramCycle(program: "bpnt", period: "2026-05", regionCode: "32") { __typename } }'
    english = await post(client, "/graphql", cycle, {}, **operator, **ENGLISH)
    indonesian = await post(client, "/graphql", cycle, {}, **operator, **INDONESIAN)
    assert codes(english.json()) == ["FORBIDDEN"]
    assert assert_said_in_both(english, indonesian)[0].startswith("tidak diizinkan: ")


async def test_the_public_lookup_speaks_indonesian_first(db: AsyncEngine, settings: Settings) -> None:
    lookup = {"village": factories.VILLAGE, "name": "Siti Rosida", "nik": "123"}
    async with serve(settings.model_copy(update={"public_requests_per_minute": 3})) as http:
        english = await post(http, "/public/graphql", LOOKUP, lookup, **ENGLISH)
        indonesian = await post(http, "/public/graphql", LOOKUP, lookup)  # no header: Indonesian
        assert assert_said_in_both(english, indonesian) == [
            "nik: NIK adalah 16 digit pada KTP; kosongkan untuk mencari berdasarkan nama saja"
        ]
        await post(http, "/public/graphql", LOOKUP, lookup)
        english = await post(http, "/public/graphql", LOOKUP, lookup, **ENGLISH)
        indonesian = await post(http, "/public/graphql", LOOKUP, lookup, **{"accept-language": "fr, id;q=0.5"})
        assert english.status_code == 429 and codes(english.json()) == ["TOO_MANY_REQUESTS"]
        [said] = assert_said_in_both(english, indonesian)
        assert said.startswith("terlalu banyak permintaan dari alamat Anda: paling banyak 3 dalam 60 detik")
