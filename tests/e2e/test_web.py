"""The web app in a real headless Chromium, through each person's day on the real services:
a county imports a list with one bad row, sees it against its row, fixes it, and submits an
item for verification with a photo; an inspector, offline, checks three items with photos,
closes the tab and comes back online: the results arrive once and the failed item is reopened
at the top of the county's workbench; the city verifies the item with its photo in view and
plans an inspection, rule X's refusal told in words.

Every page is checked with axe-core (no serious or critical violation) and photographed at
phone (390x844) and desk (1366x900) size under var/test-artifacts/web/.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.processes import ROOT
from tests.receiver import Receiver
from tests.support import eventually

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "var" / "test-artifacts" / "web"
SIZES = {"phone": (390, 844), "desk": (1366, 900)}
KEQIAO, YUECHENG = "330603", "330602"
INSPECTOR = "demo-inspector-1@330602"  # of 越城区: may inspect 柯桥区 (rule X)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK) and AXE.exists()),
    reason="needs chromium, chromium-driver and node_modules (make install)")]


@pytest.fixture(scope="module")
def web(system) -> str:
    """The web app of the system's Procfile, on the system's WEB_BIND, with the local sign-in
    `make run` offers."""
    url = f"http://{system.env['WEB_BIND']}"

    def ready():
        try:
            return requests.get(f"{url}/readyz", timeout=3).status_code == 200
        except requests.RequestException:
            return False
    eventually(ready, timeout=60, interval=0.5, message=f"the web app at {url} is not ready")
    return url


@pytest.fixture
def browser():
    profile = tempfile.mkdtemp(prefix="chromium-web-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     f"--user-data-dir={profile}", "--window-size=1366,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def step(driver, name: str) -> None:
    """axe-core on the page (no serious or critical violation), then a screenshot at both
    sizes; the window is left at the size it had."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe failed', impact: 'critical', nodes: [String(e)]}]));")
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: axe-core found {bad}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = driver.get_window_size()
    for size, (width, height) in SIZES.items():
        driver.set_window_size(width, height)
        path = ARTIFACTS / f"{name}-{size}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot of {name}"
    driver.set_window_size(before["width"], before["height"])


