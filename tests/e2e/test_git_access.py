"""Roles, keys and answers over real git against a real ``modelgit serve`` (docs/access.md)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import Site, commit_file, git

ROLE_OUTCOMES = [
    # role        clone  push
    ("visitor",   False, False),
    ("user",      True,  False),
    ("developer", True,  True),
    ("maintainer", True, True),
]


@pytest.fixture(scope="module")
def seeded(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private model with one commit on main."""
    model = site.model("roles/private-model")
    site.user("owner", admin=False)
    repo = tmp_path_factory.mktemp("seed") / "r"
    git("clone", "-q", site.clone_url(model, "owner"), str(repo))
    commit_file(repo, "README.md", "# hello\n", "first")
    git("push", "-q", "origin", "main", cwd=repo)
    return model


@pytest.mark.parametrize(("role", "can_clone", "can_push"), ROLE_OUTCOMES)
def test_every_role_clone_and_push(site: Site, seeded: str, work: Path, role: str,
                                   can_clone: bool, can_push: bool) -> None:
    name = f"person-{role}"
    site.user(name)
    site.cli("grant", seeded, name, role)
    url = site.clone_url(seeded, name)
    cloned = git("clone", "-q", url, str(work / "c"), check=False)
    assert (cloned.returncode == 0) == can_clone, cloned.stderr
    if not can_clone:
        # A visitor knows the model exists: 403 with a reason, not 404.
        assert "visitor" in cloned.stderr and "403" in cloned.stderr
        return
    before = git("ls-remote", url, "refs/heads/main").stdout.split()[0]
    commit_file(work / "c", f"by-{role}.txt", role)
    pushed = git("push", "origin", "main", cwd=work / "c", check=False)
    assert (pushed.returncode == 0) == can_push, pushed.stderr
    after = git("ls-remote", url, "refs/heads/main").stdout.split()[0]
    if can_push:
        assert after != before
    else:
        assert "remote: " in pushed.stderr and "developer or above" in pushed.stderr
        assert after == before, "a refused push moved a ref"


def test_owner_clones_and_pushes(site: Site, seeded: str, work: Path) -> None:
    git("clone", "-q", site.clone_url(seeded, "owner"), str(work / "o"))
    commit_file(work / "o", "owner.txt", "x")
    git("push", "-q", "origin", "main", cwd=work / "o")


def test_anonymous_gets_basic_challenge(site: Site, seeded: str) -> None:
    answer = site.http("GET", f"/{seeded}.git/info/refs?service=git-upload-pack")
    assert answer.status == 401
    assert answer.headers.get("WWW-Authenticate") == 'Basic realm="modelgit"'


def test_wrong_key_is_401(site: Site, seeded: str) -> None:
    bad = "mg_" + "A" * 40
    answer = site.http("GET", f"/{seeded}.git/info/refs?service=git-upload-pack",
                       key=bad, user="owner")
    assert answer.status == 401
    assert answer.headers.get("WWW-Authenticate") == 'Basic realm="modelgit"'
    # The right key under someone else's user name is refused too.
    answer = site.http("GET", f"/{seeded}.git/info/refs?service=git-upload-pack",
                       key=site.keys["owner"], user="somebody-else")
    assert answer.status == 401


def test_bearer_key_works(site: Site, seeded: str) -> None:
    answer = site.http("GET", f"/{seeded}.git/info/refs?service=git-upload-pack",
                       key=site.keys["owner"])
    assert answer.status == 200
    assert b"git-upload-pack" in answer.body


def test_stranger_gets_404_on_private_model(site: Site, seeded: str, work: Path) -> None:
    site.user("stranger")
    answer = site.http("GET", f"/{seeded}.git/info/refs?service=git-upload-pack",
                       key=site.keys["stranger"], user="stranger")
    assert answer.status == 404
    unknown = site.http("GET", "/roles/no-such-model.git/info/refs?service=git-upload-pack",
                        key=site.keys["stranger"], user="stranger")
    assert unknown.status == 404
    assert unknown.body.split(b"not found")[1] == answer.body.split(b"not found")[1]
    cloned = git("clone", site.clone_url(seeded, "stranger"), str(work / "s"), check=False)
    assert cloned.returncode != 0 and "not found" in cloned.stderr


