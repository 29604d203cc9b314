"""The public pages in a real headless Chromium: the city dashboard and a county board.

They must read in Chinese, show the city's figures and charts, never show a responsible
person, and render on a phone as well as on a desk. Screenshots are kept under
var/test-artifacts/ for a person to look at.

Needs Debian's chromium and chromium-driver (tools/demo/install_browser.sh) and the fixture
``issues_url``: the base URL of a running issues service with data (tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from shared import divisions
from shared.auth import mint
from shared.config import Settings

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
WINDOWS = {"phone": (390, 844), "desktop": (1280, 900)}
BOARD_COUNTY = "330602"  # 越城区
COUNTIES = divisions.of(Settings()).counties  # the default region, 绍兴市, as the system runs

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs chromium and chromium-driver: run tools/demo/install_browser.sh")

# For running this file against a service of your own: DEMO_ISSUES_URL=http://127.0.0.1:8001.
# The e2e harness provides ``issues_url`` itself; this block then stays inactive.
if os.environ.get("DEMO_ISSUES_URL"):
    @pytest.fixture(scope="module")
    def issues_url() -> str:
        return os.environ["DEMO_ISSUES_URL"].rstrip("/")


@pytest.fixture(params=list(WINDOWS), scope="module")
def browser(request) -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     f"--user-data-dir={profile}", "--window-size={},{}".format(
                         *WINDOWS[request.param])):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.window_name = request.param  # names the screenshots
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: webdriver.Chrome, page: str) -> Path:
    """A full-width screenshot kept as an artifact; it must not be blank."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{page}-{driver.window_name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot of {page}"
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 16, f"{path} looks blank ({len(colours)} colours)"
    return path


def text_of(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def public_items(issues_url: str, county: str) -> list[dict]:
    """The county's public items as the city reads them through the API (with responsible)."""
    token = mint(Settings.from_env().jwt_secret, sub="browser-test@city", role="city_admin")
    found, cursor = [], None
    while True:
        params = {"county": county, "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{issues_url}/v1/items", params=params, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
        page.raise_for_status()
        body = page.json()
        found += [item for item in body["items"] if item["public"]]
        cursor = body["next_cursor"]
        if not cursor:
            return found


def test_the_dashboard_shows_every_county_with_its_figures_and_charts(browser, issues_url):
    browser.get(f"{issues_url}/dashboard")
    text = text_of(browser)
    assert "工作台账" in text
    for name in ("越城区", "柯桥区"):
        assert name in text
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    totals = {}
    for row in rows:
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        if cells and cells[0] in COUNTIES.values() and re.fullmatch(r"\d+", cells[1]):
            totals[cells[0]] = int(cells[1])
    assert totals and sum(totals.values()) > 0, "the ledger shows no county counts"
    charts = browser.find_elements(By.CSS_SELECTOR, "svg")
    assert charts, "the dashboard has no chart"
    assert browser.find_elements(By.CSS_SELECTOR, "svg rect"), "the charts draw no bars"
    screenshot(browser, "dashboard")


def test_a_county_board_posts_public_items_and_never_the_responsible_person(browser,
                                                                           issues_url):
    posted = public_items(issues_url, BOARD_COUNTY)
    browser.get(f"{issues_url}/board/{BOARD_COUNTY}")
    text = text_of(browser)
    assert COUNTIES[BOARD_COUNTY] in text and "公示" in text
    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "th")]
    assert {"存在问题", "整改措施", "完成时间"} <= set(headers)
    assert "责任人" not in headers
    assert posted, "the county has no public item to post"
    assert len(browser.find_elements(By.CSS_SELECTOR, "table tbody tr")) == len(posted)
    for item in posted:
        if item["responsible"]:
            assert item["responsible"] not in text
            assert item["responsible"].split()[-1] not in text  # not even the bare name
    screenshot(browser, f"board-{BOARD_COUNTY}")
