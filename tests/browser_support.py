"""One headless browser for the tests that need a real one: Debian's Chromium driven by Debian's
chromedriver through Selenium (``/usr/bin/chromium``, ``/usr/bin/chromedriver``).

Never a downloaded browser or driver: when either is missing the test fails with the ``apt-get``
line that installs them. Used by tests/test_clients.py (a cross-origin ``fetch``),
tests/test_dataku_browser.py (the pages with JavaScript off) and tests/test_dataku_axe.py (axe-core
on every page).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "install Debian's browser and driver: `apt-get install -y --no-install-recommends chromium chromium-driver`"
ARGUMENTS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def require_chromium() -> None:
    """Fail the test (never skip it, never download anything) when Debian's browser or driver is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: {INSTALL}")


@contextmanager
def chromium(profile: Path, *, javascript: bool = True, language: str | None = None) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile in ``profile``; ``javascript=False`` turns scripts off for
    every page, ``language`` (such as ``id-ID``) is what its ``Accept-Language`` asks for."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (*ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    prefs: dict[str, Any] = {}
    if language is not None:
        options.add_argument(f"--lang={language}")
        prefs["intl.accept_languages"] = f"{language},{language.split('-')[0]}"
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    if prefs:
        options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