def test_read_scoped_key_cannot_push(site: Site, seeded: str, work: Path) -> None:
    key = site.user("reader-dev", scope="read")
    site.cli("grant", seeded, "reader-dev", "developer")
    url = site.clone_url(seeded, "reader-dev", key)
    git("clone", "-q", url, str(work / "r"))
    before = git("ls-remote", url, "refs/heads/main").stdout
    commit_file(work / "r", "nope.txt", "x")
    pushed = git("push", "origin", "main", cwd=work / "r", check=False)
    assert pushed.returncode != 0
    assert "read-only" in pushed.stderr
    assert git("ls-remote", url, "refs/heads/main").stdout == before


def test_public_model_anonymous_clone_but_no_push(site: Site, work: Path) -> None:
    model = site.model("roles/open-model", public=True)
    git("clone", "-q", site.clone_url(model, "owner"), str(work / "o"))
    commit_file(work / "o", "a.txt", "a")
    git("push", "-q", "origin", "main", cwd=work / "o")
    git("clone", "-q", site.clone_url(model), str(work / "anon"))
    assert (work / "anon" / "a.txt").read_text() == "a"
    answer = site.http("GET", f"/{model}.git/info/refs?service=git-receive-pack")
    assert answer.status == 401


def test_dumb_protocol_is_refused(site: Site, seeded: str) -> None:
    answer = site.http("GET", f"/{seeded}.git/HEAD", key=site.keys["owner"])
    assert answer.status == 403
    answer = site.http("GET", f"/{seeded}.git/info/refs", key=site.keys["owner"])
    assert answer.status == 403


def _askpass(path: Path, user: str, key: str | None) -> Path:
    """A GIT_ASKPASS program: answers the user name and the key, or fails when key is None."""
    if key is None:
        path.write_text("#!/bin/sh\nexit 1\n")
    else:
        path.write_text(
            "#!/bin/sh\ncase \"$1\" in\n"
            f"  Username*) echo '{user}' ;;\n"
            f"  *) echo '{key}' ;;\nesac\n"
        )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_credential_helper_store_and_regenerate(site: Site, seeded: str, work: Path,
                                                tmp_path: Path) -> None:
    key = site.user("helper-user")
    site.cli("grant", seeded, "helper-user", "developer")
    store_file = Path(os.environ["HOME"]) / ".git-credentials"
    store_file.unlink(missing_ok=True)
    env = {"GIT_ASKPASS": str(_askpass(tmp_path / "ask-ok", "helper-user", key))}
    url = site.clone_url(seeded)
    git("-c", "credential.helper=store", "clone", "-q", url, str(work / "h"), env=env)
    git("config", "credential.helper", "store", cwd=work / "h")
    assert key in store_file.read_text(), "git did not store the key after the first clone"

    # Later pulls reuse the stored key: an askpass that fails must not be needed.
    failing = {"GIT_ASKPASS": str(_askpass(tmp_path / "ask-fail", "", None))}
    git("pull", "-q", cwd=work / "h", env=failing)

    # Regenerating kills the old key at once; git erases the stored entry on the 401.
    site.cli("key", "regenerate", "helper-user", "--yes")
    pulled = git("pull", "-q", cwd=work / "h", env=failing, check=False)
    assert pulled.returncode != 0
    assert key not in store_file.read_text(), "the stale key was not erased from the store"


def test_revoked_key_is_refused(site: Site, seeded: str) -> None:
    key = site.user("revokee")
    site.cli("grant", seeded, "revokee", "user")
    path = f"/{seeded}.git/info/refs?service=git-upload-pack"
    assert site.http("GET", path, key=key).status == 200
    _, out, _ = site.cli("--json", "key", "list", "revokee")
    import json

    key_id = json.loads(out)[-1]["id"]
    site.cli("key", "revoke", key_id, "--yes")
    assert site.http("GET", path, key=key).status == 401


def test_expired_key_is_refused(site: Site, seeded: str) -> None:
    """An expiry in the past (written straight to the database) makes the key dead."""

    key = site.user("expiring")
    site.cli("grant", seeded, "expiring", "user")
    path = f"/{seeded}.git/info/refs?service=git-upload-pack"
    assert site.http("GET", path, key=key).status == 200
    store = site.store()
    with store.tx() as c:
        c.execute("UPDATE keys SET expires = '2000-01-01T00:00:00.000Z' WHERE user = 'expiring'")
    assert site.http("GET", path, key=key).status == 401
