"""Every byte behind a pointer passes the push checks before a ref points at it (issue 18).

Pointers are written by hand and pushed with plain git (no git-lfs hooks), the way an
attacker would; objects go up through the real LFS batch API first when a test needs them.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from tests.conftest import Site, commit_file, git
from tests.lfs.test_lfs_http_api import upload


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


EVIL = pickle.dumps({"weights": [1.0], "hook": Evil()})


def pointer_text(data: bytes, version: str = "https://git-lfs.github.com/spec/v1",
                 newline: str = "\n") -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return newline.join([f"version {version}", f"oid sha256:{oid}", f"size {len(data)}",
                         ""]).encode()


def fresh(site: Site, work: Path, model: str, owner: str = "owner") -> Path:
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
    upload(site, model, EVIL, site.keys["owner"])
    before = tip(site, model)
    for i, (version, newline) in enumerate((
            ("https://hawser.github.com/spec/v1", "\n"),
            ("https://git-lfs.github.com/spec/v1", "\r\n"),
            ("http://git-media.io/v/2", "\r\n"))):
        commit_file(repo, f"model{i}.pkl", pointer_text(EVIL, version, newline), "weights")
        pushed = git("push", "origin", "main", cwd=repo, check=False)
        assert pushed.returncode != 0, pushed.stderr
        assert f"model{i}.pkl" in pushed.stderr and "system" in pushed.stderr, pushed.stderr
        assert tip(site, model) == before
        git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
