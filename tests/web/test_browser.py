"""The pages in a real headless Chromium (Debian's chromium and chromedriver, Selenium): sign
in, browse and filter the list, open a model; a hostile card raises no alert; a form whose
CSRF token is removed is refused; screenshots of the main pages at desktop and phone width
go to test-artifacts/screenshots/ (gitignored) for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import Site
from tests.helpers.webpages import HOSTILE_CARD, SCREENSHOTS, chromium, fresh_profile, push_model

MODEL = "webui/demo-bert"
PRIVATE = "webui/private-model"


@pytest.fixture(scope="module")
def web(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    work = Path(tmp_path_factory.mktemp("webui"))
    site.user("owner", admin=True)
    site.user("alice")
    site.model(MODEL, public=True)
    site.model(PRIVATE)
    site.cli("grant", PRIVATE, "alice", "developer")
    push_model(site, MODEL, "owner", {
        "README.md": HOSTILE_CARD, "config.json": '{"hidden_size": 8}\n',
        "sub/notes.txt": "hello\n", "model.safetensors": b"\x01" * 4096,
    }, work, lfs=("model.safetensors",))
    push_model(site, PRIVATE, "owner", {"README.md": "# Private\n\nOnly for members.\n"}, work)
    return site


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(fresh_profile())
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def no_alert(driver: Any) -> bool:
    try:
        WebDriverWait(driver, 1).until(expected_conditions.alert_is_present())
    except TimeoutException:
        return True
    driver.switch_to.alert.accept()
    return False


def sign_in(driver: Any, site: Site, user: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{site.url}/-/signin")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "key").send_keys(site.keys[user])
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, 10).until(expected_conditions.url_contains("/-/models"))


def test_the_alert_check_sees_an_alert(browser: Any) -> None:
    """The control: without the page's sanitiser and policy, the same check fails."""
    browser.get("data:text/html,<script>alert(1)</script>")
    assert not no_alert(browser)


def test_sign_in_browse_and_open_a_model(browser: Any, web: Site) -> None:
    browser.set_window_size(1280, 900)
    browser.delete_all_cookies()
    browser.get(f"{web.url}/-/signin")
    shot(browser, "signin")
    browser.find_element(By.ID, "user").send_keys("alice")
    browser.find_element(By.ID, "key").send_keys("mg_" + "z" * 40)  # pragma: allowlist secret
    browser.find_element(By.ID, "signin").click()
    flash = WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
    assert "Wrong user name or key" in flash.text
    sign_in(browser, web, "alice")
    assert "alice" in browser.find_element(By.CSS_SELECTOR, ".who").text
    listed = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#models .model-id")]
    assert MODEL in listed and PRIVATE in listed  # alice is a developer of the private one
    shot(browser, "models")
    box = browser.find_element(By.NAME, "tag")
    box.send_keys("web-test")
    box.submit()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("tag=web-test"))
    listed = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#models .model-id")]
    assert listed == [MODEL]
    browser.find_element(By.LINK_TEXT, MODEL).click()
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "card")))
    assert browser.find_element(By.ID, "model-title").text == MODEL
    files = browser.find_element(By.ID, "files").text
    assert "model.safetensors" in files and "LFS" in files and "4.1 KB" in files
    shot(browser, "model")
    browser.find_element(By.LINK_TEXT, "sub/").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("path=sub"))
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element((By.ID, "files"), "notes.txt"))
    browser.find_element(By.ID, "history").click()
    commits = WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "commits")))
    assert "add files" in commits.text


def test_hostile_card_runs_nothing(browser: Any, web: Site) -> None:
    browser.set_window_size(1280, 900)
    browser.get(f"{web.url}/-/m/{MODEL}")
    assert no_alert(browser)
    card = browser.find_element(By.ID, "card")
    assert card.find_elements(By.TAG_NAME, "script") == []
    for img in card.find_elements(By.TAG_NAME, "img"):
        assert img.get_attribute("onerror") is None
    for link in card.find_elements(By.TAG_NAME, "a"):
        assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
    card.find_element(By.LINK_TEXT, "click me").click()
    assert no_alert(browser)
    assert "accuracy" in card.text and "styled paragraph" in card.text


def test_form_without_csrf_token_is_refused(browser: Any, web: Site) -> None:
    sign_in(browser, web, "alice")
    browser.get(f"{web.url}/-/keys")
    browser.execute_script(
        "document.querySelectorAll('#create-key input[name=csrf]').forEach(e => e.remove())")
    browser.find_element(By.CSS_SELECTOR, "#create-key button").click()
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".error")))
    assert "This form has expired" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_elements(By.ID, "new-key") == []
    browser.get(f"{web.url}/-/keys")
    browser.find_element(By.CSS_SELECTOR, "#create-key button").click()
    new_key = WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "new-key")))
    assert new_key.get_attribute("value").startswith("mg_")
    shot(browser, "keys")


def test_private_model_is_not_found_when_signed_out(browser: Any, web: Site) -> None:
    browser.delete_all_cookies()
    browser.get(f"{web.url}/-/m/{PRIVATE}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "Only for members" not in browser.page_source
    shot(browser, "not-found")


def test_pages_at_phone_width(browser: Any, web: Site) -> None:
    sign_in(browser, web, "alice")
    browser.set_window_size(390, 844)
    try:
        for name, path in (("models", "/-/models"), ("model", f"/-/m/{MODEL}"),
                           ("keys", "/-/keys"), ("signin", "/-/signin")):
            if name == "signin":
                browser.delete_all_cookies()
            browser.get(web.url + path)
            width = browser.execute_script("return document.documentElement.scrollWidth")
            inner = browser.execute_script("return window.innerWidth")
            assert width <= inner, f"{path} scrolls sideways at phone width ({width}>{inner})"
            shot(browser, f"phone-{name}")
    finally:
        browser.set_window_size(1280, 900)
