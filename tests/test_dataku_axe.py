"""axe-core (npm, tests/clients) on every SIKS-Dataku page in headless Debian Chromium, at 360 and 1280 px:
no violation of impact serious or critical.

The pages send no script and forbid scripts in their Content-Security-Policy; axe is injected by the
driver (``execute_script`` runs through the DevTools protocol, which the page's CSP does not govern).
This browser has JavaScript on — a JavaScript-off session (tests/test_dataku_browser.py) cannot run an
asynchronous script — which changes nothing on pages that have none: each page is the same HTML and
style sheet, rendered the same. Each page is reached as a citizen reaches it (links, the region steps,
forms filled and sent), against a real uvicorn server on the test database.

``PAGES`` is the list of pages: one row a page state; a new page adds a row. Like the other browser
tests these run once, in the SQLite pass.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import Sex
from core.foundation.settings import Settings
from core.households.identity import make_nik
from tests.browser_support import chromium
from tests.serving import uvicorn_server
from tests.test_dataku_browser import CHAIN, by_id, follow
from tests.test_public import plant

pytestmark = pytest.mark.skipif(
    os.environ.get("SIKS_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="browser tests: run once, in the SQLite pass",
)

AXE = Path(__file__).parent / "clients" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
WIDTHS = (360, 1280)
#: Runs every rule axe has by default (WCAG 2.x A and AA, best practices) and answers what it found.
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  (found) => done({passes: found.passes.map((rule) => rule.id), violations: found.violations.map((rule) => ({
    id: rule.id, impact: rule.impact, help: rule.help,
    nodes: rule.nodes.map((node) => ({target: node.target.join(' '), summary: node.failureSummary}))}))}),
  (error) => done({error: String(error)}));
"""
_serial = itertools.count(1)


# --- how a citizen reaches each page -------------------------------------------------------------


def visit(path: str) -> Callable[[Any, str], None]:
    def opened(browser: Any, site: str) -> None:
        browser.get(f"{site}{path}")

    return opened


def steps(page: str, levels: int, lang: str = "id") -> Callable[[Any, str], None]:
    """``page`` (``cek-bansos`` or ``usul``) with the first ``levels`` regions chosen in its select boxes."""

    def opened(browser: Any, site: str) -> None:
        from selenium.webdriver.support.select import Select

        browser.get(f"{site}/dataku/{page}?lang={lang}")
        for param, code in CHAIN[:levels]:
            Select(by_id(browser, param)).select_by_value(code)
            follow(browser, "region-next")

    return opened


def look_up(name: str, nik: str = "") -> Callable[[Any, str], None]:
    def opened(browser: Any, site: str) -> None:
        steps("cek-bansos", 4)(browser, site)
        by_id(browser, "nama").send_keys(name)
        by_id(browser, "nik").send_keys(nik)
        follow(browser, "lookup")

    return opened


def usul_fields(**change: str) -> dict[str, str]:
    serial = next(_serial)
    return {
        "nama": "Neneng Kurniasih",
        "nik": make_nik("32.01.01", date(1985, 6, 5), Sex.FEMALE, serial),
        "kk": f"32010100000{serial:05d}",
        "alamat": "Kampung Rawa Kalong",
        "rt": "3",
        "rw": "5",
        "telepon": "081234567890",
        "alasan": "Suami meninggal, tiga anak masih sekolah.",
        **change,
    }


def send_usul(fields: dict[str, str]) -> Callable[[Any, str], None]:
    def opened(browser: Any, site: str) -> None:
        steps("usul", 4)(browser, site)
        for name, value in fields.items():
            by_id(browser, name).send_keys(value)
        follow(browser, "send-usul")

    return opened


def usul_sent(twice: bool = False) -> Callable[[Any, str], None]:
    def opened(browser: Any, site: str) -> None:
        fields = usul_fields()
        send_usul(fields)(browser, site)
        if twice:  # the same family again: the folded page
            send_usul(fields)(browser, site)
            assert by_id(browser, "folded").is_displayed()

    return opened


def send_sanggah(name: str) -> Callable[[Any, str], None]:
    def opened(browser: Any, site: str) -> None:
        from selenium.webdriver.support.select import Select

        steps("sanggah", 4)(browser, site)
        by_id(browser, "nama").send_keys(name)
        Select(by_id(browser, "jenis")).select_by_value("no_longer_poor")
        by_id(browser, "keterangan").send_keys("Sudah punya mobil baru dan toko besar di pasar.")
        follow(browser, "send-sanggah")

    return opened


def tracked_sanggah(browser: Any, site: str) -> None:
    send_sanggah("Siti Rosida")(browser, site)
    follow(browser, "track")
    assert by_id(browser, "status-text").is_displayed()


async def a_recipient(db: AsyncEngine) -> None:
    from tests.grievance_support import recipient

    await recipient(db, "Siti Rosida")


async def recipients_and_rounds(db: AsyncEngine) -> None:
    from tests.test_dataku_rekap import plant_more

    await plant(db)
    await plant_more(db)


def tracked(browser: Any, site: str) -> None:
    usul_sent()(browser, site)
    follow(browser, "track")
    assert by_id(browser, "status-text").is_displayed()


@dataclass(frozen=True)
class Page:
    name: str
    open: Callable[[Any, str], None]
    shows: str  # the id of an element the page state must show: proves the page is the one meant
    prepare: Callable[[AsyncEngine], Awaitable[object]] | None = None  # data the page needs, planted first


