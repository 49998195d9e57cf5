"""SIKS-Dataku in a real browser: headless Debian Chromium (Selenium, Debian's chromedriver; never a
downloaded browser) with JavaScript disabled, against a real uvicorn server of the application on the
test database. Cek Bansos end to end at 320, 360 and 1280 px, the language switch, bad input, a limit; Usul
(with a second member and a photo of the house chosen in the file input) and Sanggah, then Lacak; Rekap
with its charts under the CSP at 320, 360 and 1280 px.

Screenshots are saved under ``artifacts/screenshots/`` (git-ignored; CI keeps them as artefacts).
Like tests/test_clients.py these run once, in the SQLite pass (skipped when ``SIKS_TEST_DATABASE_URL``
names PostgreSQL; the pages' database work is covered on both by tests/test_dataku_pages.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from tests.browser_support import chromium
from tests.conftest import token_headers
from tests.serving import uvicorn_server
from tests.test_public import VILLAGE, plant

pytestmark = pytest.mark.skipif(
    os.environ.get("SIKS_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="browser tests: run once, in the SQLite pass",
)

SCREENSHOTS = Path(__file__).parent.parent / "artifacts" / "screenshots"
HEADER_COLOUR = "rgba(11, 79, 108, 1)"  # .top in core/dataku/static/site.css: proves the style sheet applied
CHAIN = (("provinsi", "32"), ("kabupaten", "32.01"), ("kecamatan", "32.01.01"), ("desa", VILLAGE))


@pytest.fixture(scope="module")
def site(settings: Settings) -> Iterator[str]:
    """A real uvicorn server of the application on the session's test database."""
    with uvicorn_server(settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium with JavaScript turned off for every page; its Accept-Language is id-ID."""
    with chromium(tmp_path_factory.mktemp("chromium"), javascript=False, language="id-ID") as driver:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield driver


PROPOSALS = "{ proposals(first: 10) { edges { node { createdBy villageCode photos { id } } } } }"
GRIEVANCES = "{ grievances(first: 10) { edges { node { reason status villageCode } } } }"


def operators_see(site: str, settings: Settings, query: str) -> dict[str, Any]:
    """What the village's operator reads through the operators' GraphQL of the same server."""
    answer = httpx.post(
        f"{site}/graphql", json={"query": query}, headers=token_headers(settings, "village_operator", VILLAGE)
    ).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def by_id(browser: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, element_id)


def follow(browser: Any, element_id: str) -> None:
    """Click a button or link and wait for the next page to replace this one."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    # While a page replaces another, Chromium may answer for the old nodes with a generic inspector error
    # ("Node with given id does not belong to the document") rather than a stale element: both mean gone.
    wait = WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,))
    page = browser.find_element(By.TAG_NAME, "html")
    by_id(browser, element_id).click()

    def replaced(_driver: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:
            return True
        return False

    wait.until(replaced)
    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "footer.bottom")))  # parsed to the end


def choose_village(browser: Any, site: str, language: str) -> None:
    """Province → regency → district → village, one GET form step a level (no script)."""
    from selenium.webdriver.support.select import Select

    browser.get(f"{site}/dataku/cek-bansos?lang={language}")  # get() waits for the page to load
    for param, code in CHAIN:
        Select(by_id(browser, param)).select_by_value(code)
        follow(browser, "region-next")
    assert by_id(browser, "lookup-form").is_displayed()


def fits(browser: Any, width: int) -> None:
    """Nothing wider than the window (no sideways scrolling) and our style sheet applied."""
    from selenium.webdriver.common.by import By

    assert by_id(browser, "main").rect["width"] <= width
    boxes = "select, input:not([type=hidden]), textarea, table, td, button"
    for element in browser.find_elements(By.CSS_SELECTOR, boxes):
        if element.is_displayed():
            rect = element.rect
            assert rect["x"] >= 0 and rect["x"] + rect["width"] <= width + 1, (element.get_attribute("id"), rect)
    assert (
        browser.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("background-color") == HEADER_COLOUR
    )


def shot(browser: Any, name: str) -> None:
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def test_javascript_is_off(browser: Any) -> None:
    browser.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert browser.title == "off"


@pytest.mark.parametrize("width", [320, 360, 1280])
async def test_cek_bansos_end_to_end_without_javascript(db: AsyncEngine, site: str, browser: Any, width: int) -> None:
    await plant(db)
    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    choose_village(browser, site, "id")
    fits(browser, width)
    shot(browser, f"cek-bansos-form-{width}")
    by_id(browser, "nama").send_keys("Siti Rosida")
    follow(browser, "lookup")
    answer = by_id(browser, "answer")
    assert "SI** RO****" in answer.text and "Program Keluarga Harapan" in answer.text
    assert "Keluarga terdaftar tetapi belum menerima bantuan." in answer.text
    assert "Rosida" not in answer.text
    fits(browser, width)
    shot(browser, f"cek-bansos-answer-{width}")
    answer.screenshot(str(SCREENSHOTS / f"cek-bansos-answer-only-{width}.png"))


