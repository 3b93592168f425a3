"""The real git-lfs client against a real ``modelgit serve`` (issue 6, docs/access.md).

Every clone gets git-lfs's filters through ``GIT_CONFIG_*`` (never the session's global
config, which other test modules share) and ``git lfs install --local`` for the push hooks.
Credentials ride in the clone URL; git-lfs reuses them for the batch and locks APIs.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LFS_ENV, Site, commit_file, git, sha256_file
from tests.helpers.lfs_api import stored_size

MODEL = "lfs/weights"
BIG = 30 * 1000 * 1000



def lfs_clone(url: str, dest: Path, *, skip_smudge: bool = False, depth: int | None = None
              ) -> Path:
    """Clone with git-lfs active, then install its hooks and turn lock verification on
    (which is also what keeps git-lfs from printing its "Locking support detected" hint)."""
    env = dict(LFS_ENV)
    if skip_smudge:
        env["GIT_LFS_SKIP_SMUDGE"] = "1"
    args = ["clone", "-q", *(["--depth", str(depth)] if depth else []), url, str(dest)]
    git(*args, env=env)
    git("lfs", "install", "--local", cwd=dest)
    git("config", "lfs.locksverify", "true", cwd=dest)
    return dest


@dataclass(frozen=True)
class Pushed:
    model: str
    oid: str
    size: int
    push_seconds: float


@pytest.fixture(scope="module")
def pushed(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """The owner tracks *.bin and pushes a 30 MB random file through git-lfs."""
    site.model(MODEL)
    for name, role in (("lfs-user", "user"), ("lfs-dev", "developer"),
                       ("lfs-dev2", "developer"), ("lfs-maint", "maintainer"),
                       ("lfs-visitor", "visitor")):
        site.user(name)
        site.cli("grant", MODEL, name, role)
    repo = lfs_clone(site.clone_url(MODEL, "owner"), tmp_path_factory.mktemp("lfs") / "o")
    git("lfs", "track", "*.bin", cwd=repo)
    data = os.urandom(BIG)
    (repo / "weights.bin").write_bytes(data)
    commit_file(repo, "small.bin", os.urandom(1000), "small first")
    git("add", ".gitattributes", "weights.bin", cwd=repo)
    git("commit", "-q", "-m", "weights", cwd=repo)
    started = time.monotonic()
    push = git("push", "origin", "main", cwd=repo)
    seconds = time.monotonic() - started
    # git-lfs checks the locks API on every push: it must find it, and say nothing about it.
    assert "locking" not in push.stderr.lower(), push.stderr
    print(f"\nLFS push of {BIG / 1e6:.0f} MB: {seconds:.2f} s, {BIG / 1e6 / seconds:.0f} MB/s")
    return Pushed(MODEL, hashlib.sha256(data).hexdigest(), BIG, seconds)


def test_push_30mb_then_clone_as_user_gives_identical_bytes(site: Site, pushed: Pushed,
                                                           work: Path) -> None:
    store = site.store()
    assert store.linked_size(pushed.model, pushed.oid) == pushed.size
    assert stored_size(site, pushed.oid) == pushed.size

    started = time.monotonic()
    clone = lfs_clone(site.clone_url(pushed.model, "lfs-user"), work / "u")
    seconds = time.monotonic() - started
    print(f"\nLFS clone of {pushed.size / 1e6:.0f} MB: {seconds:.2f} s,"
          f" {pushed.size / 1e6 / seconds:.0f} MB/s")
    assert sha256_file(clone / "weights.bin") == pushed.oid
    # Not a pointer file: git-lfs fetched the bytes.
    assert (clone / "weights.bin").stat().st_size == pushed.size


def test_shallow_clone_then_lfs_pull(site: Site, pushed: Pushed, work: Path) -> None:
    clone = lfs_clone(site.clone_url(pushed.model, "lfs-user"), work / "s", skip_smudge=True,
                      depth=1)
    pointer = (clone / "weights.bin").read_text()
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1")
    assert f"oid sha256:{pushed.oid}" in pointer
    git("lfs", "pull", cwd=clone)
    assert sha256_file(clone / "weights.bin") == pushed.oid


def test_locks_lock_list_unlock_and_force(site: Site, pushed: Pushed, work: Path) -> None:
    dev = lfs_clone(site.clone_url(pushed.model, "lfs-dev"), work / "d", skip_smudge=True)
    dev2 = lfs_clone(site.clone_url(pushed.model, "lfs-dev2"), work / "d2", skip_smudge=True)
    maint = lfs_clone(site.clone_url(pushed.model, "lfs-maint"), work / "m", skip_smudge=True)
    reader = lfs_clone(site.clone_url(pushed.model, "lfs-user"), work / "r", skip_smudge=True)

    locked = git("lfs", "lock", "small.bin", cwd=dev)
    assert "Locked small.bin" in locked.stdout
    listed = git("lfs", "locks", cwd=maint).stdout
    assert "small.bin" in listed and "lfs-dev" in listed

    # Someone else's lock stops a developer's push of that file (locks/verify "theirs").
    (dev2 / "small.bin").write_bytes(os.urandom(500))
    git("commit", "-q", "-am", "change a locked file", cwd=dev2)
    blocked = git("push", "origin", "main", cwd=dev2, check=False)
    assert blocked.returncode != 0
    said = blocked.stdout + blocked.stderr
    assert "Cannot update locked files" in said and "small.bin - lfs-dev" in said
    git("reset", "-q", "--hard", "origin/main", cwd=dev2)

    # A `user` may read but not lock; another developer may not break the lock.
    refused = git("lfs", "lock", "weights.bin", cwd=reader, check=False)
    assert refused.returncode != 0
    assert "developer" in (refused.stdout + refused.stderr)
    not_forced = git("lfs", "unlock", "small.bin", cwd=dev2, check=False)
    assert not_forced.returncode != 0
    forced_by_dev = git("lfs", "unlock", "--force", "small.bin", cwd=dev2, check=False)
    assert forced_by_dev.returncode != 0
    assert "maintainer" in (forced_by_dev.stdout + forced_by_dev.stderr)

    # The maintainer forces it open.
    git("lfs", "unlock", "--force", "small.bin", cwd=maint)
    assert "small.bin" not in git("lfs", "locks", cwd=dev).stdout

    # Lock, push one's own locked file (no warning), unlock.
    git("lfs", "lock", "small.bin", cwd=dev)
    (dev / "small.bin").write_bytes(os.urandom(700))
    git("commit", "-q", "-am", "change my locked file", cwd=dev)
    push = git("push", "origin", "main", cwd=dev)
    assert "locking" not in push.stderr.lower(), push.stderr
    git("lfs", "unlock", "small.bin", cwd=dev)
    assert git("lfs", "locks", cwd=dev).stdout.strip() == ""


def test_visitor_cannot_download(site: Site, pushed: Pushed) -> None:
    import json

    body = json.dumps({"operation": "download", "transfers": ["basic"],
                       "objects": [{"oid": pushed.oid, "size": pushed.size}]}).encode()
    answer = site.http("POST", f"/{pushed.model}.git/info/lfs/objects/batch",
                       key=site.keys["lfs-visitor"], user="lfs-visitor", body=body,
                       headers={"Content-Type": "application/vnd.git-lfs+json"})
    assert answer.status == 403
    assert answer.headers["Content-Type"] == "application/vnd.git-lfs+json"
    assert "visitor" in json.loads(answer.body)["message"]


def test_push_over_space_quota_is_refused(site: Site, work: Path) -> None:
    site.user("owner", admin=True)
    site.cli("space", "create", "tiny", "--owner", "owner", "--quota", "1MB")
    site.cli("model", "create", "tiny/q", "--owner", "owner")
    repo = lfs_clone(site.clone_url("tiny/q", "owner"), work / "q")
    commit_file(repo, "README.md", "# q\n", "first")
    git("push", "-q", "origin", "main", cwd=repo)

    # An LFS object that does not fit: the batch answers 507 per object, git-lfs says why.
    git("lfs", "track", "*.bin", cwd=repo)
    (repo / "big.bin").write_bytes(os.urandom(2 * 1000 * 1000))
    git("add", ".gitattributes", "big.bin", cwd=repo)
    git("commit", "-q", "-m", "too big", cwd=repo)
    refused = git("push", "origin", "main", cwd=repo, check=False)
    assert refused.returncode != 0
    assert "space quota exceeded: used" in refused.stderr and "of 1.0 MB" in refused.stderr
    assert site.store().lfs_bytes(model_id="tiny/q") == 0

    # A plain git blob that does not fit: pre-receive refuses the pack.
    git("reset", "-q", "--hard", "origin/main", cwd=repo)
    (repo / "raw.dat").write_bytes(os.urandom(1_500_000))
    git("add", "raw.dat", cwd=repo)
    git("commit", "-q", "-m", "raw blob", cwd=repo)
    before = git("ls-remote", site.clone_url("tiny/q", "owner"), "refs/heads/main").stdout
    refused = git("push", "origin", "main", cwd=repo, check=False)
    assert refused.returncode != 0
    assert "remote: modelgit: push to tiny/q refused: space quota exceeded" in refused.stderr
    assert "modelgit space set tiny --quota" in refused.stderr
    after = git("ls-remote", site.clone_url("tiny/q", "owner"), "refs/heads/main").stdout
    assert after == before

    # Raising the quota lets the same push through.
    site.cli("space", "set", "tiny", "--quota", "10MB")
    git("push", "-q", "origin", "main", cwd=repo)
