"""The review workspace in a real Chromium (Selenium with Debian's chromium-driver).

A reviewer logs in, filters the queue, opens the change of a hostile post (every field tries
to run script or fetch a canary server on loopback: nothing may run and nothing may load
from anywhere but the workspace), triages it and adds a note, reloads and sees both, and
compares two versions of the post. A viewer sees no triage controls.

Needs `chromium` and `chromedriver` (tests/browser/install.sh); skipped with that hint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.test_report_browser import Canary
from tests.test_web_http import CONFIG, PASSWORD, Server, build_archive, start_server, stop_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium or chromedriver is not installed: run tests/browser/install.sh",
)



@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    with Canary() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, canary: Canary) -> Iterator[Server]:
    where = tmp_path_factory.mktemp("webui")
    db, config = where / "wpwatch.db", where / "wpwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    build_archive(db, canary.url)
    running = start_server(db, config)
    running.add_user("rita", "reviewer")
    running.add_user("vic", "viewer")
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: Any, server: Server, name: str) -> None:
    driver.get(server.url + "/")  # redirected to the login page
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "whoami"))
    assert name in driver.find_element(By.ID, "whoami").text


def requests_made(driver: Any) -> list[str]:
    """Every URL the browser asked for since the last call (the DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def problems(driver: Any) -> list[str]:
    """Console messages of the page: CSP violations, blocked loads, script errors."""
    return [e["message"] for e in driver.get_log("browser") if "favicon.ico" not in e["message"]]


def test_review_a_hostile_change_end_to_end(browser: Any, server: Server, canary: Canary) -> None:
    driver = browser
    log_in(driver, server, "rita")

    # the queue, filtered to the hostile site
    Select(driver.find_element(By.ID, "f-site")).select_by_value("2")
    driver.find_element(By.ID, "apply").click()
    WebDriverWait(driver, 20).until(lambda d: "site=2" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue li.row")
    assert sorted(int(r.get_attribute("data-change")) for r in rows) == [6, 7]

    # the change of the hostile post: inert, nothing loaded from elsewhere
    requests_made(driver)
    problems(driver)
    driver.find_element(By.CSS_SELECTOR, "#queue li[data-change='7'] a.t").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "triage-form"))
    assert driver.find_elements(By.CSS_SELECTOR, "del, ins")  # the report's diff views
    loaded = requests_made(driver)
    assert loaded and all(url.startswith(server.url + "/") for url in loaded), loaded
    assert problems(driver) == []
    assert canary.hits == []

    # triage and a note; after a reload both are there
    driver.find_element(By.ID, "state-important").click()
    driver.find_element(By.ID, "label-removed-content").click()
    note = "<script>alert(1)</script> checked against the cached copy"
    driver.find_element(By.ID, "note").send_keys(note)
    driver.find_element(By.ID, "save").click()
    WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.current_url.endswith("#triage")
        and d.find_element(By.ID, "state").text == "important")
    driver.refresh()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "notes"))
    assert driver.find_element(By.ID, "state").text == "important"
    labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#triage .label")]
    assert labels == ["removed-content"]
    assert driver.find_element(By.CSS_SELECTOR, "#notes .body").text == note
    audit = driver.find_element(By.ID, "audit").text
    assert "rita" in audit and "important" in audit

    # the post's timeline: compare its two versions
    driver.find_element(By.PARTIAL_LINK_TEXT, "timeline of posts/1").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "compare-form"))
    Select(driver.find_element(By.ID, "from")).select_by_index(0)
    Select(driver.find_element(By.ID, "to")).select_by_index(1)
    driver.find_element(By.ID, "compare").click()
    WebDriverWait(driver, 20).until(lambda d: "/compare?" in d.current_url)
    assert driver.find_element(By.CSS_SELECTOR, ".crumb").text.endswith("posts/1 › compare")
    assert driver.find_elements(By.CSS_SELECTOR, "del, ins")
    loaded = requests_made(driver)
    assert all(url.startswith(server.url + "/") for url in loaded), loaded
    assert problems(driver) == []
    assert canary.hits == []


def test_a_viewer_sees_no_triage_controls(browser: Any, server: Server, canary: Canary) -> None:
    driver = browser
    log_in(driver, server, "vic")
    driver.get(server.url + "/changes/6")
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "triage"))
    assert driver.find_elements(By.ID, "triage-form") == []
    assert driver.find_elements(By.CSS_SELECTOR, "textarea, input[type=radio][name=state]") == []
    assert canary.hits == []
