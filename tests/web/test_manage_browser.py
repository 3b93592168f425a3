"""The management pages in a real headless Chromium (Selenium): a requester fills a gate form
with all five field types, a maintainer accepts it in the review queue and the requester
clones with git; a role granted on the members page lets its holder push with git; a
maintainer cannot grant maintainer; an admin adds a user; a user creates a model with the
New model form. Screenshots of each page go to test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import Site
from tests.helpers.git import git
from tests.helpers.webclient import Client
from tests.helpers.webpages import SCREENSHOTS, chromium, fresh_profile, push_model

GATED = "wr/gated-llm"
TEAM = "wr/team-model"
GATE_CARD = """---
license: mit
extra_gated_heading: Request access to Gated LLM
extra_gated_description: The authors review every request within a day.
extra_gated_prompt: You agree to use the model for research only.
extra_gated_button_content: Send my request
extra_gated_fields:
  Company: text
  Country: country
  Start date: date_picker
  Use:
    type: select
    options: [Research, Education, {label: Something else, value: other}]
  I agree to the terms: checkbox
---
# Gated LLM
"""


@pytest.fixture(scope="module")
def web(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    work = Path(tmp_path_factory.mktemp("webreview"))
    site.user("owner", admin=True)
    site.user("rita", email="rita@example.com")
    site.user("mike")
    site.user("dora")
    site.model(GATED, public=True, gated="manual")
    site.model(TEAM)
    site.cli("grant", GATED, "mike", "maintainer")
    site.cli("grant", TEAM, "mike", "maintainer")
    push_model(site, GATED, "owner", {"README.md": GATE_CARD}, work)
    push_model(site, TEAM, "owner", {"README.md": "# Team\n"}, work)
    return site


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chromium(fresh_profile())
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def wait_for(driver: Any, by: str, what: str) -> Any:
    return WebDriverWait(driver, 10).until(
        expected_conditions.presence_of_element_located((by, what)))


def sign_in(driver: Any, site: Site, user: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{site.url}/-/signin")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "key").send_keys(site.keys[user])
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, 10).until(expected_conditions.url_contains("/-/models"))


def test_gate_form_review_and_clone(browser: Any, web: Site, tmp_path: Path) -> None:
    browser.set_window_size(1280, 1000)
    sign_in(browser, web, "rita")
    browser.get(f"{web.url}/-/m/{GATED}/access")
    assert wait_for(browser, By.ID, "gate-heading").text == "Request access to Gated LLM"
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "review every request within a day" in page and "research only" in page
    assert "rita@example.com" in browser.find_element(By.ID, "share-note").text
    countries = Select(browser.find_element(By.ID, "field-1"))
    assert "Germany" in [o.text for o in countries.options]
    browser.find_element(By.ID, "field-0").send_keys("Acme Research")
    countries.select_by_visible_text("Germany")
    browser.execute_script("document.getElementById('field-2').value = '2027-01-15'")
    Select(browser.find_element(By.ID, "field-3")).select_by_visible_text("Something else")
    browser.find_element(By.ID, "field-4").click()
    shot(browser, "gate-form")
    browser.find_element(By.ID, "gate-submit").click()
    status = wait_for(browser, By.ID, "gate-status")
    assert "pending" in status.text
    shot(browser, "gate-pending")
    denied = git("clone", "-q", web.clone_url(GATED, "rita"), str(tmp_path / "no"), check=False)
    assert denied.returncode != 0

    sign_in(browser, web, "mike")
    browser.get(f"{web.url}/-/m/{GATED}/requests")
    row = wait_for(browser, By.CSS_SELECTOR, '#requests tr[data-user="rita"]')
    for answer in ("Acme Research", "Germany (DE)", "2027-01-15", "other", "true",
                   "rita@example.com"):
        assert answer in row.text
    shot(browser, "review-queue")
    browser.set_window_size(390, 900)
    shot(browser, "review-queue-phone")
    browser.set_window_size(1280, 1000)
    row.find_element(By.CSS_SELECTOR, "button.accept").click()
    assert "Accepted rita" in wait_for(browser, By.ID, "review-message").text
    browser.find_element(By.ID, "tab-accepted").click()
    wait_for(browser, By.CSS_SELECTOR, '#requests tr[data-user="rita"]')
    report = Client(web.port)
    report.sign_in("mike", web.keys["mike"])
    csv_text = report.get(f"/-/m/{GATED}/requests/report.csv").body
    assert csv_text.splitlines()[0].startswith("user,fullname,email,status")
    assert "rita,,rita@example.com,accepted" in csv_text and "Acme Research" in csv_text
    header = csv_text.splitlines()[0].split(",")
    assert header[header.index("Country"):header.index("Country") + 2] == [
        "Country", "Country (name)"]
    assert ",DE,Germany," in csv_text

    clone = git("clone", "-q", web.clone_url(GATED, "rita"), str(tmp_path / "yes"))
    assert clone.returncode == 0 and (tmp_path / "yes" / "README.md").exists()
    sign_in(browser, web, "rita")
    browser.get(f"{web.url}/-/m/{GATED}/access")
    assert "Access granted" in wait_for(browser, By.ID, "gate-status").text


def test_grant_on_members_page_then_push(browser: Any, web: Site, tmp_path: Path) -> None:
    browser.set_window_size(1280, 1000)
    sign_in(browser, web, "mike")
    browser.get(f"{web.url}/-/m/{TEAM}/settings")
    choices = [o.text for o in Select(wait_for(browser, By.ID, "role-choice")).options]
    assert "maintainer" not in choices and "developer" in choices
    browser.find_element(By.ID, "role-user").send_keys("dora")
    Select(browser.find_element(By.ID, "role-choice")).select_by_visible_text("developer")
    browser.find_element(By.ID, "grant-submit").click()
    assert "Granted dora the role developer" in wait_for(
        browser, By.ID, "settings-message").text
    assert "developer" in browser.find_element(
        By.CSS_SELECTOR, '#members tr[data-user="dora"]').text
    shot(browser, "members")
    browser.get(f"{web.url}/-/m/{TEAM}/scans")
    wait_for(browser, By.ID, "scan-tasks")
    shot(browser, "scans")
    dest = tmp_path / "team"
    git("clone", "-q", web.clone_url(TEAM, "dora"), str(dest))
    git("config", "user.email", "dora@example.com", cwd=dest)
    git("config", "user.name", "dora", cwd=dest)
    (dest / "notes.md").write_text("from dora\n")
    git("add", "notes.md", cwd=dest)
    git("commit", "-q", "-m", "notes", cwd=dest)
    assert git("push", "-q", "origin", "HEAD", cwd=dest).returncode == 0


def test_maintainer_cannot_grant_maintainer(web: Site) -> None:
    client = Client(web.port)
    client.sign_in("mike", web.keys["mike"])
    token = client.get(f"/-/m/{TEAM}/settings").csrf()
    answer = client.post(f"/-/m/{TEAM}/settings/grant",
                         {"csrf": token, "user": "rita", "role": "maintainer"})
    assert answer.status == 403
    assert "only the model&#39;s owner may grant maintainer" in answer.body
    members = client.get(f"/-/m/{TEAM}/settings").body
    assert 'data-user="rita"' not in members


def test_stranger_gets_404_for_a_private_models_settings(web: Site) -> None:
    client = Client(web.port)
    client.sign_in("rita", web.keys["rita"])
    assert client.get(f"/-/m/{TEAM}/settings").status == 404
    assert client.get(f"/-/m/{TEAM}/scans").status == 404


def test_admin_adds_a_user(browser: Any, web: Site) -> None:
    browser.set_window_size(1280, 1000)
    sign_in(browser, web, "owner")
    browser.find_element(By.ID, "nav-admin").click()
    wait_for(browser, By.ID, "add-user")
    browser.find_element(By.ID, "new-user").send_keys("newbie")
    browser.find_element(By.ID, "new-fullname").send_keys("New Bie")
    browser.find_element(By.ID, "new-creator").click()
    browser.find_element(By.ID, "add-submit").click()
    key = wait_for(browser, By.ID, "new-key").get_attribute("value")
    assert key and key.startswith("mg_")
    row = browser.find_element(By.CSS_SELECTOR, '#users tr[data-user="newbie"]')
    assert "New Bie" in row.text
    shot(browser, "admin-users")
    assert Client(web.port).sign_in("newbie", key).status == 303
    browser.get(f"{web.url}/-/admin/audit?kind=users")
    assert "user.add" in wait_for(browser, By.ID, "audit").text
    shot(browser, "admin-audit")
    sign_in(browser, web, "rita")
    browser.get(f"{web.url}/-/admin/users")
    assert "site admins" in browser.find_element(By.TAG_NAME, "main").text


def test_new_model_form_lands_on_the_model_page(browser: Any, web: Site) -> None:
    browser.set_window_size(1280, 1000)
    sign_in(browser, web, "dora")
    browser.find_element(By.ID, "nav-new").click()
    wait_for(browser, By.ID, "new-model")
    Select(browser.find_element(By.ID, "new-space")).select_by_value("dora")
    browser.find_element(By.ID, "new-name").send_keys("browser-made")
    browser.find_element(By.ID, "new-display-name").send_keys("Made in the browser")
    Select(browser.find_element(By.ID, "new-gated")).select_by_value("auto")
    shot(browser, "new-model")
    browser.find_element(By.ID, "new-submit").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/-/m/dora/browser-made"))
    assert "Made in the browser" in browser.find_element(By.TAG_NAME, "main").text
    assert web.store().get_model("dora/browser-made")["gated"] == "auto"
