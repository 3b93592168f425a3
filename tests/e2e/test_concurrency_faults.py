"""Many pushes and clones at once, racing pushes, and failing closed on a broken database."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Site, commit_file, git, make_site
from tests.helpers.site import on_postgres

#: These break the SQLite file under a site; on PostgreSQL (``make test-distributed``) there is
#: no file to break, and they ran on SQLite in the first pass.
sqlite_file_only = pytest.mark.skipif(on_postgres(), reason="breaks the SQLite file")


def test_twelve_pushes_and_twelve_clones_at_once(site: Site, work: Path) -> None:
    """24 at once; nothing lost. ``make test-distributed`` runs it over two front ends behind
    nginx with the store on PostgreSQL and LFS on SeaweedFS (issue 23)."""
    models = [site.model(f"busy/m{i}") for i in range(12)]
    for i, model in enumerate(models):
        repo = work / f"r{i}"
        git("clone", "-q", site.clone_url(model, "owner"), str(repo))
        commit_file(repo, "seed.txt", f"seed {i}")
        git("push", "-q", "origin", "main", cwd=repo)
        commit_file(repo, "next.txt", f"next {i}")

    def push(i: int) -> tuple[int, str]:
        proc = git("push", "origin", "main", cwd=work / f"r{i}", check=False)
        return proc.returncode, proc.stderr

    def clone(i: int) -> tuple[int, str]:
        proc = git("clone", "-q", site.clone_url(models[i], "owner"), str(work / f"c{i}"),
                   check=False)
        return proc.returncode, proc.stderr

    with ThreadPoolExecutor(max_workers=24) as pool:
        pushes = [pool.submit(push, i) for i in range(12)]
        clones = [pool.submit(clone, i) for i in range(12)]
        results = [f.result() for f in pushes + clones]
    failures = [err for rc, err in results if rc != 0]
    assert not failures, failures[:3]
    for i, model in enumerate(models):
        remote = git("ls-remote", site.clone_url(model, "owner"), "refs/heads/main").stdout
        local = git("rev-parse", "HEAD", cwd=work / f"r{i}").stdout.strip()
        assert remote.split()[0] == local
    for i in range(12):  # every clone whole: the seed commit checked out
        assert (work / f"c{i}" / "seed.txt").read_text() == f"seed {i}"
    # Every server process's log (both front ends under make test-distributed).
    assert "database is locked" not in site.log_text()


def test_two_pushes_to_one_branch_one_wins(site: Site, work: Path) -> None:
    model = site.model("busy/race")
    base = work / "base"
    git("clone", "-q", site.clone_url(model, "owner"), str(base))
    commit_file(base, "a.txt", "a")
    git("push", "-q", "origin", "main", cwd=base)
    tips = {}
    for name in ("x", "y"):
        git("clone", "-q", site.clone_url(model, "owner"), str(work / name))
        tips[name] = commit_file(work / name, f"{name}.txt", name, f"by {name}")

    def push(name: str) -> int:
        return git("push", "origin", "main", cwd=work / name, check=False).returncode

    for _ in range(3):  # the race is not always tight; both outcomes must stay consistent
        with ThreadPoolExecutor(max_workers=2) as pool:
            codes = dict(zip("xy", pool.map(push, "xy"), strict=True))
        winners = [n for n, rc in codes.items() if rc == 0]
        remote = git("ls-remote", site.clone_url(model, "owner"),
                     "refs/heads/main").stdout.split()[0]
        if len(winners) == 1:
            assert remote == tips[winners[0]]
            return
        assert len(winners) == 0 or remote in tips.values()
    raise AssertionError(f"expected exactly one winner, got {codes}")


@sqlite_file_only
def test_broken_database_fails_closed(tmp_path: Path) -> None:
    """A database that cannot be opened denies (500 with a message), never allows."""
    broken = make_site(tmp_path)
    broken.user("owner", admin=True)
    model = broken.model("faults/m", public=True)
    broken.start()
    try:
        url = f"/{model}.git/info/refs?service=git-upload-pack"
        assert broken.http("GET", url).status == 200
        db = broken.data / "modelgit.db"
        shutil.move(db, tmp_path / "saved.db")
        for suffix in ("-wal", "-shm"):
            (broken.data / f"modelgit.db{suffix}").unlink(missing_ok=True)
        db.write_bytes(b"this is not a database" * 100)
        answer = broken.http("GET", url)
        assert answer.status == 500
        assert b"internal error" in answer.body
        cloned = git("clone", broken.clone_url(model), str(tmp_path / "c"), check=False)
        assert cloned.returncode != 0
    finally:
        broken.stop()


@sqlite_file_only
def test_hook_with_broken_database_refuses_push(tmp_path: Path) -> None:
    offline = make_site(tmp_path)
    offline.user("owner", admin=True)
    model = offline.model("faults/hook")
    bare = offline.data / "repos" / f"{model}.git"
    repo = tmp_path / "c"
    git("clone", "-q", str(bare), str(repo))
    first = git("--git-dir", str(bare), "rev-parse", "refs/heads/main").stdout
    commit_file(repo, "a.txt", "a")
    # Remove the WAL too: with it, SQLite would still read valid pages from the log.
    for suffix in ("-wal", "-shm"):
        (offline.data / f"modelgit.db{suffix}").unlink(missing_ok=True)
    (offline.data / "modelgit.db").write_bytes(b"garbage" * 1000)
    pushed = git("push", "origin", "main", cwd=repo, check=False, env={"MODELGIT_USER": "owner"})
    assert pushed.returncode != 0
    assert "internal error" in pushed.stderr
    assert git("--git-dir", str(bare), "rev-parse", "refs/heads/main").stdout == first, \
        "the branch moved although the check failed"


def test_failing_scanner_refuses_push(tmp_path: Path) -> None:
    """A blocking scan that raises (here: a broken size cap in config.yaml) refuses the push
    with an internal-error message instead of letting it through."""
    offline = make_site(tmp_path, settings={"scan": {"max_blob_bytes": "five megabytes"}})
    offline.user("owner", admin=True)
    model = offline.model("faults/scanner")
    bare = offline.data / "repos" / f"{model}.git"
    repo = tmp_path / "c"
    git("clone", "-q", str(bare), str(repo))
    commit_file(repo, "a.py", "print('hello')\n")
    pushed = git("push", "origin", "main", cwd=repo, check=False, env={"MODELGIT_USER": "owner"})
    assert pushed.returncode != 0
    assert "internal error" in pushed.stderr and "check_scans" in pushed.stderr
    assert "Traceback" not in pushed.stderr
    log = (offline.data / "log" / "hooks.log").read_text()
    assert "Traceback" in log, "the details belong in the log"