PAGES = [
    Page("home", visit("/dataku/"), "to-usul"),
    Page("home-english", visit("/dataku/?lang=en"), "lang-id"),
    Page("cek-bansos-province", steps("cek-bansos", 0), "provinsi"),
    Page("cek-bansos-regency", steps("cek-bansos", 1), "kabupaten"),
    Page("cek-bansos-district", steps("cek-bansos", 2), "kecamatan"),
    Page("cek-bansos-village", steps("cek-bansos", 3), "desa"),
    Page("cek-bansos-form", steps("cek-bansos", 4), "lookup-form"),
    Page("cek-bansos-form-english", steps("cek-bansos", 4, "en"), "lookup-form"),
    Page("cek-bansos-region-dropped", visit("/dataku/cek-bansos?provinsi=32&kabupaten=35.78"), "notice"),
    Page("cek-bansos-answer", look_up("Siti Rosida"), "answer", plant),
    Page("cek-bansos-nobody", look_up("Nama Tidak Ada"), "not-found", plant),
    Page("cek-bansos-errors", look_up("Siti Rosida", "3201abc"), "problems", plant),
    Page("usul-province", steps("usul", 0), "provinsi"),
    Page("usul-form", steps("usul", 4), "usul-form"),
    Page("usul-errors", send_usul(usul_fields(rt="abc", telepon="12")), "problems"),
    Page("usul-sent", usul_sent(), "ticket"),
    Page("usul-folded", usul_sent(twice=True), "ticket"),
    Page("sanggah-province", steps("sanggah", 0), "provinsi"),
    Page("sanggah-form", steps("sanggah", 4), "sanggah-form"),
    Page("sanggah-nobody", send_sanggah("Nama Tidak Ada"), "problems", a_recipient),
    Page("sanggah-sent", send_sanggah("Siti Rosida"), "ticket", a_recipient),
    Page("lacak-sanggah", tracked_sanggah, "steps", a_recipient),
    Page("rekap", visit("/dataku/rekap"), "recipients-caption", recipients_and_rounds),
    Page("rekap-province-english", visit("/dataku/rekap?provinsi=32&lang=en"), "to-national", recipients_and_rounds),
    Page("lacak", visit("/dataku/lacak"), "lacak-form"),
    Page("lacak-found", tracked, "steps"),
    Page("lacak-not-found", visit("/dataku/lacak?kode=ABCDE23456"), "notice"),
    Page("lacak-bad-code", visit("/dataku/lacak?kode=abc"), "notice"),
    Page("not-found-404", visit("/dataku/tidak-ada"), "to-home"),
]


# --- the browser, the server, axe ----------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `npm ci --no-audit --no-fund` in tests/clients")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(settings: Settings) -> Iterator[str]:
    """A real uvicorn server on the test database, its limits out of the way of a test that opens many pages."""
    raised = {
        "public_requests_per_minute": 100_000,
        "dataku_region_steps_per_minute": 100_000,
        "dataku_ticket_checks_per_hour": 100_000,
    }
    with uvicorn_server(settings.model_copy(update=raised)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium, JavaScript on (for axe only: the pages send none), Accept-Language id-ID."""
    with chromium(tmp_path_factory.mktemp("chromium-axe"), language="id-ID") as driver:
        yield driver


def audit(browser: Any, axe_source: str) -> dict[str, Any]:
    """axe-core's findings on the page the browser shows."""
    browser.execute_script(axe_source + "\nreturn true;")
    found = dict(browser.execute_async_script(RUN_AXE))
    assert "error" not in found, found
    return found


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for rule in violations:
        lines.append(f"{rule['impact']}: {rule['id']} ({rule['help']})")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in rule["nodes"])
    return "\n".join(lines)


def test_every_page_is_in_the_table() -> None:
    """Each template of the pages is reached by some row (a new template needs a row)."""
    folder = Path(__file__).parent.parent / "core/dataku/templates"
    templates = {path.stem for path in folder.glob("*.html") if not path.stem.startswith("_")}  # _x: partials
    reached = {"index": "home", "cek_bansos": "cek-bansos-form", "usul": "usul-form", "usul_sent": "usul-sent"}
    reached |= {"lacak": "lacak", "error": "not-found-404", "sanggah": "sanggah-form", "sanggah_sent": "sanggah-sent"}
    reached |= {"rekap": "rekap"}
    # refused.html: the 413 page of a body over the limit (tests/test_dataku_usul.py), not reached by a browser here
    assert templates - {"base", "refused"} <= set(reached), "add the new page to PAGES"
    assert set(reached.values()) <= {page.name for page in PAGES}


def test_axe_in_this_browser_finds_what_it_should(browser: Any, axe_source: str) -> None:
    """The harness can fail: a page without a language, an image without text and an unlabelled field."""
    browser.get("data:text/html,<title>bad</title><main><img src='x.png'><input type='text'></main>")
    found = audit(browser, axe_source)
    assert {"html-has-lang", "image-alt", "label"} <= {
        rule["id"] for rule in found["violations"] if rule["impact"] in BLOCKING
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
async def test_no_serious_or_critical_accessibility_violation(
    db: AsyncEngine, site: str, browser: Any, axe_source: str, page: Page, width: int
) -> None:
    if page.prepare is not None:
        await page.prepare(db)
    browser.set_window_size(width, 900)
    browser.delete_all_cookies()
    page.open(browser, site)
    assert by_id(browser, page.shows).is_displayed()
    assert browser.execute_script("return document.scripts.length") == 0  # the page itself sends none
    found = audit(browser, axe_source)
    checked = set(found["passes"]) | {rule["id"] for rule in found["violations"]}
    assert {"html-has-lang", "color-contrast", "landmark-one-main"} <= checked, "axe did not check the page"
    if found["violations"]:
        print(f"{page.name} at {width} px, minor and moderate:\n{described(found['violations'])}")  # shown with -s
    blocking = [rule for rule in found["violations"] if rule["impact"] in BLOCKING]
    assert not blocking, f"{page.name} at {width} px:\n{described(found['violations'])}"
