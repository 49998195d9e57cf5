"""Rekap (/dataku/rekap) over HTTP against the real application and database (SQLite and PostgreSQL):
its numbers equal direct SQL aggregates of planted data, by province and by regency, the update
progress of the current round, withheld and rounded counts, unknown provinces, the English switch,
charts drawn by vl-convert as SVG, the page's size, and the cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import httpx
import pytest
from babel.numbers import format_currency, format_decimal
from sqlalchemy import BigInteger, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.pages import CONTENT_SECURITY_POLICY
from core.foundation.ids import ids
from core.foundation.settings import Settings
from core.households import service
from core.models import Enrollment, ProgramCycle, RoundHousehold, VerificationRound, Visit
from core.regions.queries import list_regions
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS
from tests.serving import serve
from tests.test_public import family, plant

PAGE = "/dataku/rekap"
CHARTS = ("penerima", "rupiah", "pemutakhiran")

#: Independent of the page's statement: enrollments of approved cycles in each programme's latest approved period.
RECIPIENTS_SQL = """
SELECT e.program, substr(e.village_code, 1, :length) AS part, count(*) AS households, sum(e.amount) AS rupiah
FROM enrollments e JOIN program_cycles c ON c.id = e.cycle_id
WHERE c.status = 'approved' AND e.status = 'enrolled'
  AND e.period = (SELECT max(l.period) FROM program_cycles l WHERE l.program = e.program AND l.status = 'approved')
  AND e.village_code LIKE :under