@pytest.mark.parametrize("width", [360, 1280])
async def test_the_language_switch(db: AsyncEngine, site: str, browser: Any, width: int) -> None:
    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    browser.get(f"{site}/dataku/cek-bansos")
    assert by_id(browser, "region-next").text == "Lanjut"
    follow(browser, "lang-en")
    assert by_id(browser, "region-next").text == "Next"
    assert browser.find_element("tag name", "html").get_attribute("lang") == "en"
    shot(browser, f"cek-bansos-english-{width}")
    browser.get(f"{site}/dataku/")  # remembered
    assert "Social welfare data for citizens" in browser.page_source
    follow(browser, "lang-id")
    assert "Data kesejahteraan sosial untuk warga" in browser.page_source


@pytest.mark.parametrize("width", [360, 1280])
async def test_bad_input_is_explained(db: AsyncEngine, site: str, browser: Any, width: int) -> None:
    await plant(db)
    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    choose_village(browser, site, "id")
    by_id(browser, "nama").send_keys("Siti Rosida")
    by_id(browser, "nik").send_keys("3201abc")
    follow(browser, "lookup")
    problems = by_id(browser, "problems")
    assert "NIK adalah 16 angka pada KTP" in problems.text
    assert "3201abc" not in browser.page_source
    assert "answer" not in [e.get_attribute("id") for e in browser.find_elements("css selector", "section")]
    fits(browser, width)
    shot(browser, f"cek-bansos-bad-input-{width}")


@pytest.mark.parametrize("width", [360, 1280])
async def test_usul_then_lacak_without_javascript(
    db: AsyncEngine, settings: Settings, site: str, browser: Any, tmp_path: Path, width: int
) -> None:
    from selenium.webdriver.support.select import Select
    from sqlalchemy import func, select

    from core.foundation.enums import Sex
    from core.households.identity import make_nik
    from core.models import PROPOSED_MEMBERS, VisitPhoto
    from tests.photo_files import jpeg_with_gps

    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    browser.get(f"{site}/dataku/")
    follow(browser, "to-usul")
    for param, code in CHAIN:
        Select(by_id(browser, param)).select_by_value(code)
        follow(browser, "region-next")
    fits(browser, width)
    fields = {
        "nama": "Neneng Kurniasih",
        "nik": make_nik("32.01.01", date(1985, 6, 5), Sex.FEMALE, 11),
        "kk": "3201010000054321",
        "alamat": "Kampung Rawa Kalong",
        "rt": "3",
        "rw": "5",
        "telepon": "081234567890",
        "alasan": "Suami meninggal, tiga anak masih sekolah.",
    }
    fields |= {"anggota1_nama": "Asep Sunandar", "anggota1_nik": make_nik("32.01.01", date(1980, 1, 2), Sex.MALE, 5)}
    for name, value in fields.items():
        by_id(browser, name).send_keys(value)
    Select(by_id(browser, "anggota1_hubungan")).select_by_value("spouse")
    photo = tmp_path / "rumah.jpg"
    photo.write_bytes(jpeg_with_gps())
    by_id(browser, "foto").send_keys(str(photo))  # a file input takes the file's path
    shot(browser, f"usul-form-{width}")
    follow(browser, "send-usul")
    code = by_id(browser, "ticket").text
    assert len(code) == 10 and fields["nik"] not in browser.page_source
    async with db.connect() as conn:
        members = (await conn.execute(select(func.count()).select_from(PROPOSED_MEMBERS))).scalar_one()
        photos = (await conn.execute(select(func.count()).select_from(VisitPhoto.__table__))).scalar_one()
    assert (members, photos) == (2, 1)
    # the village's operators find it in their GraphQL, with the photo
    proposals = operators_see(site, settings, PROPOSALS)["proposals"]["edges"]
    assert [(e["node"]["createdBy"], e["node"]["villageCode"], len(e["node"]["photos"])) for e in proposals] == [
        ("dataku", VILLAGE, 1)
    ]
    fits(browser, width)
    shot(browser, f"usul-ticket-{width}")
    follow(browser, "track")
    assert by_id(browser, "status-text").text == "Sedang diverifikasi: menunggu di tingkat kecamatan."
    assert "Neneng" not in browser.page_source
    fits(browser, width)
    shot(browser, f"lacak-{width}")


