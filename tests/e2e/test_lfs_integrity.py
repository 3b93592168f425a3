"""Every byte behind a pointer passes the push checks before a ref points at it (issue 18).

Pointers are written by hand and pushed with plain git (no git-lfs hooks), the way an
attacker would; objects go up through the real LFS batch API first when a test needs them.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from pathlib import Path

from tests.conftest import Site, commit_file, git
from tests.helpers.lfs_api import upload


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def evil(tag: str) -> bytes:
    """A malicious pickle of its own per test: the module's tests share one server."""
    return pickle.dumps({"weights": [1.0], "tag": tag, "hook": Evil()})


def pointer_text(data: bytes, version: str = "https://git-lfs.github.com/spec/v1",
                 newline: str = "\n") -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return newline.join([f"version {version}", f"oid sha256:{oid}", f"size {len(data)}",
                         ""]).encode()


def fresh(site: Site, work: Path, model: str, owner: str = "owner") -> Path:
    space = model.split("/")[0]
    site.space(space)
    if owner != "owner":
        site.cli("space", "grant", space, owner, "user")
    site.model(model, owner=owner)
    repo = work / model.replace("/", "-")
    git("clone", "-q", site.clone_url(model, owner), str(repo))
    commit_file(repo, "README.md", "# model\n", "readme")
    git("push", "-q", "origin", "main", cwd=repo)
    return repo


def tip(site: Site, model: str) -> str:
    return git("ls-remote", site.clone_url(model, "owner"), "refs/heads/main").stdout.split()[0]


def test_legacy_hawser_pointer_to_a_malicious_pickle_is_refused(site: Site, work: Path
                                                                ) -> None:
    """Finding 1: git-lfs and the hub read the pre-release `hawser` version line; the pickle
    scanner did not, scanned the pointer text and let the pickle behind it land."""
    model = "integrity/hawser"
    repo = fresh(site, work, model)
    payload = evil("hawser")
    upload(site, model, payload, site.keys["owner"])
    before = tip(site, model)
    for i, (version, newline) in enumerate((
            ("https://hawser.github.com/spec/v1", "\n"),
            ("https://git-lfs.github.com/spec/v1", "\r\n"),
            ("http://git-media.io/v/2", "\r\n"))):
        commit_file(repo, f"model{i}.pkl", pointer_text(payload, version, newline), "weights")
        pushed = git("push", "origin", "main", cwd=repo, check=False)
        assert pushed.returncode != 0, pushed.stderr
        assert f"model{i}.pkl" in pushed.stderr and "system" in pushed.stderr, pushed.stderr
        assert tip(site, model) == before
        git("reset", "-q", "--hard", "HEAD~1", cwd=repo)


def test_pointer_before_its_object_is_refused(site: Site, work: Path) -> None:
    """Finding 2: a pointer whose object was never uploaded landed with a LOW finding, and
    `git lfs push --object-id` could then put an unscanned object behind the ref."""
    model = "integrity/early"
    repo = fresh(site, work, model)
    payload = evil("early")
    before = tip(site, model)
    commit_file(repo, "weights/model.pkl", pointer_text(payload), "pointer first")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0, pushed.stderr
    oid = hashlib.sha256(payload).hexdigest()
    said = pushed.stderr
    assert "weights/model.pkl (commit " in said and f"LFS object {oid} has not been" in said
    assert "git lfs push --all origin main" in said and "did not upload" in said
    assert tip(site, model) == before

    # The object uploaded afterwards is checked with the pointer: the push is still refused,
    # now because of what the object holds.
    upload(site, model, payload, site.keys["owner"])
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0 and "system" in pushed.stderr, pushed.stderr
    assert tip(site, model) == before


def test_pointer_longer_than_a_pointer_is_refused(site: Site, work: Path) -> None:
    """git-lfs's smudge filter reads the first 1024 bytes of any blob: a pointer padded past
    1024 bytes checks out as the object while no git-lfs scanner lists it."""
    model = "integrity/padded"
    repo = fresh(site, work, model)
    payload = evil("padded")
    upload(site, model, payload, site.keys["owner"])
    # Just past the limit (read through pygit2), and past READ_WHOLE_MAX (streamed by git).
    for name, padding in (("model.pkl", 1100), ("large.pkl", 2 * 1024 * 1024)):
        padded = pointer_text(payload) + b" " * padding + b"tail"
        commit_file(repo, name, padded, "padded pointer")
        pushed = git("push", "origin", "main", cwd=repo, check=False)
        assert pushed.returncode != 0, pushed.stderr
        assert name in pushed.stderr and "start like an LFS" in pushed.stderr, pushed.stderr
        git("reset", "-q", "--hard", "HEAD~1", cwd=repo)


def test_pointer_to_another_models_object_is_no_oracle(site: Site, work: Path) -> None:
    """Finding 11: the scan opened any stored oid, so a hand-written pointer probed another
    (private) model's objects and the refusal named their globals. Now an object linked only
    elsewhere is refused in the very words used for an object that exists nowhere."""
    site.user("alice-int")
    site.user("mallory-int")
    payload = evil("private")
    secret_model = "integrity-a/private"  # pragma: allowlist secret
    site.space("integrity-a")
    site.cli("space", "grant", "integrity-a", "alice-int", "user")
    site.model(secret_model, owner="alice-int")
    upload(site, secret_model, payload, site.keys["alice-int"])
    model = "integrity-m/probe"
    repo = fresh(site, work, model, owner="mallory-int")

    def refusal(data: bytes, name: str) -> str:
        commit_file(repo, "model.pkl", pointer_text(data), name)
        pushed = git("push", "origin", "main", cwd=repo, check=False)
        git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
        assert pushed.returncode != 0, pushed.stderr
        oid = hashlib.sha256(data).hexdigest()
        lines = [line for line in pushed.stderr.splitlines() if "modelgit:" in line]
        return re.sub(r"\(commit [0-9a-f]+\)", "(commit)", "\n".join(lines).replace(oid, "<oid>"))

    probed = refusal(payload, "probe")
    nowhere = refusal(os.urandom(len(payload)), "nowhere")
    assert "system" not in probed and "security scan" not in probed
    assert "has not been uploaded to integrity-m/probe" in probed
    assert probed == nowhere
