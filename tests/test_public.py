"""The public endpoint: Cek Bansos (masked, exact, capped), regional recaps (their counting), rate limits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import Relationship, Sex
from core.foundation.ids import ids
from core.foundation.settings import Settings
from core.households import service
from core.households.data import HouseholdData
from core.models import Enrollment, ProgramCycle, VerificationRound, Visit
from core.programs.registry import registry_from_settings
from core.public import lookup
from core.public.names import mask_name, normalise_name
from core.public.recap import RecapCache, RegionRecap
from core.runtime.ratelimit import MemoryStore, RateLimiter, client_key
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS
from tests import factories
from tests.serving import serve, serve_many

VILLAGE = factories.VILLAGE  # 32.01.01.1001 Pondok Rajeg
NEIGHBOUR = "32.01.01.1002"  # Karadenan, same district
ELSEWHERE = factories.OTHER_VILLAGE  # 35.78.01.1001, Kota Surabaya
REDIS_URL = "redis://127.0.0.1:6379/15"
ENGLISH = {"accept-language": "en"}  # the endpoint answers in Indonesian unless asked (tests/test_api_language.py)

LOOKUP = """
query Lookup($village: String!, $name: String!, $nik: String) {
  cekBansos(villageCode: $village, fullName: $name, nik: $nik) {
    found
    people { maskedName aid { program programName period firstDay lastDay } }
  }
}"""
RECAP = """
query Recap($code: String!) {
  recap(regionCode: $code) {
    regionCode regionName level households verifiedHouseholds verifiedShare
    recipients { program programName period firstDay lastDay households }
  }
}"""


def family(village: str, *names: str) -> HouseholdData:
    district = village.rsplit(".", 1)[0]
    first, *rest = names
    members = [factories.member(district=district, name=first)]
    members += [factories.member(Relationship.CHILD, Sex.FEMALE, date(2010, 3, 4), district, name) for name in rest]
    return factories.household(village, members=members)


@dataclass
class Planted:
    households: dict[str, int]
    niks: dict[str, str]


async def plant(engine: AsyncEngine) -> Planted:
    """Six households in three villages; enrollments by approved cycles and one not yet approved; two verified.

    - rosida: Pondok Rajeg, "Siti Rosida" and "Budi Santoso"; determined in a DTKS edition; PKH 2025-Q4 and
      2026-Q1 (approved), BPNT 2026-03 (cycle completed, not approved)
    - namesake: Pondok Rajeg, another "SITI  ROSIDA"; nothing received
    - neighbour: Karadenan, "Siti Rosida"; PKH 2026-Q1
    - inactive: Pondok Rajeg, "Siti Rosida", household made inactive
    - santosa: Pondok Rajeg, "Budi Santosa"; found on a field visit; PKH 2026-Q1
    - surabaya: Kota Surabaya, "Siti Rosida"; BPNT 2026-03 (approved)
    """
    plan = {
        "rosida": family(VILLAGE, "Siti Rosida", "Budi Santoso"),
        "namesake": family(VILLAGE, "SITI  ROSIDA"),
        "neighbour": family(NEIGHBOUR, "Siti Rosida"),
        "inactive": family(VILLAGE, "Siti Rosida"),
        "santosa": family(VILLAGE, "Budi Santosa"),
        "surabaya": family(ELSEWHERE, "Siti Rosida"),
    }
    households: dict[str, int] = {}
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        for key, data in plan.items():
            record = await service.register_household(conn, data)
            assert not isinstance(record, service.Invalid), record
            households[key] = record.id
        await conn.execute(
            update(HOUSEHOLDS).where(HOUSEHOLDS.c.id == households["inactive"]).values(status="inactive")
        )
        await conn.execute(  # as a determination leaves it (the edition itself is not needed here)
            update(HOUSEHOLDS)
            .where(HOUSEHOLDS.c.id == households["rosida"])
            .values(determined_edition_id=ids.next_id())
        )
        round_id = ids.next_id()
        await conn.execute(
            insert(VerificationRound.__table__).values(
                id=round_id, period="2026-Q1", label="verivali", created_by="test", created_at=now
            )
        )
        visit = {"round_id": round_id, "visited_at": now, "recorded_at": now, "latitude": -6.48, "longitude": 106.85}
        visit |= {"household_version": 1, "officer": "test", "role": "village_operator"}
        await conn.execute(
            insert(Visit.__table__),
            [
                {"id": ids.next_id(), "household_id": households[key], "village_code": village, "outcome": outcome}
                | visit
                for key, village, outcome in (("santosa", VILLAGE, "found"), ("namesake", VILLAGE, "not_found"))
            ],
        )
        cycles = {
            ("pkh", "2025-Q4", "32"): "approved",
            ("pkh", "2026-Q1", "32"): "approved",
            ("bpnt", "2026-03", "32"): "completed",
            ("bpnt", "2026-03", "35"): "approved",
        }
        cycle_ids = {scope: ids.next_id() for scope in cycles}
        await conn.execute(
            insert(ProgramCycle.__table__),
            [
                {
                    "id": cycle_ids[scope],
                    "program": scope[0],
                    "period": scope[1],
                    "region_code": scope[2],
                    "status": status,
                    "started_at": now,
                    "run_by": "test",
                }
                for scope, status in cycles.items()
            ],
        )
        periods = {
            "2025-Q4": (date(2025, 10, 1), date(2026, 1, 1)),
            "2026-Q1": (date(2026, 1, 1), date(2026, 4, 1)),
            "2026-03": (date(2026, 3, 1), date(2026, 4, 1)),
        }
        enrolled = [
            ("rosida", "pkh", "2025-Q4", "32"),
            ("rosida", "pkh", "2026-Q1", "32"),
            ("rosida", "bpnt", "2026-03", "32"),
            ("neighbour", "pkh", "2026-Q1", "32"),
            ("santosa", "pkh", "2026-Q1", "32"),
            ("surabaya", "bpnt", "2026-03", "35"),
        ]
        villages = {key: data.village_code for key, data in plan.items()}
        await conn.execute(
            insert(Enrollment.__table__),
            [
                {
                    "id": ids.next_id(),
                    "cycle_id": cycle_ids[(program, period, region)],
                    "program": program,
                    "period": period,
                    "period_start": periods[period][0],
                    "period_end": periods[period][1],
                    "household_id": households[key],
                    "village_code": villages[key],
                    "amount": 750_000,
                    "status": "enrolled",
                    "created_at": now,
                }
                for key, program, period, region in enrolled
            ],
        )
    niks = {f"{key}:{m.name}": m.nik for key, data in plan.items() for m in data.members}
    return Planted(households, niks)


async def ask(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await http.post("/public/graphql", json={"query": query, "variables": variables}, headers=ENGLISH)
    assert response.status_code == 200, response.text
    return response.json()


def program_name(slug: str) -> str:
    return registry_from_settings().program(slug).name


@pytest.fixture
async def public(db: AsyncEngine, settings: Settings) -> Any:
    async with serve(settings) as http:
        yield http


# --- names -------------------------------------------------------------------------------------


def test_names_are_masked_to_two_letters_a_word() -> None:
    assert mask_name("Siti Rosida") == "SI** RO****"
    assert mask_name("  i made   wirawan ") == "I MA** WI*****"
    assert normalise_name("  SITI   rosida ") == normalise_name("Siti Rosida")


# --- Cek Bansos ---------------------------------------------------------------------------------


async def test_lookup_answers_masked_names_and_the_programs_received(
    db: AsyncEngine, public: httpx.AsyncClient
) -> None:
    await plant(db)
    body = await ask(public, LOOKUP, village=VILLAGE, name="  siti   ROSIDA ")
    answer = body["data"]["cekBansos"]
    assert answer["found"] is True
    assert [p["maskedName"] for p in answer["people"]] == ["SI** RO****", "SI** RO****"]
    pkh = program_name("pkh")
    assert answer["people"][0]["aid"] == [
        {"program": "pkh", "programName": pkh, "period": "2026-Q1", "firstDay": "2026-01-01", "lastDay": "2026-03-31"},
        {"program": "pkh", "programName": pkh, "period": "2025-Q4", "firstDay": "2025-10-01", "lastDay": "2025-12-31"},
    ]  # the BPNT cycle of 2026-03 is not approved yet: not shown
    assert answer["people"][1]["aid"] == []  # the namesake, registered but receiving nothing


async def test_lookup_never_reaches_other_villages_inactive_households_or_other_names(
    db: AsyncEngine, public: httpx.AsyncClient
) -> None:
    await plant(db)
    for village, name in [
        (NEIGHBOUR, "Budi Santoso"),  # lives in Pondok Rajeg, not Karadenan
        (VILLAGE, "Siti Rosidah"),  # one letter more
        (VILLAGE, "Siti"),  # part of a name
        (VILLAGE, "Budi Santos"),
        (VILLAGE, "BudiSantoso"),  # same letters, other spacing
        (VILLAGE, "x' OR '1'='1"),
    ]:
        answer = (await ask(public, LOOKUP, village=village, name=name))["data"]["cekBansos"]
        assert answer == {"found": False, "people": []}, (village, name)
    answer = (await ask(public, LOOKUP, village=ELSEWHERE, name="siti rosida"))["data"]["cekBansos"]
    assert [p["aid"][0]["program"] for p in answer["people"]] == ["bpnt"]


async def test_a_nik_narrows_to_one_person_and_is_never_echoed(db: AsyncEngine, public: httpx.AsyncClient) -> None:
    planted = await plant(db)
    nik = planted.niks["namesake:SITI  ROSIDA"]
    response = await public.post(
        "/public/graphql", json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": "Siti Rosida", "nik": nik}}
    )
    assert response.json()["data"]["cekBansos"] == {"found": True, "people": [{"maskedName": "SI** RO****", "aid": []}]}
    assert nik not in response.text
    other = planted.niks["rosida:Budi Santoso"]  # a real NIK, but not this person's
    response = await public.post(
        "/public/graphql",
        json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": "Siti Rosida", "nik": other}},
    )
    assert response.json()["data"]["cekBansos"] == {"found": False, "people": []}
    assert other not in response.text


async def test_the_answer_offers_nothing_but_masked_names_and_programs(public: httpx.AsyncClient) -> None:
    fields = """query { __type(name: "PersonFound") { fields { name } } aid: __type(name: "AidReceived") {
      fields { name } } query: __type(name: "Query") { fields { name } } }"""
    data = (await ask(public, fields))["data"]
    assert {f["name"] for f in data["__type"]["fields"]} == {"maskedName", "aid"}
    assert {f["name"] for f in data["aid"]["fields"]} == {"program", "programName", "period", "firstDay", "lastDay"}
    assert {f["name"] for f in data["query"]["fields"]} == {"cekBansos", "recap"}


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"village": "32.01.01", "name": "Siti Rosida"}, "villageCode"),
        ({"village": "32.01.01.1001'; DROP TABLE members; --", "name": "Siti Rosida"}, "villageCode"),
        ({"village": VILLAGE, "name": " s "}, "fullName"),
        ({"village": VILLAGE, "name": "x" * 121}, "fullName"),
        ({"village": VILLAGE, "name": "Siti Rosida", "nik": "3201abc"}, "nik"),
    ],
)
async def test_bad_input_is_refused_naming_the_argument_without_echoing_it(
    db: AsyncEngine, public: httpx.AsyncClient, variables: dict[str, str], argument: str
) -> None:
    response = await public.post("/public/graphql", json={"query": LOOKUP, "variables": variables})
    [error] = response.json()["errors"]
    assert error["message"].startswith(f"{argument}: ")
    assert "Siti" not in error["message"] and "3201abc" not in error["message"] and "DROP" not in error["message"]


async def test_results_are_capped(db: AsyncEngine, settings: Settings) -> None:
    await plant(db)
    async with serve(settings.model_copy(update={"public_max_results": 1})) as http:
        answer = (await ask(http, LOOKUP, village=VILLAGE, name="Siti Rosida"))["data"]["cekBansos"]
    assert len(answer["people"]) == 1 and answer["people"][0]["aid"]


async def test_hits_and_misses_run_the_same_single_statement(db: AsyncEngine) -> None:
    await plant(db)
    statements: list[str] = []
    from sqlalchemy import event

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.sync_engine, "before_cursor_execute", record)
    try:
        async with db.connect() as conn:
            hit = await lookup.cek_bansos(conn, VILLAGE, "Siti Rosida", None, 10)
            miss = await lookup.cek_bansos(conn, VILLAGE, "Siti Rosidah", None, 10)
    finally:
        event.remove(db.sync_engine, "before_cursor_execute", record)
    assert hit and not miss
    lookups = [statement for statement in statements if "members" in statement]
    assert len(lookups) == 2 and lookups[0] == lookups[1]


# --- recap --------------------------------------------------------------------------------------


@pytest.fixture
async def exact_public(db: AsyncEngine, settings: Settings) -> Any:
    """The public endpoint publishing exact recap counts (SIKS_PUBLIC_RECAP_MIN_COUNT=1), to check the counting;
    what the public sees by default is in tests/test_public_recap.py."""
    async with serve(settings.model_copy(update={"public_recap_min_count": 1})) as http:
        yield http


async def test_recap_counts_exactly_on_planted_data(db: AsyncEngine, exact_public: httpx.AsyncClient) -> None:
    public = exact_public
    await plant(db)
    pkh, bpnt = program_name("pkh"), program_name("bpnt")
    q1 = {"program": "pkh", "programName": pkh, "period": "2026-Q1", "firstDay": "2026-01-01", "lastDay": "2026-03-31"}
    village = (await ask(public, RECAP, code=VILLAGE))["data"]["recap"]
    assert village == {
        "regionCode": VILLAGE,
        "regionName": "Pondok Rajeg",
        "level": "VILLAGE",
        "households": 3,
        "verifiedHouseholds": 2,
        "verifiedShare": pytest.approx(2 / 3),
        "recipients": [{**q1, "households": 2}],  # rosida and santosa; the unapproved BPNT cycle is left out
    }
    province = (await ask(public, RECAP, code="32"))["data"]["recap"]
    assert (province["households"], province["verifiedHouseholds"]) == (4, 2)
    assert province["verifiedShare"] == pytest.approx(0.5)
    assert province["recipients"] == [{**q1, "households": 3}]
    east_java = (await ask(public, RECAP, code="35.78"))["data"]["recap"]
    assert (east_java["households"], east_java["verifiedHouseholds"], east_java["verifiedShare"]) == (1, 0, 0.0)
    assert east_java["recipients"] == [
        {
            "program": "bpnt",
            "programName": bpnt,
            "period": "2026-03",
            "firstDay": "2026-03-01",
            "lastDay": "2026-03-31",
            "households": 1,
        }
    ]
    empty = (await ask(public, RECAP, code="11"))["data"]["recap"]
    assert (empty["households"], empty["verifiedShare"], empty["recipients"]) == (0, 0.0, [])


async def test_recap_of_an_unknown_or_malformed_code(db: AsyncEngine, public: httpx.AsyncClient) -> None:
    assert (await ask(public, RECAP, code="99"))["data"]["recap"] is None
    body = await ask(public, RECAP, code="32.1")
    assert body["errors"][0]["message"].startswith("regionCode: ")


async def test_recaps_are_kept_for_a_minute(db: AsyncEngine, exact_public: httpx.AsyncClient) -> None:
    public = exact_public
    await plant(db)
    first = (await ask(public, RECAP, code="35"))["data"]["recap"]
    async with write_transaction(db) as conn:
        registered = await service.register_household(conn, family(ELSEWHERE, "Dewi Lestari"))
    assert not isinstance(registered, service.Invalid)
    assert (await ask(public, RECAP, code="35"))["data"]["recap"] == first
    assert (await ask(public, RECAP, code="35.78"))["data"]["recap"]["households"] == first["households"] + 1


def test_recap_cache_expires_and_keeps_the_latest_regions() -> None:
    now = [0.0]
    cache = RecapCache(seconds=60, size=2, clock=lambda: now[0])
    recap = RegionRecap(households=1, verified=0, recipients=[])
    cache.put("32", recap)
    assert cache.get("32") is recap
    now[0] = 60.0
    assert cache.get("32") is None
    for code in ("32", "33", "34"):
        cache.put(code, recap)
    assert (cache.get("32"), cache.get("33"), cache.get("34")) == (None, recap, recap)


# --- rate limits --------------------------------------------------------------------------------


async def assert_limited_after(http: httpx.AsyncClient, allowed: int) -> httpx.Response:
    names = ["Siti Rosida", "Tidak Ada", "Budi Santoso", "Orang Lain"]  # hits and misses count alike
    for n in range(allowed):
        response = await http.post(
            "/public/graphql", json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": names[n % 4]}}
        )
        assert response.status_code == 200, (n, response.text)
    response = await http.post(
        "/public/graphql",
        json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": "Siti Rosida"}},
        headers=ENGLISH,
    )
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    message = response.json()["errors"][0]["message"]
    assert message == (f"too many requests from your address: at most {allowed} in 60 s; try again in {retry_after} s")
    return response


async def test_in_memory_limit_answers_429_with_retry_after(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings.model_copy(update={"public_requests_per_minute": 3})) as http:
        await assert_limited_after(http, 3)
        assert (await http.get("/health")).status_code == 200  # only the public path is limited


async def test_redis_limit_is_shared_between_processes(db: AsyncEngine, settings: Settings) -> None:
    store = redis.from_url(REDIS_URL)
    await store.flushdb()
    limited = settings.model_copy(update={"public_requests_per_minute": 4, "redis_url": REDIS_URL})
    try:
        async with serve(limited) as first, serve(limited) as second:
            for http in (first, second):  # two processes, one count
                for name in ("Siti Rosida", "Tidak Ada"):
                    response = await http.post(
                        "/public/graphql", json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": name}}
                    )
                    assert response.status_code == 200
            response = await second.post(
                "/public/graphql", json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": "Siti Rosida"}}
            )
            assert response.status_code == 429 and 1 <= int(response.headers["retry-after"]) <= 60
            keys = await store.keys("siks:rl:*")
            assert len(keys) == 1 and 0 < await store.ttl(keys[0]) <= 60
        await store.flushdb()
        async with serve(limited) as http:
            await assert_limited_after(http, 4)
    finally:
        await store.flushdb()
        await store.aclose()


async def test_memory_limiter_window_restarts_and_old_clients_are_swept() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    limiter = RateLimiter(store, "rl", limit=2, window=60)
    assert (await limiter.hit("a")).allowed and (await limiter.hit("a")).allowed
    now[0] += 15.2
    refused = await limiter.hit("a")
    assert not refused.allowed and refused.retry_after == 45
    assert (await limiter.hit("b")).allowed  # clients are counted apart
    now[0] += 45
    assert (await limiter.hit("a")).allowed  # a new window
    now[0] += 200
    await limiter.hit("c")
    assert set(store._entries) == {"rl:c"}


def test_clients_are_counted_by_address_and_ipv6_by_64_network() -> None:
    assert client_key({"client": ("203.0.113.7", 5000)}) == "203.0.113.7"
    assert client_key({"client": ("2001:db8:1:2:aaaa::1", 1)}) == client_key({"client": ("2001:db8:1:2:bbbb::9", 1)})
    assert client_key({"client": ("2001:db8:1:2::1", 1)}) == "2001:db8:1:2::/64"
    assert client_key({"client": ("::ffff:198.51.100.4", 1)}) == "198.51.100.4"
    assert client_key({}) == "unknown"


# --- finding 6: look-ups, not requests; NIK guesses -------------------------------------------


async def test_finding_6_aliased_lookups_are_refused_and_each_request_counts(
    db: AsyncEngine, settings: Settings
) -> None:
    """Before: 20 aliased cekBansos in one request counted once (600 look-ups a minute). Now one a request."""
    aliased = (
        "{"
        + " ".join(f'a{n}: cekBansos(villageCode: "{VILLAGE}", fullName: "Nama {n}") {{ found }}' for n in range(20))
        + "}"
    )
    fragments = f"""{{ ...A ...B }}
      fragment A on Query {{ one: cekBansos(villageCode: "{VILLAGE}", fullName: "Siti Rosida") {{ found }} }}
      fragment B on Query {{ two: cekBansos(villageCode: "{VILLAGE}", fullName: "Budi Santoso") {{ found }} }}"""
    async with serve(settings.model_copy(update={"public_requests_per_minute": 3})) as http:
        for document, times in ((aliased, 20), (fragments, 2)):
            body = await ask(http, document)
            assert body.get("data") is None
            [error] = body["errors"]
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert error["message"] == (
                f"the document asks for cekBansos {times} times; a request may look up one person: "
                "send one cekBansos field per request"
            )
        one = await ask(http, f'{{ cekBansos(villageCode: "{VILLAGE}", fullName: "Siti Rosida") {{ found }} }}')
        assert one == {"data": {"cekBansos": {"found": False}}}  # the third request of three
        response = await http.post(
            "/public/graphql", json={"query": LOOKUP, "variables": {"village": VILLAGE, "name": "X Y"}}
        )
        assert response.status_code == 429


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_finding_6_guessing_a_named_persons_nik_is_throttled_across_addresses(
    db: AsyncEngine, settings: Settings, store: str
) -> None:
    """Before: a guessed NIK was confirmed by the answer, 600 guesses a minute from one address, so a named
    person's birth date fell in ~37 min. Now a (village, name) gets a few NIK look-ups a day from everyone."""
    planted = await plant(db)
    right = planted.niks["santosa:Budi Santosa"]
    guesses = [f"{right[:6]}{day:02d}0190{right[-4:]}" for day in range(1, 4)]
    secret = secrets.token_hex(32)  # the counter keys of this test only
    checked = settings.model_copy(
        update={
            "public_nik_checks_per_day": 3,
            "secret_key": secret,
            "redis_url": REDIS_URL if store == "redis" else None,
        }
    )
    addresses = ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4")
    try:
        async with serve_many(checked, *addresses) as clients:
            for http, nik in zip(clients, guesses, strict=False):  # three addresses, one guess each
                answer = await ask(http, LOOKUP, village=VILLAGE, name="Budi Santosa", nik=nik)
                assert answer["data"]["cekBansos"] == {"found": False, "people": []}
            fourth = clients[3]
            refused = await ask(fourth, LOOKUP, village=VILLAGE, name="budi  SANTOSA", nik=right)
            [error] = refused["errors"]
            assert refused["data"] is None and right not in str(refused)  # the right NIK is refused as well
            retry_after = error["extensions"]["retryAfter"]
            assert error["extensions"]["code"] == "TOO_MANY_ATTEMPTS" and 86_390 <= retry_after <= 86_400
            assert error["message"] == (
                "nik: this name has had its 3 look-ups with a NIK for the day, from anyone; look it up by name only, "
                f"or try again in {retry_after} s"
            )
            by_name = await ask(fourth, LOOKUP, village=VILLAGE, name="Budi Santosa")
            assert by_name["data"]["cekBansos"]["found"] is True  # the name alone still answers
            other = await ask(
                fourth, LOOKUP, village=VILLAGE, name="Siti Rosida", nik=planted.niks["namesake:SITI  ROSIDA"]
            )
            assert other["data"]["cekBansos"]["found"] is True  # another name has its own budget
            # A name nobody has is counted alike, so a refusal tells nothing about who is registered.
            for http in clients[:3]:
                await ask(http, LOOKUP, village=VILLAGE, name="Tidak Terdaftar", nik=right)
            nobody = await ask(fourth, LOOKUP, village=VILLAGE, name="Tidak Terdaftar", nik=right)
            assert nobody["errors"][0]["message"].split("try again")[0] == error["message"].split("try again")[0]
    finally:
        if store == "redis":
            client = redis.from_url(REDIS_URL)
            for name in ("Budi Santosa", "Siti Rosida", "Tidak Terdaftar"):
                await client.delete(f"siks:nik:{lookup.nik_check_key(secret, VILLAGE, name)}")
            await client.aclose()
