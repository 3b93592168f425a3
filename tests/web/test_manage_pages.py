"""The management pages over HTTP: reject with a reason shown to the requester, auto gating
accepts at once, the scans page with an on-demand scan run by the task worker, the space page,
and the refusals (a developer gets 403 on the review queue, a non-admin on the admin pages)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Site
from tests.helpers.webclient import Client
from tests.helpers.webpages import push_model

MANUAL = "wp/manual"
AUTO = "wp/auto"
CARD = "---\nextra_gated_fields:\n  Company: text\n---\n# gated\n"


@pytest.fixture(scope="module")
def pages(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    work = Path(tmp_path_factory.mktemp("wp"))
    site.user("owner", admin=True)
    site.user("ann")
    site.user("dev")
    site.model(MANUAL, public=True, gated="manual")
    site.model(AUTO, public=True, gated="auto")
    site.cli("grant", MANUAL, "dev", "developer")
    for model in (MANUAL, AUTO):
        push_model(site, model, "owner", {"README.md": CARD, "run.py": "print('hi')\n"}, work)
    return site


def client(site: Site, user: str) -> Client:
    c = Client(site.port)
    c.sign_in(user, site.keys[user])
    return c


def ask(c: Client, model: str) -> str:
    token = c.get(f"/-/m/{model}/access").csrf()
    answer = c.post(f"/-/m/{model}/access", {"csrf": token, "field-0": "Acme"})
    assert answer.status == 303, answer.body
    return c.get(f"/-/m/{model}/access").body


def test_auto_gating_accepts_at_once(pages: Site) -> None:
    assert "Access granted" in ask(client(pages, "ann"), AUTO)


def test_missing_answer_is_named(pages: Site) -> None:
    c = client(pages, "dev")
    token = c.get(f"/-/m/{AUTO}/access").csrf()
    answer = c.post(f"/-/m/{AUTO}/access", {"csrf": token, "field-0": ""})
    assert answer.status == 400 and "Company" in answer.body and "missing" in answer.body


def test_reject_with_reason_is_shown_to_the_requester(pages: Site) -> None:
    ann = client(pages, "ann")
    assert "pending" in ask(ann, MANUAL)
    owner = client(pages, "owner")
    token = owner.get(f"/-/m/{MANUAL}/requests").csrf()
    answer = owner.post(f"/-/m/{MANUAL}/requests/decide", {
        "csrf": token, "user": "ann", "action": "rejected", "reason": "not a research lab"})
    assert answer.status == 303
    page = ann.get(f"/-/m/{MANUAL}/access").body
    assert "rejected" in page and "not a research lab" in page
    assert "not a research lab" in owner.get(f"/-/m/{MANUAL}/requests?status=rejected").body


def test_developer_may_not_review_and_non_admin_may_not_administer(pages: Site) -> None:
    dev = client(pages, "dev")
    assert dev.get(f"/-/m/{MANUAL}/requests").status == 403
    assert dev.get(f"/-/m/{MANUAL}/settings").status == 403
    assert dev.get("/-/admin/users").status == 403
    assert dev.get("/-/admin/audit").status == 403
    assert Client(pages.port).get(f"/-/m/{MANUAL}/settings").status == 303  # sign in first


def test_scan_on_demand_runs_through_the_worker(pages: Site) -> None:
    owner = client(pages, "owner")
    token = owner.get(f"/-/m/{AUTO}/scans").csrf()
    assert owner.post(f"/-/m/{AUTO}/scans/run", {"csrf": token, "rev": "main"}).status == 303
    deadline = time.time() + 60
    page = owner.get(f"/-/m/{AUTO}/scans?rev=main").body
    while "scan-running" in page and time.time() < deadline:
        time.sleep(0.5)
        page = owner.get(f"/-/m/{AUTO}/scans?rev=main").body
    assert "scan-running" not in page and 'id="scanners"' in page
    assert "Scan of main queued" in owner.get(f"/-/m/{AUTO}/scans?rev=main&queued=main").body
    dev = client(pages, "dev")
    assert dev.post(f"/-/m/{AUTO}/scans/run", {
        "csrf": dev.get(f"/-/m/{AUTO}/scans").csrf(), "rev": "main"}).status == 403


def test_space_page_lists_models_members_and_storage(pages: Site) -> None:
    page = client(pages, "owner").get("/-/s/wp").body
    assert MANUAL in page and AUTO in page and 'id="quota"' in page
    stranger = Client(pages.port).get("/-/s/wp").body
    assert MANUAL in stranger and 'id="space-members"' not in stranger
    assert Client(pages.port).get("/-/s/nope").status == 404
    assert "<h1 id=\"space-title\">Space wp</h1>" in page
    pages.cli("space", "set", "wp", "--fullname", "Web <Pages> Team")
    titled = client(pages, "owner").get("/-/s/wp").body
    assert "Web &lt;Pages&gt; Team <span" in titled and "<title>Web &lt;Pages&gt; Team" in titled
    pages.cli("space", "set", "wp", "--fullname", "")
