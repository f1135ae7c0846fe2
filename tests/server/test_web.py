"""The web pages in a real headless Chromium against a live server (``modelreuse serve`` on SQLite):
log in with a token, search by text and by an uploaded task spec, open a learnware, submit a zip
through the form and watch the sandbox verify it, delete it, make a token, log out. Plus: a POST
without its CSRF token is refused, package text is shown as text (never run), errors are readable
pages with the right status. Each page is saved as a PNG (``$MODELREUSE_SCREENSHOTS`` or the
module's tmp folder)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import alert_is_present, staleness_of
from selenium.webdriver.support.ui import WebDriverWait
from sklearn.linear_model import Ridge

from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.tabular import impute_means
from modelreuse.specs.rkme import RKMESpec
from tests.conftest import user_half
from tests.server.web_helpers import browser, screenshot_folder

STORED = ("Aotizhongxin", "Changping", "Huairou")
UPLOADED = "Wanliu"
HOSTILE_NAME = "<b>Bold</b> ridge"
HOSTILE_DESCRIPTION = '<script>window.pwned = 1;</script> & "quoted" <img src=x onerror="window.pwned = 2">'
VALIDATION_TIMEOUT_S = 120


def station_learnware(directory: Path, beijing: dict, site: str, **card) -> Learnware:
    """A real Ridge learnware on the first half of a Beijing station's rows (``card`` overrides
    its name, description and tags)."""
    X, y = beijing[site]["X"], beijing[site]["y"]
    X = impute_means(X[: len(X) // 2])
    card = {"name": site, "description": f"PM2.5 model for the {site} station", "tags": ["air", "beijing"], **card}
    return Learnware.build(directory / card["name"], Ridge().fit(X, y[: len(X)]), RKMESpec.fit(X, m=20, max_iter=5),
                           task_type="regression", target="PM2.5", feature_names=beijing["_feature_names"], **card)


@pytest.fixture(scope="module")
def site(sqlite_server, beijing, tmp_path_factory) -> SimpleNamespace:
    """The server with three station learnwares and one with HTML in its card stored, the Wanliu
    station's zip to upload through the form, and a task spec of Huairou rows its learnware never saw."""
    folder = tmp_path_factory.mktemp("web")
    dock = Dock(sqlite_server.root, url=sqlite_server.db_url)
    ids = {s: dock.submit(station_learnware(folder, beijing, s), validate=False) for s in STORED}
    hostile = station_learnware(folder, beijing, "Changping", name=HOSTILE_NAME, description=HOSTILE_DESCRIPTION,
                                tags=["<i>tag</i>"])
    ids["hostile"] = dock.submit(hostile, validate=False)
    spec = folder / "huairou-task.npz"
    RKMESpec.fit(user_half(beijing, "Huairou")[0], m=20, max_iter=5).save(spec)
    return SimpleNamespace(server=sqlite_server, ids=ids, spec=spec,
                           zip=station_learnware(folder, beijing, UPLOADED).to_zip(folder / "wanliu.zip"),
                           shots=screenshot_folder(folder / "screenshots"))


@pytest.fixture(scope="module")
def chrome() -> Iterator:
    yield from browser()


def visit(chrome, site, path: str) -> None:
    chrome.get(site.server.url + path)


def shot(chrome, site, name: str) -> None:
    chrome.save_screenshot(str(site.shots / f"{name}.png"))


def text(chrome, css: str) -> str:
    return chrome.find_element(By.CSS_SELECTOR, css).text


def follow(chrome, css: str, accept_alert: bool = False) -> None:
    """Click the link or button at ``css`` and wait until the page it leads to has loaded."""
    old_page = chrome.find_element(By.TAG_NAME, "html")
    chrome.find_element(By.CSS_SELECTOR, css).click()
    if accept_alert:
        WebDriverWait(chrome, 10).until(alert_is_present()).accept()
    WebDriverWait(chrome, 60).until(staleness_of(old_page))
    WebDriverWait(chrome, 60).until(lambda c: c.execute_script("return document.readyState") == "complete")


def log_in(chrome, site, token: str) -> None:
    visit(chrome, site, "/login")
    chrome.find_element(By.ID, "token").send_keys(token)
    follow(chrome, "#login")


def as_alice(chrome, site) -> None:
    """Make sure the browser is logged in as alice."""
    visit(chrome, site, "/")
    if not chrome.find_elements(By.ID, "who") or text(chrome, "#who") != "alice":
        chrome.delete_all_cookies()
        log_in(chrome, site, site.server.alice_token)


