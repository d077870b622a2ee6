"""The dashboard in headless Chromium (Debian chromium + chromium-driver,
driven by selenium): a staff member logs in, sees the sites, opens a site
and its latest report. The hub runs in-process on 127.0.0.1 over TLS; the
browser trusts its key by its SPKI pin only, and keeps the flags of
tests/browser.py that turn its own background traffic off."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.browser import CHROMIUM_FLAGS, chromium_path
from tests.hub_reports import mapping_imaging, practice_report, query_open
from tests.inprocess.hub_fixtures import PASSWORD, STAFF, running_hub

DAY = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def _spki_pin(cert: Path) -> str:
    spki = (
        x509.load_pem_x509_certificate(cert.read_bytes())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _browse(url: str, pin: str, lang: str) -> dict[str, object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="exposcan-hub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path() or "chromium"
    for flag in CHROMIUM_FLAGS:
        # selenium speaks to chromedriver instead of a pipe; the resolver and
        # proxy rules keep finding nothing, except the hub's loopback address.
        if flag == "--host-resolver-rules=MAP * ~NOTFOUND":
            flag = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
        if flag != "--remote-debugging-pipe":
            options.add_argument(flag)
    options.add_argument("--proxy-bypass-list=127.0.0.1")
    options.add_argument(f"--ignore-certificate-errors-spki-list={pin}")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--lang={lang}")
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    seen: dict[str, object] = {}
    try:
        driver.set_page_load_timeout(30)
        driver.get(url + "/")
        seen["login_url"] = driver.current_url
        driver.find_element(By.ID, "user").send_keys(STAFF)
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "submit").click()
        # A click does not wait for the page it leads to: each step waits
        # for what the next page shows (a busy machine renders slowly).
        wait = WebDriverWait(driver, 30)
        wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#sites tr.site")))
        rows = driver.find_elements(By.CSS_SELECTOR, "#sites tr.site")
        seen["sites"] = [r.get_attribute("data-site") for r in rows]
        seen["dashboard"] = driver.find_element(By.TAG_NAME, "body").text
        driver.find_element(By.LINK_TEXT, "cabinet-exposed").click()
        wait.until(shown.presence_of_element_located((By.ID, "site-name")))
        seen["site_title"] = driver.find_element(By.ID, "site-name").text
        seen["history_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#history tbody tr"))
        history_url = driver.current_url
        driver.find_element(By.ID, "latest-report").click()
        wait.until(shown.url_changes(history_url))
        wait.until(shown.presence_of_element_located((By.TAG_NAME, "body")))
        seen["report_title"] = driver.title
        seen["report_text"] = driver.find_element(By.TAG_NAME, "body").text
        seen["console"] = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return seen


@pytest.mark.timeout(240)
async def test_staff_log_in_see_the_sites_and_open_a_report(tmp_path: Path) -> None:
    if chromium_path() is None or shutil.which("chromedriver") is None:
        pytest.fail("the dashboard test needs Debian's chromium and chromium-driver")
    async with running_hub(str(tmp_path / "hub.sqlite3"), tmp_path) as hub:
        # Given two sites that pushed reports, one with a box forward to its PACS
        exposed = await hub.store.add_site("cabinet-exposed")
        quiet = await hub.store.add_site("cabinet-quiet")
        for token, report in (
            (exposed, practice_report(DAY, [query_open()])),
            (exposed, practice_report(DAY + timedelta(days=1), [query_open(), mapping_imaging()])),
            (quiet, practice_report(DAY, [])),
        ):
            status, _, _ = await hub.request(
                "POST", "/api/v1/reports", token=token, body=report.to_json().encode()
            )
            assert status == 201
        # When a staff member opens the dashboard in Chromium and logs in
        seen = await asyncio.to_thread(_browse, hub.url, _spki_pin(tmp_path / "cert.pem"), "en")
    # Then the login page came first, then every site with its verdicts
    assert str(seen["login_url"]).endswith("/login")
    assert seen["sites"] == ["cabinet-exposed", "cabinet-quiet"]
    assert "Images reachable from the internet" in str(seen["dashboard"])
    # And the site page shows its history, and its latest report opens
    assert seen["site_title"] == "cabinet-exposed"
    assert seen["history_rows"] == 2
    assert "scan report" in str(seen["report_title"]).lower()
    assert "11112" in str(seen["report_text"])  # the forward's public port
    # And no page raised an error in the browser (CSP violations included)
    assert seen["console"] == []