@pytest.mark.parametrize("width", [360, 1280])
async def test_sanggah_then_lacak_without_javascript(
    db: AsyncEngine, settings: Settings, site: str, browser: Any, width: int
) -> None:
    from selenium.webdriver.support.select import Select

    from tests.grievance_support import recipient

    await recipient(db, "Siti Rosida")
    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    browser.get(f"{site}/dataku/")
    follow(browser, "to-sanggah")
    for param, code in CHAIN:
        Select(by_id(browser, param)).select_by_value(code)
        follow(browser, "region-next")
    fits(browser, width)
    by_id(browser, "nama").send_keys("Siti Rosida")
    Select(by_id(browser, "jenis")).select_by_value("no_longer_poor")
    by_id(browser, "keterangan").send_keys("Sudah punya mobil baru dan toko besar di pasar.")
    shot(browser, f"sanggah-form-{width}")
    follow(browser, "send-sanggah")
    assert len(by_id(browser, "ticket").text) == 10 and "SI** RO****" in browser.page_source
    assert "Siti Rosida" not in browser.page_source
    cases = operators_see(site, settings, GRIEVANCES)["grievances"]["edges"]
    assert [(e["node"]["reason"], e["node"]["status"], e["node"]["villageCode"]) for e in cases] == [
        ("NO_LONGER_POOR", "OPEN", VILLAGE)
    ]
    fits(browser, width)
    follow(browser, "track")
    assert by_id(browser, "status-text").text == "Sanggah diterima: menunggu di tingkat desa/kelurahan."
    assert "Rosida" not in browser.page_source and "toko" not in browser.page_source
    fits(browser, width)
    shot(browser, f"sanggah-lacak-{width}")


def charts_drawn(browser: Any, width: int) -> None:
    """Rekap's three charts are drawn, each scaled to its column with the SVG's own proportions (an image
    the CSP refused, or a broken one, shows its alt text instead)."""
    from selenium.webdriver.common.by import By

    images = browser.find_elements(By.CSS_SELECTOR, "figure.chart img")
    assert len(images) == 3
    for image in images:
        svg = httpx.get(image.get_attribute("src")).text
        natural = re.search(r'<svg[^>]* width="([0-9.]+)" height="([0-9.]+)"', svg)
        assert natural, svg[:300]
        rect = image.rect
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= width + 1, rect
        assert abs(rect["height"] - rect["width"] * float(natural[2]) / float(natural[1])) <= 2, (
            rect,
            natural.groups(),
        )


@pytest.mark.parametrize("width", [320, 360, 1280])
async def test_rekap_charts_load_under_the_csp_and_fit(db: AsyncEngine, site: str, browser: Any, width: int) -> None:
    from selenium.webdriver.common.by import By

    from tests.test_dataku_rekap import plant_more

    await plant(db)
    await plant_more(db)
    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    browser.get(f"{site}/dataku/")
    follow(browser, "to-rekap")
    assert by_id(browser, "recipients-caption").text == "Keluarga penerima bantuan per program"
    charts_drawn(browser, width)
    for box in browser.find_elements(By.CSS_SELECTOR, ".scroll"):  # wide tables scroll inside their box
        rect = box.rect
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= width + 1, rect
    assert by_id(browser, "main").rect["width"] <= width
    assert (
        browser.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("background-color") == HEADER_COLOUR
    )
    shot(browser, f"rekap-{width}")
    by_id(browser, "figure-recipients").screenshot(str(SCREENSHOTS / f"rekap-chart-{width}.png"))
    browser.get(browser.find_element(By.CSS_SELECTOR, 'a[href="/dataku/rekap?provinsi=32"]').get_attribute("href"))
    assert by_id(browser, "to-national").is_displayed() and "Kota Bogor" in by_id(browser, "recipients").text
    follow(browser, "lang-en")
    assert by_id(browser, "recipients-caption").text == "Households receiving aid, by programme"
    charts_drawn(browser, width)
    shot(browser, f"rekap-jawa-barat-english-{width}")


async def test_over_a_limit_the_page_says_so(db: AsyncEngine, settings: Settings, browser: Any) -> None:
    """Lacak of one ticket code past its hourly limit (3 here): the page explains it, in the browser's language."""
    code = "ABCDEFGHJK"  # well formed, no such ticket: counted all the same
    with uvicorn_server(settings.model_copy(update={"dataku_ticket_checks_per_hour": 3})) as tight:
        browser.set_window_size(360, 900)
        browser.get(f"{tight}/dataku/")
        browser.delete_all_cookies()  # cookies are the host's, whatever the port: no language chosen before
        for _ in range(3):
            browser.get(f"{tight}/dataku/lacak?kode={code}")
            assert by_id(browser, "notice").text.startswith("Tidak ada usulan atau sanggah dengan kode tiket itu")
        browser.get(f"{tight}/dataku/lacak?kode={code}")
        refused = by_id(browser, "notice").text
        shot(browser, "lacak-limit-360")
        assert httpx.get(f"{tight}/dataku/lacak?kode={code}").status_code == 429
    assert refused.startswith("Tiket ini terlalu sering dilacak: paling banyak 3 kali"), refused