def test_login_with_a_token(chrome, site):
    visit(chrome, site, "/")
    assert chrome.find_elements(By.ID, "login-link")
    shot(chrome, site, "01-home-anonymous")
    log_in(chrome, site, "mrt_not-a-real-token")
    assert "unknown or revoked token" in text(chrome, "#error")
    assert not chrome.find_elements(By.ID, "who")
    shot(chrome, site, "02-login-refused")
    log_in(chrome, site, site.server.alice_token)
    assert text(chrome, "#who") == "alice"
    cookie = chrome.get_cookie("modelreuse_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_text_search_with_filters(chrome, site):
    as_alice(chrome, site)
    chrome.find_element(By.ID, "q").send_keys("Huairou station")
    chrome.find_element(By.CSS_SELECTOR, "#task_type option[value=regression]").click()
    chrome.find_element(By.ID, "tag").send_keys("air")
    follow(chrome, "#search-text")
    names = [a.text for a in chrome.find_elements(By.CSS_SELECTOR, "#ranking .result-name")]
    assert names[0] == "Huairou"
    assert "card matches" in text(chrome, "#ranking .reason")
    shot(chrome, site, "03-text-search")
    visit(chrome, site, "/?q=Huairou&task_type=classification")
    assert chrome.find_elements(By.ID, "empty") or chrome.find_elements(By.ID, "no-results")


def test_spec_search_ranks_with_p_values(chrome, site):
    as_alice(chrome, site)
    chrome.find_element(By.ID, "spec").send_keys(str(site.spec))
    follow(chrome, "#search-spec")
    names = [a.text for a in chrome.find_elements(By.CSS_SELECTOR, "#ranking .result-name")]
    p_values = [float(td.text) for td in chrome.find_elements(By.CSS_SELECTOR, "#ranking .p-value")]
    assert names[0] == "Huairou" and set(names) >= set(STORED)
    assert len(p_values) == len(names) and all(0.0 <= p <= 1.0 for p in p_values)
    assert "MMD^2" in text(chrome, "#ranking .reason")
    shot(chrome, site, "04-spec-search")


def test_detail_page_shows_card_specs_versions_and_download(chrome, site):
    as_alice(chrome, site)
    visit(chrome, site, "/?q=Huairou")
    follow(chrome, "#ranking .result-name")
    assert text(chrome, "#learnware-name") == "Huairou"
    assert text(chrome, "#learnware-id") == site.ids["Huairou"]
    assert "PM2.5 model for the Huairou station" in text(chrome, "#description")
    assert {td.text for td in chrome.find_elements(By.CSS_SELECTOR, "#specs td:first-child")} >= {"rkme", "semantic"}
    assert site.ids["Huairou"] in text(chrome, "#versions")
    assert not chrome.find_elements(By.ID, "delete")  # added outside the server: only an admin may delete it
    shot(chrome, site, "05-detail")
    package = httpx.get(chrome.find_element(By.ID, "download").get_attribute("href"),
                        headers={"Authorization": f"Bearer {site.server.alice_token}"})
    assert package.status_code == 200 and package.content[:2] == b"PK"


def test_package_text_is_shown_as_text(chrome, site):
    as_alice(chrome, site)
    visit(chrome, site, f"/learnwares/{site.ids['hostile']}")
    assert text(chrome, "#learnware-name") == HOSTILE_NAME
    assert text(chrome, "#description") == HOSTILE_DESCRIPTION
    visit(chrome, site, "/?q=ridge")
    assert HOSTILE_NAME in [a.text for a in chrome.find_elements(By.CSS_SELECTOR, "#ranking .result-name")]
    assert "<i>tag</i>" in text(chrome, "#ranking")
    assert chrome.execute_script("return window.pwned === undefined")
    shot(chrome, site, "06-hostile-text")


def _final_status(chrome) -> str | bool:
    """The upload's status once decided, else False (the page reloads itself meanwhile)."""
    try:
        status = text(chrome, "#upload-status")
    except (NoSuchElementException, StaleElementReferenceException):
        return False
    return status if status in ("verified", "rejected") else False


def test_a_file_that_is_no_learnware_is_refused_with_a_readable_page(chrome, site):
    as_alice(chrome, site)
    visit(chrome, site, "/submit")
    chrome.find_element(By.ID, "package").send_keys(str(site.spec))  # an .npz: a zip, but no manifest
    follow(chrome, "#upload")
    assert text(chrome, "h1") == "Error 422"
    assert text(chrome, ".error-type").endswith("Error") and "manifest" in text(chrome, ".error-message").lower()
    shot(chrome, site, "07-submit-refused")
    visit(chrome, site, "/mine")
    assert chrome.find_elements(By.ID, "no-learnwares")


def test_submit_a_zip_see_it_verified_then_delete_it(chrome, site):
    as_alice(chrome, site)
    visit(chrome, site, "/submit")
    shot(chrome, site, "07-submit")
    chrome.find_element(By.ID, "package").send_keys(str(site.zip))
    follow(chrome, "#upload")
    assert "/uploads/" in chrome.current_url
    shot(chrome, site, "08-upload-pending")
    status = WebDriverWait(chrome, VALIDATION_TIMEOUT_S, poll_frequency=0.5).until(_final_status)
    shot(chrome, site, "09-upload-decided")
    assert status == "verified", chrome.find_element(By.TAG_NAME, "main").text
    follow(chrome, "#learnware-link")
    learnware_id = text(chrome, "#learnware-id")
    assert text(chrome, "#learnware-name") == UPLOADED
    visit(chrome, site, "/mine")
    assert learnware_id in text(chrome, "#my-learnwares") and "verified" in text(chrome, "#my-uploads")
    shot(chrome, site, "10-mine")
    visit(chrome, site, f"/learnwares/{learnware_id}")
    shot(chrome, site, "11-detail-own")
    follow(chrome, "#delete", accept_alert=True)
    assert learnware_id in text(chrome, "#deleted")
    assert not chrome.find_elements(By.ID, "my-learnwares")
    with site.server.client(site.server.alice_token) as api:
        assert api.get(f"/learnwares/{learnware_id}").status_code == 404


def test_tokens_page_makes_a_token_shown_once(chrome, site):
    as_alice(chrome, site)
    visit(chrome, site, "/tokens")
    assert not chrome.find_elements(By.ID, "scope-admin")  # alice cannot grant what she lacks
    chrome.find_element(By.ID, "label").send_keys("laptop")
    follow(chrome, "#create-token")
    token = text(chrome, "#new-token")
    shot(chrome, site, "12-tokens")
    with site.server.client(token) as api:
        assert api.get("/me").json()["scopes"] == ["read"]
    visit(chrome, site, "/tokens")
    assert token not in chrome.page_source


def test_posts_without_the_csrf_token_are_refused(site):
    """Even with a valid session cookie (an admin's, who may delete anything), a form POST without
    the right CSRF field is 403 and changes nothing."""
    target = site.ids["Changping"]
    with httpx.Client(base_url=site.server.url, cookies={"modelreuse_token": site.server.admin_token}) as browser_like:
        for data in ({}, {"csrf_token": "0" * 64}):
            answer = browser_like.post(f"/learnwares/{target}/delete", data=data)
            assert answer.status_code == 403 and "CSRF" in answer.text
        assert browser_like.post("/tokens", data={"scopes": "read"}).status_code == 403
        assert browser_like.post("/login", data={"token": site.server.alice_token}).status_code == 403
    with site.server.client(site.server.admin_token) as api:
        assert api.get(f"/learnwares/{target}").status_code == 200


def test_a_form_over_the_upload_limit_is_refused_before_it_is_read(site):
    """Only the headers are sent: the page answers 413 from ``Content-Length`` without waiting for a body."""
    server = httpx.URL(site.server.url)
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.putrequest("POST", "/submit")
    connection.putheader("Cookie", f"modelreuse_token={site.server.alice_token}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(10**12))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and b"PayloadTooLargeError" in answer.read()
    connection.close()


def test_errors_are_readable_pages_with_their_status(chrome, site):
    as_alice(chrome, site)
    visit(chrome, site, "/learnwares/0123456789abcdef")
    assert text(chrome, "h1") == "Error 404"
    assert text(chrome, ".error-type") == "LearnwareNotFoundError"
    shot(chrome, site, "13-error-404")
    answer = httpx.get(f"{site.server.url}/learnwares/0123456789abcdef")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "Traceback" not in answer.text


def test_log_out(chrome, site):
    as_alice(chrome, site)
    follow(chrome, "#logout")
    assert chrome.find_elements(By.ID, "login-link") and chrome.get_cookie("modelreuse_token") is None
    visit(chrome, site, "/mine")
    assert text(chrome, "h1") == "Error 401"
    shot(chrome, site, "14-logged-out")
