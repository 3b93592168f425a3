"""Two ``modelgit serve`` front ends on one data folder behind a real nginx ``upstream``.

Nothing two front ends must agree on lives in one of them: the repositories are on the shared
folder (git's own ref locks decide races), the brute-force brake counts in the store, and LFS
transfer links are signed with the secret file in the data folder. Set
``MODELGIT_TEST_STORAGE=s3`` to run the same on SeaweedFS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LFS_ENV, TEST_SETTINGS, Site, commit_file, git, make_site
from tests.helpers import frontends
from tests.helpers.lfs_api import MEDIA, batch, local, oid_of

MAX_FAILURES = 4


@pytest.fixture(scope="module")
def fronts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[frontends.Frontends]:
    settings = {**TEST_SETTINGS, "auth": {"max_failures": MAX_FAILURES,
                                          "max_failures_per_address": 10_000,
                                          "window_seconds": 600, "cooldown_seconds": 600}}
    site = make_site(tmp_path_factory.mktemp("fronts"), settings)
    with frontends.balanced(site) as running:
        yield running


def alone(fronts: frontends.Frontends, index: int) -> Site:
    """The site as front end ``index`` alone serves it (same data folder, same keys)."""
    return dataclasses.replace(fronts.site, port=fronts.ports[index])


def tip(url: str, ref: str = "refs/heads/main") -> str:
    out = git("ls-remote", url, ref).stdout.split()
    return out[0] if out else ""


def test_pushes_and_clones_alternate_between_front_ends(fronts: frontends.Frontends,
                                                        tmp_path: Path) -> None:
    site = fronts.site
    model = site.model("fe/alternate")
    before = [fronts.requests_seen(i) for i in range(2)]
    first = tmp_path / "a"
    git("clone", "-q", fronts.clone_url(0, model, "owner"), str(first))
    commit_file(first, "README.md", "# one\n", "one")
    git("push", "-q", "origin", "main", cwd=first)
    second = tmp_path / "b"
    git("clone", "-q", fronts.clone_url(1, model, "owner"), str(second))
    assert (second / "README.md").read_text() == "# one\n"
    commit_file(second, "README.md", "# two\n", "two")
    git("push", "-q", "origin", "main", cwd=second)
    git("pull", "-q", "--ff-only", cwd=first)
    assert (first / "README.md").read_text() == "# two\n"
    # Through the balancer: each push and clone is several requests, spread over both.
    git("remote", "set-url", "origin", site.clone_url(model, "owner"), cwd=first)
    for n in range(4):
        commit_file(first, f"f{n}.txt", f"{n}\n", f"file {n}")
        git("push", "-q", "origin", "main", cwd=first)
        clone = tmp_path / f"c{n}"
        git("clone", "-q", site.clone_url(model, "owner"), str(clone))
        assert (clone / f"f{n}.txt").read_text() == f"{n}\n"
    head = git("rev-parse", "HEAD", cwd=first).stdout.strip()
    assert tip(fronts.clone_url(0, model, "owner")) == head
    assert tip(fronts.clone_url(1, model, "owner")) == head
    after = [fronts.requests_seen(i) for i in range(2)]
    assert all(a - b >= 8 for a, b in zip(after, before, strict=True)), (before, after)


def _push(repo: Path, refs: list[str], results: dict[str, subprocess.CompletedProcess[str]],
          name: str, start: threading.Barrier) -> None:
    start.wait()
    results[name] = git("push", "--atomic", "origin", *refs, cwd=repo, check=False)


def test_concurrent_pushes_from_both_front_ends_are_all_or_nothing(
        fronts: frontends.Frontends, tmp_path: Path) -> None:
    """Two pushes of main and a tag, from the same base, one through each front end, at the
    same moment: one lands whole, the other not at all; the repository stays sound."""
    site = fronts.site
    model = site.model("fe/race")
    base = tmp_path / "base"
    git("clone", "-q", fronts.clone_url(0, model, "owner"), str(base))
    commit_file(base, "README.md", "# base\n", "base")
    git("push", "-q", "origin", "main", cwd=base)
    for round_ in range(4):
        repos = {}
        for i in range(2):
            repo = tmp_path / f"r{round_}-{i}"
            git("clone", "-q", fronts.clone_url(i, model, "owner"), str(repo))
            commit_file(repo, f"side{i}.txt", os.urandom(2000).hex(), f"side {i}")
            git("tag", f"round-{round_}", cwd=repo)
            repos[f"fe{i}"] = repo
        results: dict[str, subprocess.CompletedProcess[str]] = {}
        start = threading.Barrier(2)
        threads = [threading.Thread(target=_push, args=(
            repo, ["main", f"refs/tags/round-{round_}"], results, name, start))
            for name, repo in repos.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        won = [name for name, result in results.items() if result.returncode == 0]
        assert len(won) == 1, {n: r.stderr for n, r in results.items()}
        lost = "fe1" if won == ["fe0"] else "fe0"
        assert "rejected" in results[lost].stderr or "failed" in results[lost].stderr
        winner = git("rev-parse", "HEAD", cwd=repos[won[0]]).stdout.strip()
        url = site.clone_url(model, "owner")
        assert tip(url) == winner
        assert tip(url, f"refs/tags/round-{round_}") == winner  # both refs of the winner
        git("-C", str(base), "pull", "-q", "--ff-only")
    bare = site.data / "repos" / f"{model}.git"
    git("fsck", "--strict", "--no-progress", cwd=bare)


def test_brake_counts_failures_across_both_front_ends(fronts: frontends.Frontends) -> None:
    site = fronts.site
    model = site.model("fe/braked")
    key = site.user("fe-victim")
    site.cli("grant", model, "fe-victim", "user")
    path = f"/{model}.git/info/refs?service=git-upload-pack"
    wrong = "mg_" + "x" * 40  # pragma: allowlist secret
    for n in range(MAX_FAILURES):
        answer = alone(fronts, n % 2).http("GET", path, user="fe-victim", key=wrong)
        assert answer.status == 401, answer.body
    for i in range(2):
        answer = alone(fronts, i).http("GET", path, user="fe-victim", key=key)
        assert answer.status == 429, (i, answer.status, answer.body)
        assert int(answer.headers["Retry-After"]) > 0
    # Another user at the same address signs in on either front end.
    site.user("fe-bystander")
    site.cli("grant", model, "fe-bystander", "user")
    for i in range(2):
        answer = alone(fronts, i).http("GET", path, user="fe-bystander",
                                       key=site.keys["fe-bystander"])
        assert answer.status == 200, answer.body


def test_lfs_links_from_one_front_end_work_on_the_other(fronts: frontends.Frontends,
                                                        tmp_path: Path) -> None:
    site = fronts.site
    model = site.model("fe/lfs")
    key = site.keys["owner"]
    first, second = alone(fronts, 0), alone(fronts, 1)
    data = os.urandom(2 * 1024 * 1024)
    oid = oid_of(data)
    answer = batch(first, model, "upload", [{"oid": oid, "size": len(data)}], key)
    actions = json.loads(answer.body)["objects"][0]["actions"]
    put, verify = actions["upload"], actions["verify"]
    sent = second.http("PUT", local(put["href"]), body=data, headers=put["header"])
    assert sent.status == 200, sent.body
    checked = first.http("POST", local(verify["href"]),
                         body=json.dumps({"oid": oid, "size": len(data)}).encode(),
                         headers={**verify["header"], "Content-Type": MEDIA})
    assert checked.status == 200, checked.body
    answer = batch(second, model, "download", [{"oid": oid, "size": len(data)}], key)
    get = json.loads(answer.body)["objects"][0]["actions"]["download"]
    fetched = first.http("GET", local(get["href"]), headers=get["header"])
    assert fetched.status == 200 and fetched.body == data

    # And git-lfs itself through the balancer: push, then a clone gets the bytes.
    repo = tmp_path / "lfs"
    git("clone", "-q", site.clone_url(model, "owner"), str(repo), env=LFS_ENV)
    git("lfs", "install", "--local", cwd=repo)
    git("lfs", "track", "*.bin", cwd=repo)
    weights = os.urandom(9 * 1024 * 1024)
    (repo / "w.bin").write_bytes(weights)
    git("add", ".gitattributes", "w.bin", cwd=repo, env=LFS_ENV)
    git("commit", "-qm", "weights", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo, env=LFS_ENV)
    clone = tmp_path / "lfs-clone"
    git("clone", "-q", fronts.clone_url(1, model, "owner"), str(clone), env=LFS_ENV)
    assert hashlib.sha256((clone / "w.bin").read_bytes()).hexdigest() == oid_of(weights)
