"""A headless Chromium for the web-page tests (Debian's ``chromium`` and ``chromedriver``, driven by
Selenium), and where the tests save their screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1280, 1000)


def _binary(preferred: Path, name: str) -> str | None:
    return str(preferred) if preferred.is_file() else shutil.which(name)


def browser() -> Iterator:
    """One headless Chromium (skipped when it is not installed, unless MODELREUSE_REQUIRE_BROWSER=1)."""
    chromium, driver = _binary(CHROMIUM, "chromium"), _binary(CHROMEDRIVER, "chromedriver")
    if chromium is None or driver is None:
        if os.environ.get("MODELREUSE_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromedriver are needed for the web tests (apt-get install chromium chromium-driver)")
        pytest.skip("chromium or chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     "--no-first-run", "--lang=en-GB"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


def screenshot_folder(default: Path) -> Path:
    """``$MODELREUSE_SCREENSHOTS`` if set, else ``default`` (the test module's tmp folder)."""
    folder = Path(os.environ.get("MODELREUSE_SCREENSHOTS") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