def sign_in(driver, web: str, sub: str) -> None:
    driver.get(f"{web}/signin")
    Select(driver.find_element(By.ID, "sub")).select_by_value(sub)
    driver.find_element(By.CSS_SELECTOR, ".local-signin button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda d: "/signin" not in d.current_url)


def sign_out(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, ".signout button").click()
    WebDriverWait(driver, 30).until(lambda d: "/signin" in d.current_url)


def text(driver) -> str:
    # Read in one go: an element found before a navigation goes stale after it.
    return driver.execute_script("return document.body ? document.body.innerText : ''")


def photo(directory: Path, name: str, colour: tuple[int, int, int]) -> Path:
    path = directory / f"{name}.jpg"
    image = Image.new("RGB", (320, 240), colour)
    for x in range(0, 320, 20):  # not a flat colour: something to look at
        image.paste((255 - colour[0], colour[1], 255 - colour[2]), (x, 0, x + 10, 240))
    image.save(path, "JPEG")
    return path


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def csv_file(directory: Path, name: str, rows: list[list[str]]) -> Path:
    header = ["县区代码", "乡镇街道", "村社区", "存在问题", "整改措施", "完成时间", "责任人",
              "类别", "公示"]
    path = directory / name
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def api(system, method: str, service: str, path: str, headers: dict, **kwargs) -> dict:
    answer = requests.request(method, f"{system.urls[service]}{path}", headers=headers,
                              timeout=60, **kwargs)
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else {}


def closed_item(system, item: dict) -> None:
    """Through the API, as the county and the city: worked on, evidenced, crossed off."""
    county, city = system.token("county_admin", KEQIAO), system.token("city_admin")
    path = f"/v1/items/{item['id']}"
    api(system, "POST", "issues", f"{path}/transitions", {**county, "If-Match": '"1"'},
        json={"to": "in_progress"})
    evidence = api(system, "POST", "issues", f"{path}/evidence", county,
                   files={"file": ("done.jpg", jpeg(), "image/jpeg")})["id"]
    api(system, "POST", "issues", f"{path}/transitions", {**county, "If-Match": '"2"'},
        json={"to": "pending_verification", "evidence": [evidence]})
    api(system, "POST", "issues", f"{path}/transitions", {**city, "If-Match": '"3"'},
        json={"to": "closed"})


def test_each_persons_day_in_the_browser(system, web, browser, tmp_path):
    tag = uuid.uuid4().hex[:6]
    problems = [f"村级活动场所未挂牌 {tag}-{n}" for n in range(5)]

    # --- the county imports its list: one bad row, shown against its row, then fixed -------
    sign_in(browser, web, f"demo-county-admin@{KEQIAO}")
    step(browser, "01-county-workbench-empty")
    rows = [[KEQIAO, "钱清街道", f"东村{n}", problems[n], "挂牌并建立台账", "2027-06-30", "李某某",
             "软弱落后", "是"] for n in range(5)]
    bad = [list(r) for r in rows]
    bad[2][5] = "6月底"  # no year: refused
    browser.get(f"{web}/county/import")
    step(browser, "02-county-import")
    browser.find_element(By.ID, "file").send_keys(str(csv_file(tmp_path, "list.csv", bad)))
    browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
    summary = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.ID, "error-summary"))[0].text
    assert "第 4 行" in summary and "完成时间" in summary, summary
    step(browser, "03-county-import-bad-row")
    county = system.token("county_admin", KEQIAO)
    listed = api(system, "GET", "issues", "/v1/items", county, params={"county": KEQIAO,
                                                                      "q": tag})
    assert listed["items"] == [], "a refused list imported rows"
    browser.find_element(By.ID, "file").send_keys(str(csv_file(tmp_path, "fixed.csv", rows)))
    browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
    WebDriverWait(browser, 60).until(lambda d: "全部导入" in text(d))
    step(browser, "04-county-import-fixed")
    items = {i["problem"]: i for i in api(system, "GET", "issues", "/v1/items", county, params={
        "county": KEQIAO, "q": tag})["items"]}
    assert sorted(items) == sorted(problems)

    # The county submits problems[4] for verification with a photo, in the browser.
    browser.get(f"{web}/items/{items[problems[4]]['id']}")
    step(browser, "05-county-item-open")
    browser.find_element(By.CSS_SELECTOR, "form.move button").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.NAME, "photos"))
    browser.find_element(By.NAME, "photos").send_keys(
        str(photo(tmp_path, "rectified", (40, 120, 200))))
    browser.find_element(By.CSS_SELECTOR, "form.move button").click()
    WebDriverWait(browser, 60).until(lambda d: "已提交核查" in text(d))
    step(browser, "06-county-item-submitted")
    sign_out(browser)

    # --- the city's inspection of three crossed-off items ----------------------------------
    checked = [items[p] for p in problems[:3]]
    for item in checked:
        closed_item(system, item)
    city = system.token("city_admin")
    now = datetime.now(UTC)
    plan = {"target_county": KEQIAO, "kind": "spot_check",
            "team": [{"sub": INSPECTOR, "county": YUECHENG, "name": "督查组 赵某某"}],
            "window_start": (now - timedelta(hours=1)).isoformat(),
            "window_end": (now + timedelta(hours=8)).isoformat(),
            "item_ids": [i["id"] for i in checked]}

    def planned():
        answer = requests.post(f"{system.urls['inspections']}/v1/inspections", json=plan,
                               headers={**city, "Idempotency-Key": f"web-{tag}"}, timeout=30)
        assert answer.status_code == 201, answer.text  # 422 until the copy has the items
        return answer.json()
    inspection = eventually(planned, timeout=60, interval=1,
                            message="the inspections copy never had the items")

    # --- the inspector, on a phone, offline ----------------------------------------------
    browser.set_window_size(*SIZES["phone"])
    sign_in(browser, web, INSPECTOR)
    step(browser, "07-inspector-my-inspections")
    browser.get(f"{web}/field/{inspection['id']}")
    step(browser, "08-inspector-planned")
    browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "filing"))
    # The service worker takes the page under its control and keeps it.
    browser.refresh()
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return !!(navigator.serviceWorker && navigator.serviceWorker.controller)"))
    browser.refresh()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".stepper"))
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    browser.refresh()  # offline: the kept page, from the phone
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".stepper"))
    assert not browser.execute_script("return navigator.onLine")
    step(browser, "09-inspector-offline-first-item")
    outcomes = ["fail", "pass", "pass"]
    outcome_of = {i["id"]: o for i, o in zip(checked, outcomes, strict=True)}
    for n in range(3):
        section = next(s for s in browser.find_elements(By.CSS_SELECTOR, "section.check")
                       if s.is_displayed())
        item_id = section.get_attribute("data-item")
        assert item_id in outcome_of, f"an item the inspection did not sample: {item_id}"
        outcome = outcome_of[item_id]
        section.find_element(By.CSS_SELECTOR, f"input[value={outcome}]").click()
        if outcome == "fail":
            section.find_element(By.TAG_NAME, "textarea").send_keys("牌子仍未挂上")
        section.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(
            str(photo(tmp_path, f"site-{n}", (30 * n, 160, 60))))
        WebDriverWait(browser, 10).until(
            lambda d, s=section: s.find_elements(By.CSS_SELECTOR, ".thumbs img"))
        if n == 0:
            step(browser, "10-inspector-offline-check-with-photo")
        browser.find_element(By.CSS_SELECTOR, ".stepper [data-step='1']").click()
    browser.find_element(By.CSS_SELECTOR, "#filing > button.primary").click()
    waiting = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "waiting").is_displayed()
        and d.find_element(By.ID, "waiting"))
    assert "等待发送" in waiting.text and "3 张照片" in waiting.text, waiting.text
    step(browser, "11-inspector-offline-waiting")
    still = api(system, "GET", "inspections", f"/v1/inspections/{inspection['id']}", city)
    assert still["status"] == "in_progress" and not still["checks"], "filed while offline"

    # The tab is closed; later, back online, the inspector opens the app again.
    old = browser.current_window_handle
    browser.switch_to.new_window("tab")
    fresh = browser.current_window_handle
    browser.switch_to.window(old)
    browser.close()
    browser.switch_to.window(fresh)
    browser.get(f"{web}/field")
    done = lambda: api(system, "GET", "inspections", f"/v1/inspections/{inspection['id']}",  # noqa: E731
                       city)["status"] == "completed"
    eventually(done, timeout=60, interval=1, message="the waiting results never arrived")
    browser.get(f"{web}/field/{inspection['id']}")
    WebDriverWait(browser, 30).until(lambda d: "已完成" in text(d) and "提交结果" in text(d))
    assert not browser.find_element(By.ID, "waiting").is_displayed()
    step(browser, "12-inspector-results-arrived")
    filed = api(system, "GET", "inspections", f"/v1/inspections/{inspection['id']}", city)
    assert len(filed["checks"]) == 3 and all(len(c["evidence"]) == 1 for c in filed["checks"])
    failed = checked[outcomes.index("fail")]

    def reopened():
        got = api(system, "GET", "issues", f"/v1/items/{failed['id']}", city)
        assert got["status"] == "reopened", got["status"]
        return got
    item = eventually(reopened, timeout=90, interval=1, message="the failed item never reopened")
    assert item["reopen_count"] == 1
    assert [h["cause"] for h in item["history"]].count("inspection.check_failed") == 1
    sign_out(browser)

    # --- the county sees it first on its workbench ----------------------------------------
    browser.set_window_size(*SIZES["desk"])
    sign_in(browser, web, f"demo-county-admin@{KEQIAO}")
    first = browser.find_element(By.CSS_SELECTOR, "table caption")
    assert "重新整改" in first.text
    top = browser.find_element(By.CSS_SELECTOR, "table tbody tr")
    assert failed["problem"] in top.text
    step(browser, "13-county-workbench-reopened-first")
    top.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(browser, 30).until(lambda d: "检查未通过" in text(d))
    step(browser, "14-county-item-history")
    sign_out(browser)

    # --- the city: the console, verification with the photo in view, an inspection ------
    sign_in(browser, web, "demo-city@330600")
    step(browser, "15-city-console")
    browser.get(f"{web}/city/verify")
    browser.find_element(By.LINK_TEXT, problems[4]).click()
    image = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".photos.large img"))[0]
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", image))
    step(browser, "16-city-verify-with-photo")
    browser.find_element(By.XPATH, "//button[text()='核查通过，销号']").click()
    WebDriverWait(browser, 30).until(lambda d: "已核查销号" in text(d))
    step(browser, "17-city-verified")
    assert api(system, "GET", "issues", f"/v1/items/{items[problems[4]]['id']}",
               city)["status"] == "closed"

    browser.get(f"{web}/city/plan")
    step(browser, "18-city-plan")
    Select(browser.find_element(By.ID, "target_county")).select_by_value(KEQIAO)
    browser.find_element(By.ID, "team").send_keys(f"demo-inspector-1@{KEQIAO}, 柯桥区, 孙某某")
    browser.find_element(By.ID, "size").clear()
    browser.find_element(By.ID, "size").send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "button[value=preview]").click()
    summary = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.ID, "error-summary"))[0].text
    assert "规则 X" in summary and "孙某某" in summary, summary
    step(browser, "19-city-plan-rule-x")
    team = browser.find_element(By.ID, "team")
    team.clear()
    team.send_keys(f"{INSPECTOR}, 越城区, 赵某某")
    browser.find_element(By.CSS_SELECTOR, "button[value=preview]").click()
    heading = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.ID, "preview-title"))[0].text
    assert "抽取 2 项" in heading, heading
    step(browser, "20-city-plan-preview")
    browser.find_element(By.CSS_SELECTOR, "button[value=plan]").click()
    WebDriverWait(browser, 60).until(lambda d: "已计划" in text(d))
    step(browser, "21-city-inspection-planned")

    # --- the city subscribes 柯桥区's county system, follows its deliveries, rotates the
    # secret, replays today's events ------------------------------------------------------
    with Receiver() as receiver:
        browser.get(f"{web}/city/subscriptions")
        step(browser, "22-city-subscriptions")
        browser.find_element(By.ID, "url").send_keys(receiver.url)
        browser.find_element(By.CSS_SELECTOR, "input[name=event_types][value='issue.created']") \
            .click()
        browser.find_element(By.CSS_SELECTOR, f"input[name=counties][value='{KEQIAO}']").click()
        browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
        secret = WebDriverWait(browser, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "code.secret"))[0].text
        receiver.secret = secret
        step(browser, "23-city-subscription-secret")
        created = api(system, "POST", "issues", "/v1/items", county, json={
            "county": KEQIAO, "township": "钱清街道", "village": "西村", "problem": f"订阅后 {tag}",
            "measure": "建立台账", "deadline": "2027-06-30"})
        eventually(lambda: created["id"] in {e["subject"] for e in receiver.of_type(
            "issue.created")}, timeout=60, interval=0.5,
            message="the county system never heard of the new item")
        assert not receiver.rejected, receiver.rejected
        browser.find_element(By.LINK_TEXT, "查看订阅").click()
        WebDriverWait(browser, 30).until(lambda d: "issue.created" in text(d))
        step(browser, "24-city-subscription-deliveries")
        browser.find_element(By.XPATH, "//button[text()='更换签名密钥']").click()
        rotated = WebDriverWait(browser, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "code.secret"))[0].text
        assert rotated and rotated != secret and "仍会同时签名" in text(browser)
        receiver.secret = rotated
        step(browser, "25-city-subscription-rotated")
        browser.find_element(By.LINK_TEXT, "查看订阅").click()
        browser.find_element(By.XPATH, "//button[text()='重新投递']").click()
        WebDriverWait(browser, 30).until(lambda d: "已重新投递" in text(d))
        step(browser, "26-city-subscription-replayed")
        eventually(lambda: {e["subject"] for e in receiver.of_type("issue.created")}
                   >= {i["id"] for i in items.values()}, timeout=60, interval=0.5,
                   message="the replayed creations never reached the county system")
        assert not receiver.rejected, receiver.rejected
