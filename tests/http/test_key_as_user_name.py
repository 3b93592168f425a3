"""A key sent as the Basic user name (``https://KEY@host``, ``curl -u KEY:``) is never stored
or logged, and with an empty or ``x-oauth-basic`` password it signs in as the key's owner, as
on the public hosts."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LFS_ENV, Site, git, make_site

MODEL = "habit/m"


@pytest.fixture(scope="module")
def habit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("habit"))
    site.start()
    site.model(MODEL)
    site.user("reader")
    site.cli("grant", MODEL, "reader", "user")
    yield site
    site.stop()


def _curl(site: Site, path: str, userpass: str, *args: str) -> tuple[int, str]:
    out = subprocess.run(["curl", "-s", "-o", "/dev/stderr", "-w", "%{http_code}", "-u",
                          userpass, *args, site.url + path],
                         capture_output=True, text=True, timeout=60, check=False)
    return int(out.stdout or "0"), out.stderr


def _stored_text(site: Site) -> str:
    """Every byte the site wrote: the database with its WAL, and every log."""
    files = [*site.data.glob("modelgit.db*"), *(site.data / "log").glob("*"),
             site.data / "serve-test.log"]
    return "".join(f.read_bytes().decode("latin-1") for f in files if f.is_file())


REFS = f"/{MODEL}.git/info/refs?service=git-upload-pack"


@pytest.mark.parametrize("password", ["", "x-oauth-basic"])
def test_curl_key_as_user_name_signs_in(habit: Site, password: str) -> None:
    key = habit.keys["reader"]
    status, _ = _curl(habit, REFS, f"{key}:{password}")
    assert status == 200
    # The hub API knows who it is, and the LFS batch answers as for the owner of the key.
    status, body = _curl(habit, "/api/whoami-v2", f"{key}:{password}")
    assert status == 200 and json.loads(body)["name"] == "reader"
    batch = json.dumps({"operation": "download", "objects": [{"oid": "b" * 64, "size": 1}]})
    status, _ = _curl(habit, f"/{MODEL}.git/info/lfs/objects/batch", f"{key}:{password}",
                      "-H", "Content-Type: application/vnd.git-lfs+json",
                      "-H", "Accept: application/vnd.git-lfs+json", "--data", batch)
    assert status == 200
    # Any other password is a wrong one: the key alone does not sign in.
    assert _curl(habit, REFS, f"{key}:nope")[0] == 401


def test_git_with_the_key_in_the_url(habit: Site, tmp_path: Path) -> None:
    """``git clone http://KEY@host/...`` (with prompts off: git sends the empty password)
    and ``KEY:x-oauth-basic@``; a push goes in under the owner's name."""
    owner = habit.keys["owner"]
    host = f"127.0.0.1:{habit.port}"
    git("clone", "-q", f"http://{owner}@{host}/{MODEL}.git", str(tmp_path / "a"), env=LFS_ENV)
    oauth = f"http://{owner}:x-oauth-basic@{host}"  # pragma: allowlist secret
    git("clone", "-q", f"{oauth}/{MODEL}.git", str(tmp_path / "b"))
    (tmp_path / "b" / "f.txt").write_text("hello\n")
    git("add", "f.txt", cwd=tmp_path / "b")
    git("commit", "-q", "-m", "f", cwd=tmp_path / "b")
    git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "b")
    pushes = [r for r in _audit(habit) if r["action"] == "push"]
    assert pushes and pushes[0]["actor"] == "owner"
    assert (owner in _stored_text(habit)) is False, "the key is stored or logged"


def test_no_key_is_stored_or_logged(habit: Site, tmp_path: Path) -> None:
    """Wrong keys, revoked keys and right keys with a wrong password, all sent as the user
    name: 401, and neither the database nor a log holds them."""
    revoked = habit.user("gone")
    key_id = revoked[:11]
    habit.cli("key", "revoke", key_id, "--yes")
    wrong = "mg_" + "Q" * 40
    right = habit.keys["reader"]
    sent = [(wrong, ""), (wrong, "x-oauth-basic"), (revoked, ""), (right, "not-the-key"),
            (right, wrong), ("mg_short", ""), ("ghp_" + "A1b2" * 9, "")]
    for user, password in sent:
        assert _curl(habit, REFS, f"{user}:{password}")[0] == 401, user
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        answer = habit.http("GET", REFS, headers={"Authorization": f"Basic {token}"})
        assert answer.status == 401
    stored = _stored_text(habit)
    leaked = [user[:6] + "..." for user, _ in sent if user in stored]
    leaked += [p[:6] + "..." for _, p in sent if p.startswith("mg_") and p in stored]
    assert leaked == [], f"stored or logged: {leaked}"
    rows = [r for r in _audit(habit) if r["action"] == "auth.denied"]
    assert len(rows) >= 2 * len(sent)
    odd = [r for r in rows if r["actor"] is not None or r["detail"].get("name") != "(not a user)"]
    assert odd == []


def _audit(site: Site) -> list[dict[str, object]]:
    from modelgit.store import Store

    return Store(site.data / "modelgit.db").audit_rows(limit=1000)