GROUP BY e.program, substr(e.village_code, 1, :length)
"""
PROGRESS_SQL = """
SELECT part, sum(due) AS due, sum(visited) AS visited FROM (
  SELECT substr(village_code, 1, :length) AS part, 1 AS due, 0 AS visited FROM round_households
  WHERE round_id = :round AND village_code LIKE :under
  UNION ALL
  SELECT substr(village_code, 1, :length), 0, 1 FROM visits WHERE round_id = :round AND village_code LIKE :under
) counted GROUP BY part
"""


class Tables(HTMLParser):
    """The tables of a page by id: rows of cell texts (header cells included)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.images: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "table":
            self._table = named.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(named.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows_of(page: str, table: str) -> dict[str, list[str]]:
    """The body and foot rows of ``table`` by their first cell (the region's name)."""
    rows = Tables(page).tables[table]
    return {row[0]: row[1:] for row in rows[1:]}


async def village_in(engine: AsyncEngine, regency: str) -> str:
    async with engine.connect() as conn:
        return (await list_regions(conn, parent_code=(await list_regions(conn, parent_code=regency))[0].code))[0].code


async def plant_more(engine: AsyncEngine) -> None:
    """On top of tests/test_public.py's ``plant``: six households in Kota Bogor (32.71) with PKH 2026-Q1 at
    other amounts, BST 2026-Q1 for two of them, and the round's prelist (every planted active household)."""
    kota_bogor = await village_in(engine, "32.71")
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        households = []
        for n in range(6):
            data = family(kota_bogor, f"Ahmad Fauzi {chr(65 + n)}", *(["Dewi Lestari"] * (n % 3)))
            record = await service.register_household(conn, data)
            assert not isinstance(record, service.Invalid), record
            households.append(record.id)
        cycle = {"started_at": now, "run_by": "test", "status": "approved"}
        pkh = (
            await conn.execute(text("SELECT id FROM program_cycles WHERE program = 'pkh' AND period = '2026-Q1'"))
        ).scalar_one()
        bst = ids.next_id()
        await conn.execute(
            insert(ProgramCycle.__table__).values(id=bst, program="bst", period="2026-Q1", region_code="32.71", **cycle)
        )
        enrolled = [(household, "pkh", pkh, 900_000 + 100_000 * n) for n, household in enumerate(households)]
        enrolled += [(household, "bst", bst, 600_000) for household in households[:2]]
        await conn.execute(
            insert(Enrollment.__table__),
            [
                {
                    "id": ids.next_id(),
                    "cycle_id": cycle_id,
                    "program": program,
                    "period": "2026-Q1",
                    "period_start": date(2026, 1, 1),
                    "period_end": date(2026, 4, 1),
                    "household_id": household,
                    "village_code": kota_bogor,
                    "amount": amount,
                    "status": "enrolled",
                    "created_at": now,
                }
                for household, program, cycle_id, amount in enrolled
            ],
        )
        round_id = (await conn.execute(select(VerificationRound.__table__.c.id))).scalar_one()
        await conn.execute(
            insert(RoundHousehold.__table__).from_select(
                ["round_id", "household_id", "village_code", "household_version"],
                select(
                    literal(round_id, BigInteger), HOUSEHOLDS.c.id, HOUSEHOLDS.c.village_code, HOUSEHOLDS.c.version
                ).where(HOUSEHOLDS.c.status == "active"),
            )
        )
        visit = {"round_id": round_id, "visited_at": now, "recorded_at": now, "latitude": -6.59, "longitude": 106.79}
        visit |= {"household_version": 1, "officer": "test", "role": "village_operator", "outcome": "found"}
        await conn.execute(
            insert(Visit.__table__),
            [{"id": ids.next_id(), "household_id": h, "village_code": kota_bogor} | visit for h in households[:4]],
        )


async def direct(engine: AsyncEngine, sql: str, province: str = "", **values: object) -> list[dict[str, object]]:
    under = f"{province}.%" if province else "%"
    async with engine.connect() as conn:
        rows = await conn.execute(text(sql), {"length": 5 if province else 2, "under": under, **values})
        return [dict(row._mapping) for row in rows]


async def region_names(engine: AsyncEngine, codes: set[str]) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT code, name FROM regions"))
        return {code: name for code, name in rows if code in codes}


@pytest.fixture
async def exact(db: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The pages publishing exact counts (SIKS_PUBLIC_RECAP_MIN_COUNT=1) and counting on every view."""
    async with serve(settings.model_copy(update={"public_recap_min_count": 1, "rekap_cache_seconds": 0})) as http:
        yield http


def rupiah(amount: object, language: str = "id") -> str:
    return format_currency(amount, "IDR", format="¤ #,##0", currency_digits=False, locale=language)


def number(value: object, language: str = "id") -> str:
    return format_decimal(value, locale=language)


async def expected_aid(engine: AsyncEngine, province: str = "") -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """The recipients and Rupiah tables as direct SQL says they should read, and the programmes' labels."""
    rows = await direct(engine, RECIPIENTS_SQL, province)
    programmes = sorted({str(row["program"]) for row in rows})
    names = await region_names(engine, {str(row["part"]) for row in rows})
    by = {(row["part"], row["program"]): row for row in rows}
    recipients: dict[str, list[str]] = {}
    amounts: dict[str, list[str]] = {}
    for part in sorted({str(row["part"]) for row in rows}):
        cells = [by.get((part, p)) for p in programmes]
        recipients[names[part]] = [number(c["households"] if c else 0) for c in cells]
        money = [int(c["rupiah"]) if c else 0 for c in cells]
        amounts[names[part]] = [rupiah(m) for m in [*money, sum(money)]]
    return {"recipients": recipients, "rupiah": amounts}, [p.upper() for p in programmes]


async def test_national_recap_equals_direct_sql_by_province(db: AsyncEngine, exact: httpx.AsyncClient) -> None:
    await plant(db)
    await plant_more(db)
    page = await exact.get(PAGE)
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script" not in page.text and "style=" not in page.text
    tables, labels = await expected_aid(db)
    assert labels == ["BPNT", "BST", "PKH"]
    assert Tables(page.text).tables["recipients"][0] == ["Provinsi", *labels]
    recipients = rows_of(page.text, "recipients")
    assert recipients.pop("Indonesia") == [
        number(sum(int(v) for v in col)) for col in zip(*tables["recipients"].values(), strict=True)
    ]
    assert recipients == tables["recipients"] == {"Jawa Barat": ["0", "2", "9"], "Jawa Timur": ["1", "0", "0"]}
    amounts = rows_of(page.text, "rupiah")
    amounts.pop("Indonesia")
    assert amounts == tables["rupiah"]
    assert amounts["Jawa Barat"][2] == rupiah(3 * 750_000 + sum(900_000 + 100_000 * n for n in range(6)))
    # the programme summary: period, households and Rupiah for the whole country
    pkh = [row for row in await direct(db, RECIPIENTS_SQL) if row["program"] == "pkh"]
    summary = rows_of(page.text, "programmes")
    assert summary["PKH Program Keluarga Harapan (PKH)"] == [
        "2026-Q1",
        number(sum(int(row["households"]) for row in pkh)),
        rupiah(sum(int(row["rupiah"]) for row in pkh)),
    ]
    assert 'href="/dataku/rekap?provinsi=32"' in page.text


async def test_a_province_drills_down_to_its_regencies(db: AsyncEngine, exact: httpx.AsyncClient) -> None:
    await plant(db)
    await plant_more(db)
    page = await exact.get(PAGE, params={"provinsi": "32"})
    assert page.status_code == 200, page.text
    assert "Rekap: Jawa Barat" in page.text and 'id="to-national"' in page.text
    tables, labels = await expected_aid(db, "32")
    assert Tables(page.text).tables["recipients"][0] == ["Kabupaten/kota", *labels]
    recipients = rows_of(page.text, "recipients")
    whole = recipients.pop("Jawa Barat")
    assert recipients == tables["recipients"] == {"Kabupaten Bogor": ["0", "3"], "Kota Bogor": ["2", "6"]}
    national = rows_of((await exact.get(PAGE)).text, "recipients")["Jawa Barat"]
    assert whole == national[1:]  # the regencies add up to the province's line (BPNT has none here)
    amounts = rows_of(page.text, "rupiah")
    amounts.pop("Jawa Barat")
    assert amounts == tables["rupiah"]


async def test_update_progress_of_the_current_round(db: AsyncEngine, exact: httpx.AsyncClient) -> None:
    await plant(db)
    await plant_more(db)
    async with db.connect() as conn:
        round_id = (await conn.execute(select(VerificationRound.__table__.c.id))).scalar_one()
    for province, table_rows in (("", 2), ("32", 2)):
        page = await exact.get(PAGE, params={"provinsi": province} if province else {})
        assert 'id="round"' in page.text and "verivali" in page.text and "sedang berjalan" in page.text
        progress = rows_of(page.text, "progress")
        counted = await direct(db, PROGRESS_SQL, province, round=round_id)
        names = await region_names(db, {str(row["part"]) for row in counted})
        assert len(counted) == table_rows
        for row in counted:
            due, visited = int(row["due"]), int(row["visited"])
            shown = progress[names[str(row["part"])]]
            assert shown[:2] == [number(due), number(visited)]
            assert shown[2] == format_decimal(round(100 * visited / due, 1), format="#,##0.0", locale="id") + "%"
    national = rows_of((await exact.get(PAGE)).text, "progress")
    # plant: 4 active households in 32.01 and 6 in 32.71, 1 in 35; visits: 2 + 4
    assert national["Jawa Barat"][:2] == ["10", "6"] and national["Indonesia"][:2] == ["11", "6"]


async def test_small_counts_are_withheld_and_others_rounded_as_in_every_public_recap(
    db: AsyncEngine, settings: Settings
) -> None:
    await plant(db)
    await plant_more(db)
    async with serve(settings.model_copy(update={"rekap_cache_seconds": 0})) as http:  # the default: 5
        page = await http.get(PAGE, params={"provinsi": "32"})
    recipients = rows_of(page.text, "recipients")
    assert recipients["Kabupaten Bogor"] == ["< 5", "< 5"]
    assert recipients["Kota Bogor"] == ["< 5", "5"]  # 6 rounded down
    amounts = rows_of(page.text, "rupiah")
    # 6 households at 900,000 to 1,400,000 (6,900,000): rounded down to a multiple of 5 × 750,000, the
    # smallest PKH amount in the province
    assert amounts["Kota Bogor"][:2] == ["–", rupiah(3_750_000)]
    assert amounts["Kabupaten Bogor"][:2] == ["–", "–"]
    progress = rows_of(page.text, "progress")
    assert progress["Kota Bogor"][:3] == ["5", "< 5", "–"]
    assert "dibulatkan ke bawah ke kelipatan 5" in page.text


async def test_an_unknown_province_gets_a_404_page_with_a_message(exact: httpx.AsyncClient) -> None:
    for code in ("99", "32.01", "x' OR 1=1"):
        page = await exact.get(PAGE, params={"provinsi": code})
        assert page.status_code == 404
        assert "Tidak ada provinsi dengan kode itu" in page.text
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        chart = await exact.get(f"{PAGE}/penerima.svg", params={"provinsi": code})
        assert chart.status_code == 404
    english = await exact.get(PAGE, params={"provinsi": "99", "lang": "en"})
    assert english.status_code == 404 and "There is no province with that code" in english.text
    assert (await exact.get(f"{PAGE}/pie.svg")).status_code == 404


async def test_english_switch_and_numbers_in_the_language(db: AsyncEngine, exact: httpx.AsyncClient) -> None:
    await plant(db)
    await plant_more(db)
    page = await exact.get(PAGE, params={"lang": "en"})
    assert page.headers["content-language"] == "en"
    assert "Households receiving aid, by programme" in page.text and "Update progress" in page.text
    total = 3 * 750_000 + sum(900_000 + 100_000 * n for n in range(6))
    assert rows_of(page.text, "rupiah")["Jawa Barat"][2] == rupiah(total, "en") == "IDR 9,150,000"
    assert 'src="/dataku/rekap/penerima.svg?lang=en"' in page.text
    indonesian = await exact.get(PAGE, params={"lang": "id"})
    assert rows_of(indonesian.text, "rupiah")["Jawa Barat"][2] == "Rp 9.150.000"
    assert "Keluarga penerima bantuan per program" in indonesian.text


async def test_charts_are_svg_drawn_by_vl_convert_with_the_figures_labels(
    db: AsyncEngine, exact: httpx.AsyncClient
) -> None:
    await plant(db)
    await plant_more(db)
    page = await exact.get(PAGE)
    images = Tables(page.text).images
    assert images == [f"/dataku/rekap/{name}.svg?lang=id" for name in CHARTS]
    for src in images:
        chart = await exact.get(src)
        assert chart.status_code == 200
        assert chart.headers["content-type"] == "image/svg+xml"
        assert chart.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        svg = chart.text
        assert svg.startswith("<svg") and 'class="marks"' in svg and "viewBox=" in svg  # Vega's renderer
        assert "<script" not in svg and "style=" not in svg and "<style" not in svg
        assert "Jawa Barat" in svg
    recipients = (await exact.get(images[0])).text
    assert "Keluarga penerima bantuan per program" in recipients and "PKH" in recipients and "BST" in recipients
    assert "Juta rupiah" in (await exact.get(images[1])).text
    assert "Dikunjungi" in (await exact.get(images[2])).text
    english = (await exact.get(f"{PAGE}/penerima.svg", params={"lang": "en"})).text
    assert "Households receiving aid, by programme" in english and ">Programme<" in english
    regencies = (await exact.get(f"{PAGE}/penerima.svg", params={"provinsi": "32", "lang": "id"})).text
    assert "Kota Bogor" in regencies and "Kabupaten Bogor" in regencies and "Jawa Timur" not in regencies


async def test_the_page_with_its_style_sheet_and_charts_is_under_100_kb(
    db: AsyncEngine, exact: httpx.AsyncClient
) -> None:
    await plant(db)
    await plant_more(db)
    for params in ({}, {"provinsi": "32"}, {"lang": "en"}):
        page = await exact.get(PAGE, params=params)
        parts = [page.content, (await exact.get("/dataku/static/site.css")).content]
        parts += [(await exact.get(src)).content for src in Tables(page.text).images]
        assert len(parts) == 5 and sum(len(part) for part in parts) < 100_000


async def test_figures_and_charts_are_kept_for_the_cache_time(db: AsyncEngine, settings: Settings) -> None:
    await plant(db)
    exact = {"public_recap_min_count": 1}
    async with serve(settings.model_copy(update={**exact, "rekap_cache_seconds": 300})) as http:
        before = await http.get(PAGE)
        chart = await http.get(f"{PAGE}/penerima.svg")
        assert chart.headers["cache-control"] == "public, max-age=300"
        await plant_more(db)
        assert rows_of((await http.get(PAGE)).text, "recipients") == rows_of(before.text, "recipients")
        assert (await http.get(f"{PAGE}/penerima.svg")).content == chart.content
        assert rows_of((await http.get(PAGE, params={"lang": "en"})).text, "recipients")["Jawa Barat"] == ["0", "3"]
    async with serve(settings.model_copy(update={**exact, "rekap_cache_seconds": 0})) as http:
        assert rows_of((await http.get(PAGE)).text, "recipients")["Jawa Barat"] == ["0", "2", "9"]


async def test_an_empty_registry_says_so(exact: httpx.AsyncClient) -> None:
    page = await exact.get(PAGE)
    assert page.status_code == 200
    assert 'id="no-aid"' in page.text and 'id="no-round"' in page.text and "<img" not in page.text


async def test_the_home_page_links_to_rekap(exact: httpx.AsyncClient) -> None:
    home = await exact.get("/dataku/")
    assert 'href="/dataku/rekap" id="to-rekap"' in home.text


async def plant_every_province(engine: AsyncEngine) -> int:
    """A household in a village of every province, each in five programmes (approved cycles, 2026-Q1 or
    2026-03) at amounts in the billions' digits, all due in an open round and visited: the widest national
    page there is. Returns the number of provinces."""
    async with engine.connect() as conn:
        villages = []
        for province in await list_regions(conn, level=1):
            code = province.code
            for _level in range(3):
                code = (await list_regions(conn, parent_code=code))[0].code
            villages.append(code)
    now = datetime.now(UTC)
    programmes = {"pkh": "2026-Q1", "bpnt": "2026-03", "bst": "2026-03", "kube": "2026-Q1", "pbi_jk": "2026-03"}
    async with write_transaction(engine) as conn:
        households = []
        for n, village in enumerate(villages):
            record = await service.register_household(conn, family(village, f"Siti Aminah {n}", "Rudi Hartono"))
            assert not isinstance(record, service.Invalid), record
            households.append((record.id, village))
        cycles = {program: ids.next_id() for program in programmes}
        values = {"region_code": "ID", "status": "approved", "started_at": now, "run_by": "test"}
        await conn.execute(
            insert(ProgramCycle.__table__),
            [{"id": cycles[p], "program": p, "period": period} | values for p, period in programmes.items()],
        )
        await conn.execute(
            insert(Enrollment.__table__),
            [
                {
                    "id": ids.next_id(),
                    "cycle_id": cycles[program],
                    "program": program,
                    "period": period,
                    "period_start": date(2026, 3, 1),
                    "period_end": date(2026, 4, 1),
                    "household_id": household,
                    "village_code": village,
                    "amount": 9_876_543_210 + n,
                    "status": "enrolled",
                    "created_at": now,
                }
                for n, (household, village) in enumerate(households)
                for program, period in programmes.items()
            ],
        )
        round_id = ids.next_id()
        await conn.execute(
            insert(VerificationRound.__table__).values(
                id=round_id, period="2026", label="Verivali 2026", created_by="test", created_at=now
            )
        )
        await conn.execute(
            insert(RoundHousehold.__table__),
            [
                {"round_id": round_id, "household_id": h, "village_code": v, "household_version": 1}
                for h, v in households
            ],
        )
        visit = {"round_id": round_id, "visited_at": now, "recorded_at": now, "latitude": -6.59, "longitude": 106.79}
        visit |= {"household_version": 1, "officer": "test", "role": "village_operator", "outcome": "found"}
        await conn.execute(
            insert(Visit.__table__),
            [{"id": ids.next_id(), "household_id": h, "village_code": v} | visit for h, v in households[::2]],
        )
    return len(villages)


async def test_the_widest_national_page_is_still_under_100_kb(db: AsyncEngine, exact: httpx.AsyncClient) -> None:
    provinces = await plant_every_province(db)
    assert provinces == 38
    page = await exact.get(PAGE)
    recipients = rows_of(page.text, "recipients")
    assert len(recipients) == provinces + 1 and all(cells == ["1"] * 5 for cells in list(recipients.values())[:-1])
    parts = [page.content, (await exact.get("/dataku/static/site.css")).content]
    parts += [(await exact.get(src)).content for src in Tables(page.text).images]
    assert len(parts) == 5
    assert sum(len(part) for part in parts) < 100_000, [len(part) for part in parts]
