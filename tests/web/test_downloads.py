"""The model page's download links with the browser's session (no HTTP Basic prompt): a
private model's files for those with a role and the missing-model 404 for everyone else; a
gated model's files once the request is accepted; git blobs and LFS objects, a byte range,
and headers that make the browser save the file rather than render it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import Site
from tests.helpers.webclient import Client
from tests.helpers.webpages import push_model

PRIVATE = "dl/private-model"
GATED = "dl/gated-model"
WEIGHTS = bytes(range(256)) * 8


@pytest.fixture(scope="module")
def dl(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    work = Path(tmp_path_factory.mktemp("dl"))
    site.user("owner", admin=True)
    site.user("mona")
    site.user("stranger")
    site.user("asker")
    site.model(PRIVATE)
    site.model(GATED, public=True, gated="manual")
    site.cli("grant", PRIVATE, "mona", "user")
    push_model(site, PRIVATE, "owner", {"README.md": "# secret\n", "sub/notes.txt": "hello\n",
                                        "weights.bin": WEIGHTS}, work, lfs=("weights.bin",))
    push_model(site, GATED, "owner", {"README.md": "# gated\n", "run.py": "print('hi')\n"},
               work)
    return site


def signed_in(site: Site, user: str) -> Client:
    client = Client(site.port)
    client.sign_in(user, site.keys[user])
    return client


def link(page: str, path: str) -> str:
    """The download link the model page shows for ``path``."""
    wanted = re.escape(quote(path, safe=""))
    found = re.search(r'href="(/-/m/[^"]+/download\?[^"]*path=' + wanted + '[^"]*)"', page)
    assert found, f"no download link for {path}"
    return found.group(1).replace("&amp;", "&")


def test_private_files_download_with_the_session(dl: Site) -> None:
    mona = signed_in(dl, "mona")
    page = mona.get(f"/-/m/{PRIVATE}").body
    notes = mona.get(link(mona.get(f"/-/m/{PRIVATE}?rev=main&path=sub").body, "sub/notes.txt"))
    assert notes.status == 200 and notes.body == "hello\n"
    assert notes.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename="notes.txt"' in notes.headers["Content-Disposition"]
    assert notes.headers["Content-Type"] == "application/octet-stream"
    assert notes.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in notes.headers["Content-Security-Policy"]
    assert "WWW-Authenticate" not in notes.headers
    weights = mona.get(link(page, "weights.bin"))  # an LFS object, not its pointer
    assert weights.status == 200 and weights.headers["Content-Length"] == str(len(WEIGHTS))
    assert weights.body == WEIGHTS.decode("utf-8", "replace")
    part = mona.request("GET", link(page, "weights.bin"), headers={"Range": "bytes=256-259"})
    assert part.status == 206 and part.headers["Content-Range"] == f"bytes 256-259/{len(WEIGHTS)}"
    assert part.body == "\x00\x01\x02\x03"
    too_far = mona.request("GET", link(page, "weights.bin"),
                           headers={"Range": f"bytes={len(WEIGHTS)}-"})
    assert too_far.status == 416


def test_private_files_are_the_missing_model_for_others(dl: Site) -> None:
    url = f"/-/m/{PRIVATE}/download?rev=main&path=sub/notes.txt"
    missing = "/-/m/dl/no-such-model/download?rev=main&path=sub/notes.txt"
    for client in (Client(dl.port), signed_in(dl, "stranger")):
        answer = client.get(url)
        assert answer.status == 404 and "hello" not in answer.body
        assert answer.body.replace(PRIVATE, "X") == \
            client.get(missing).body.replace("dl/no-such-model", "X")
        assert "WWW-Authenticate" not in answer.headers


def test_gated_files_need_an_accepted_request(dl: Site) -> None:
    url = f"/-/m/{GATED}/download?rev=main&path=run.py"
    signed_out = Client(dl.port).get(url)
    assert signed_out.status == 303 and signed_out.headers["Location"].startswith("/-/signin")
    asker = signed_in(dl, "asker")
    refused = asker.get(url)
    assert refused.status == 403 and "print" not in refused.body
    assert f"/-/m/{GATED}/access" in refused.body
    token = asker.get(f"/-/m/{GATED}/access").csrf()
    assert asker.post(f"/-/m/{GATED}/access", {"csrf": token}).status == 303
    assert asker.get(url).status == 403  # pending
    owner = signed_in(dl, "owner")
    token = owner.get(f"/-/m/{GATED}/requests").csrf()
    assert owner.post(f"/-/m/{GATED}/requests/decide", {
        "csrf": token, "user": "asker", "action": "accepted"}).status == 303
    granted = asker.get(url)
    assert granted.status == 200 and granted.body == "print('hi')\n"


def test_missing_file_and_revision(dl: Site) -> None:
    mona = signed_in(dl, "mona")
    assert mona.get(f"/-/m/{PRIVATE}/download?rev=main&path=nope.txt").status == 404
    assert mona.get(f"/-/m/{PRIVATE}/download?rev=main&path=sub").status == 404
    assert mona.get(f"/-/m/{PRIVATE}/download?rev=main&path=../x").status == 404
    assert mona.get(f"/-/m/{PRIVATE}/download?rev=no-branch&path=README.md").status == 404
    posted = mona.post(f"/-/m/{PRIVATE}/download?rev=main&path=README.md", {})
    assert posted.status == 405  # a download changes nothing: GET only


def test_chromium_downloads_a_private_file_with_its_session(dl: Site, tmp_path: Path) -> None:
    """A real browser, signed in, clicks a private model's download link: the file is saved
    (an attachment, no password prompt), with the LFS object's bytes."""
    import time

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.helpers.webpages import chromium, fresh_profile

    saved = tmp_path / "downloads"
    saved.mkdir()
    driver = chromium(fresh_profile())
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(saved)})
        driver.get(f"{dl.url}/-/signin")
        driver.find_element(By.ID, "user").send_keys("mona")
        driver.find_element(By.ID, "key").send_keys(dl.keys["mona"])
        driver.find_element(By.ID, "signin").click()
        WebDriverWait(driver, 10).until(expected_conditions.url_contains("/-/models"))
        driver.get(f"{dl.url}/-/m/{PRIVATE}")
        driver.find_element(By.CSS_SELECTOR, 'a[href*="path=weights.bin"]').click()
        target = saved / "weights.bin"
        deadline = time.monotonic() + 15
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.exists(), sorted(p.name for p in saved.iterdir())
        assert target.read_bytes() == WEIGHTS
        assert driver.current_url.endswith(f"/-/m/{PRIVATE}")  # saved, not opened as a page
    finally:
        driver.quit()
