"""The model list and a model's page at the HTTP level: filters and paging, the private
model that looks exactly like a missing one, the card sanitised, files with LFS marks and
download links, refs and commits, the how-to-use snippets, the keys page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Site
from tests.helpers.webclient import Client
from tests.helpers.webpages import HOSTILE_CARD, push_model

PUBLIC = "webm/demo-bert"
PRIVATE = "webm/secret-model"
MISSING = "webm/no-such-model"


@pytest.fixture(scope="module")
def models(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    work = Path(tmp_path_factory.mktemp("webm"))
    site.user("owner", admin=True)
    site.user("mona")
    site.user("stranger")
    site.model(PUBLIC, public=True)
    site.model(PRIVATE)
    site.cli("grant", PRIVATE, "mona", "user")
    push_model(site, PUBLIC, "owner", {
        "README.md": HOSTILE_CARD, "config.json": '{"hidden_size": 8}\n',
        "sub/notes.txt": "hello\n", "weights.bin": b"\x00" * 2048,
    }, work, lfs=("weights.bin",))
    push_model(site, PRIVATE, "owner", {"README.md": "# secret\n"}, work)
    for i in range(35):
        site.cli("model", "create", f"webm/bulk-{i:02d}", "--owner", "owner", "--public")
    return site


def signed_in(site: Site, user: str) -> Client:
    client = Client(site.port)
    client.sign_in(user, site.keys[user])
    return client


def test_private_model_page_is_the_missing_model_page(models: Site) -> None:
    for client in (Client(models.port), signed_in(models, "stranger")):
        private = client.get(f"/-/m/{PRIVATE}")
        missing = client.get(f"/-/m/{MISSING}")
        assert private.status == missing.status == 404
        assert private.body.replace(PRIVATE, "X") == missing.body.replace(MISSING, "X")
        assert "# secret" not in private.body
    assert signed_in(models, "mona").get(f"/-/m/{PRIVATE}").status == 200


def test_private_models_are_listed_only_for_who_may_see_them(models: Site) -> None:
    assert PRIVATE not in Client(models.port).get("/-/models?q=secret").body
    assert PRIVATE not in signed_in(models, "stranger").get("/-/models?q=secret").body
    assert PRIVATE in signed_in(models, "mona").get("/-/models?q=secret").body


def test_list_filters_and_pages(models: Site) -> None:
    client = Client(models.port)
    page = client.get("/-/models?framework=transformers&task=text-classification"
                      "&tag=web-test&license=mit")
    assert page.status == 200
    assert PUBLIC in page.body and "bulk-" not in page.body
    assert PUBLIC not in client.get("/-/models?license=apache-2.0").body
    first = client.get("/-/models?q=bulk")
    ids = re.findall(r'href="/-/m/(webm/bulk-\d+)"', first.body)
    assert len(ids) == 30
    nxt = re.search(r'href="([^"]+)" id="next-page"', first.body)
    assert nxt is not None
    second = client.get(nxt.group(1).replace("&amp;", "&"))
    rest = re.findall(r'href="/-/m/(webm/bulk-\d+)"', second.body)
    assert len(rest) == 5 and not set(rest) & set(ids)


def test_model_page_shows_card_files_and_how_to_use(models: Site) -> None:
    page = Client(models.port).get(f"/-/m/{PUBLIC}")
    assert page.status == 200
    body = page.body
    assert "<script>alert" not in body and "onerror" not in body
    assert "javascript:" not in body and "onclick" not in body and 'style="' not in body
    assert "<strong>model card</strong>" in body and "<td>0.91</td>" in body
    assert "styled paragraph" in body
    # metadata table from the front matter
    assert "110,000,000" in body and "mit" in body and "imdb" in body
    # files: folder, LFS mark, sizes, downloads through the page route (the session decides)
    assert f'href="/-/m/{PUBLIC}?rev=main&amp;path=sub"' in body
    assert f'href="/-/m/{PUBLIC}/download?rev=main&amp;path=weights.bin"' in body
    assert ">LFS<" in body and "2.0 KB" in body
    # how to use: the real addresses
    assert f"git clone http://127.0.0.1:{models.port}/{PUBLIC}.git" in body
    assert f'snapshot_download(&#34;{PUBLIC}&#34;)' in body
    assert f"env.remoteHost = &#34;http://127.0.0.1:{models.port}/&#34;" in body
    assert "branch, tag or commit" in body.lower()


def test_download_link_serves_the_file(models: Site) -> None:
    answer = Client(models.port).get(f"/-/m/{PUBLIC}/download?rev=main&path=weights.bin")
    assert answer.status == 200 and answer.body == "\x00" * 2048
    hub = models.http("GET", f"/{PUBLIC}/resolve/main/weights.bin")  # the hub's route too
    assert hub.status == 200 and hub.body == b"\x00" * 2048


def test_folder_commits_and_bad_revisions(models: Site) -> None:
    client = Client(models.port)
    folder = client.get(f"/-/m/{PUBLIC}?rev=main&path=sub")
    assert folder.status == 200 and "notes.txt" in folder.body
    assert client.get(f"/-/m/{PUBLIC}?path=../etc").status == 404
    assert client.get(f"/-/m/{PUBLIC}?path=nope").status == 404
    bad = client.get(f"/-/m/{PUBLIC}?rev=-x")
    assert bad.status == 404 and "not a branch, a tag or a commit" in bad.body
    history = client.get(f"/-/m/{PUBLIC}/commits?rev=main")
    assert history.status == 200 and "add files" in history.body
    commit = re.search(r'\?rev=([0-9a-f]{40})"', history.body)
    assert commit is not None
    assert client.get(f"/-/m/{PUBLIC}?rev={commit.group(1)}").status == 200


def test_keys_page_creates_shows_once_and_revokes(models: Site) -> None:
    models.user("kim")
    client = signed_in(models, "kim")
    page = client.get("/-/keys")
    assert page.status == 200 and models.keys["kim"][:11] in page.body
    assert models.keys["kim"] not in page.body
    made = client.post("/-/keys/create", {"csrf": page.csrf(), "scope": "read", "days": "30"})
    assert made.status == 200
    new_key = re.search(r'id="new-key" class="mono" readonly value="(mg_[A-Za-z0-9]{40})"',
                        made.body)
    assert new_key is not None
    key = new_key.group(1)
    assert models.http("GET", "/api/whoami-v2", key=key).status == 200
    again = client.get("/-/keys")
    assert key not in again.body and key[:11] in again.body
    revoked = client.post("/-/keys/revoke", {"csrf": again.csrf(), "key_id": key[:11]})
    assert revoked.status == 303
    assert models.http("GET", "/api/whoami-v2", key=key).status == 401
    other = models.keys["mona"][:11]
    refused = client.post("/-/keys/revoke", {"csrf": again.csrf(), "key_id": other})
    assert refused.status == 404
    assert models.http("GET", "/api/whoami-v2", key=models.keys["mona"]).status == 200


def test_regenerate_keeps_the_session_and_stops_the_old_keys(models: Site) -> None:
    models.user("lee")
    old = models.keys["lee"]
    client = signed_in(models, "lee")
    page = client.get("/-/keys")
    made = client.post("/-/keys/regenerate", {"csrf": page.csrf(), "scope": "write"})
    assert made.status == 200 and "Revoked 1 key" in made.body
    assert models.http("GET", "/api/whoami-v2", key=old).status == 401
    assert client.get("/-/keys").status == 200  # still signed in, on the new key


def test_keys_page_needs_sign_in(models: Site) -> None:
    answer = Client(models.port).get("/-/keys")
    assert answer.status == 303
    assert answer.headers["Location"] == "/-/signin?next=%2F-%2Fkeys"


def test_text_search_finds_tags_and_display_names(models: Site) -> None:
    """The search text follows the card pushed with git (its tags) and the display name set
    afterwards; the match is case-insensitive and ``%``/``_`` are plain characters."""
    client = Client(models.port)
    assert PUBLIC in client.get("/-/models?q=WEB-TEST").body  # a tag of the pushed card
    assert "webm/bulk-07" not in client.get("/-/models?q=Zebra+Crossing").body
    models.cli("model", "set", "webm/bulk-07", "--name", "Zebra Crossing 100%")
    found = client.get("/-/models?q=zebra+crossing").body
    assert "webm/bulk-07" in found and "webm/bulk-08" not in found
    assert "webm/bulk-07" in client.get("/-/models?q=100%25").body
    assert "webm/bulk-07" not in client.get("/-/models?q=bulk_07").body
