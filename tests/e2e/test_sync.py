"""Model sync between two real ``modelgit serve`` sites on loopback (issue 12).

The source site's ``config.yaml`` names the target as region ``eu`` with a key file holding
a write key of ``replicator``, a developer of the model on the target. Objects are pushed
to the source with the real git-lfs client and read back from the target with it.

What the key checks assert, exactly:
- no ``tasks`` row, and no byte of any file in either data folder (database and WAL,
  ``log/``, the servers' own output, repositories), contains the region key;
- every ``git`` that the source server, the CLI and the test spawn goes through a wrapper
  first in ``PATH`` that records its argv: none contains the key, and the sync's
  ``git push`` is among them;
- ``ps -ww -eo args`` is sampled every 20 ms for the whole module; the wrapper holds each
  sync ``git push`` for 0.3 s, so the samples provably include the sync's push command line, and
  no sample contains the key. (The key is in that git's environment, by design; the
  environment is not what ``ps -ww -eo args`` shows, and it is not asserted on.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from modelgit import sync
from tests.conftest import LFS_ENV, Site, commit_file, git, make_site, sha256_file
from tests.helpers.wait import wait_for

MODEL = "sync/llm"
BIG = 20 * 1000 * 1000


WRAPPER = """#!/bin/sh
# Test wrapper: record argv (one line per call); hold the sync's pushes (the only ones
# with --porcelain) briefly so that `ps` sees them.
printf '%s\\n' "$*" >> {log}
case " $* " in *" push --porcelain "*) sleep 0.3 ;; esac
exec {git} "$@"
"""


def lfs_clone(url: str, dest: Path, *args: str) -> Path:
    git("clone", "-q", *args, url, str(dest), env=LFS_ENV)
    git("lfs", "install", "--local", cwd=dest)
    return dest


class PsSampler:
    """Every distinct line of ``ps -ww -eo args`` (full width: without ``ww`` ps cuts lines
    at 80 columns when writing to a file) seen while it runs, sampled every 20 ms by a shell
    loop of its own, independent of this process's threads."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            ["sh", "-c", "while :; do ps -ww -eo args; echo '--sample--'; sleep 0.02; done"],
            stdout=out.open("wb"), stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)

    @property
    def lines(self) -> set[str]:
        return set(self.out.read_text(errors="replace").splitlines())

    @property
    def samples(self) -> int:
        return self.out.read_text(errors="replace").count("--sample--")


@dataclass
class Pair:
    src: Site
    dst: Site
    region_key: str
    reader_key: str
    argv_log: Path
    ps: PsSampler
    keys_dir: Path
    work: Path


def _add_regions(site: Site, regions: dict[str, dict[str, str]]) -> None:
    """Merge ``regions:`` into the config.yaml that make_site wrote (keeps its settings)."""
    path = site.data / "config.yaml"
    settings = yaml.safe_load(path.read_text()) or {}
    settings.setdefault("regions", {}).update(regions)
    path.write_text(yaml.safe_dump(settings))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("sync")
    wrap_dir = root / "wrap"
    wrap_dir.mkdir()
    argv_log = root / "git-argv.log"
    real_git = shutil.which("git")
    assert real_git
    wrapper = wrap_dir / "git"
    wrapper.write_text(WRAPPER.format(log=argv_log, git=real_git))
    wrapper.chmod(0o755)
    saved_path = os.environ["PATH"]
    os.environ["PATH"] = f"{wrap_dir}{os.pathsep}{saved_path}"

    src = make_site(root / "src")
    dst = make_site(root / "dst")
    keys_dir = root / "keys"
    keys_dir.mkdir(mode=0o700)
    dst.model(MODEL)
    region_key = dst.user("replicator")
    dst.cli("grant", MODEL, "replicator", "developer")
    reader_key = dst.user("reader")
    for name, key in (("eu.key", region_key), ("ro.key", reader_key)):
        (keys_dir / name).write_text(key + "\n")
        (keys_dir / name).chmod(0o600)
    _add_regions(src, {"eu": {"url": dst.url, "key_file": str(keys_dir / "eu.key")},
                       "eu-ro": {"url": dst.url, "key_file": str(keys_dir / "ro.key")}})
    src.model(MODEL)
    ps = PsSampler(root / "ps.txt")
    src.start()
    dst.start()
    work = root / "work"
    work.mkdir()
    try:
        yield Pair(src, dst, region_key, reader_key, argv_log, ps, keys_dir, work)
    finally:
        ps.stop()
        src.stop()
        dst.stop()
        os.environ["PATH"] = saved_path


def first_commit(site: Site, model: str) -> str:
    """The commit a model starts with: the same on every site, so a replica created on the
    target fast-forwards to the source's history."""
    return git("--git-dir", str(site.data / "repos" / f"{model}.git"), "rev-list",
               "--max-parents=0", "refs/heads/main").stdout.strip()


def tasks(site: Site, model: str | None = None) -> list[dict]:
    _, out, _ = site.cli("sync", "list", *([model] if model else []), "--json")
    return json.loads(out)


def wait_task(site: Site, task_id: int, timeout: float = 60) -> dict:
    """Poll ``sync list --json`` until the server's worker finishes the task."""
    row: dict = {}

    def finished() -> dict | None:
        nonlocal row
        row = next(t for t in tasks(site) if t["id"] == task_id)
        return row if row["status"] in ("done", "failed") else None

    return wait_for(finished, timeout,
                    lambda: f"task {task_id} to finish (still {row.get('status')})", poll=0.2)


def start(site: Site, *args: str) -> dict:
    """``sync start`` (queued, for the worker) -> the task."""
    _, out, _ = site.cli("--json", "sync", "start", *args)
    return json.loads(out)["task"]


def test_sync_tag_then_only_new_objects_then_stopped_target_and_retry(pair: Pair) -> None:
    src, dst, work = pair.src, pair.dst, pair.work

    # The owner pushes a 20 MB LFS file and an annotated tag to the source.
    repo = lfs_clone(src.clone_url(MODEL, "owner"), work / "src")
    git("lfs", "track", "*.bin", cwd=repo)
    (repo / "weights.bin").write_bytes(os.urandom(BIG))
    git("add", ".gitattributes", "weights.bin", cwd=repo)
    first = commit_file(repo, "README.md", "# llm\n", "weights")
    git("tag", "-a", "v1", "-m", "release 1", cwd=repo)
    git("push", "-q", "origin", "main", "v1", cwd=repo)
    big_oid = sha256_file(repo / "weights.bin")

    # 1. The tag, run by the source server's background worker.
    task = start(src, MODEL, "--region", "eu", "--ref", "v1")
    assert task["status"] == "queued" and task["ref"] == "refs/tags/v1"
    assert task["commit"] == first
    row = wait_task(src, task["id"])
    assert row["status"] == "done", row
    assert (row["objects_sent"], row["bytes_sent"]) == (1, BIG)
    assert (row["objects_total"], row["bytes_total"]) == (1, BIG)

    clone = lfs_clone(dst.clone_url(MODEL, "owner"), work / "dst1", "--branch", "v1")
    assert sha256_file(clone / "weights.bin") == big_oid
    assert (clone / "weights.bin").stat().st_size == BIG
    assert git("cat-file", "-t", "v1", cwd=clone).stdout.strip() == "tag"  # still annotated
    assert dst.store().linked_size(MODEL, big_oid) == BIG

    # 2. One more commit on main: only its new object is sent (foreground, --wait).
    small = os.urandom(1_000_000)
    second = commit_file(repo, "small.bin", small, "small")
    git("push", "-q", "origin", "main", cwd=repo)
    _, out, _ = src.cli("--json", "sync", "start", MODEL, "--region", "eu", "--ref", "main",
                        "--wait")
    row = json.loads(out)
    assert row["status"] == "done" and row["commit"] == second, row
    assert (row["objects_sent"], row["bytes_sent"]) == (1, len(small))
    assert (row["objects_total"], row["bytes_total"]) == (2, BIG + len(small))
    clone = lfs_clone(dst.clone_url(MODEL, "owner"), work / "dst2")
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == second
    assert sha256_file(clone / "weights.bin") == big_oid
    assert (clone / "small.bin").read_bytes() == small

    # A bare commit goes to refs/heads/sync/<sha>; everything is there already.
    _, out, _ = src.cli("--json", "sync", "start", MODEL, "--region", "eu", "--commit",
                        first[:10], "--wait")
    row = json.loads(out)
    assert row["status"] == "done" and row["ref"] == f"refs/heads/sync/{first}"
    assert (row["objects_sent"], row["bytes_sent"]) == (0, 0)
    heads = git("ls-remote", dst.clone_url(MODEL, "owner"), f"refs/heads/sync/{first}").stdout
    assert heads.split()[0] == first

    # 3. The target is down: the task fails with a reason; retry succeeds once it is back.
    dst.stop()
    third = os.urandom(500_000)
    tip = commit_file(repo, "third.bin", third, "third")
    git("push", "-q", "origin", "main", cwd=repo)
    code, _, err = src.cli("sync", "start", MODEL, "--region", "eu", "--ref", "main",
                           "--wait", ok=False)
    assert code == 1
    failed = tasks(src, MODEL)[0]  # newest first
    assert failed["status"] == "failed" and failed["commit"] == tip
    assert "unreachable" in failed["error"] and "Connection refused" in failed["error"]
    assert "\n" not in failed["error"]
    assert f"sync task {failed['id']} failed: region eu" in err
    assert f"modelgit sync retry {failed['id']}" in err

    dst.start()
    _, out, _ = src.cli("sync", "retry", str(failed["id"]))
    assert "queued" in out
    row = wait_task(src, failed["id"])
    assert row["status"] == "done", row
    assert row["attempts"] == 2
    assert (row["objects_sent"], row["bytes_sent"]) == (1, len(third))
    remote = git("ls-remote", dst.clone_url(MODEL, "owner"), "refs/heads/main").stdout
    assert remote.split()[0] == tip
    code, _, err = src.cli("sync", "retry", str(failed["id"]), ok=False)
    assert code == 1 and "is done" in err

    # The list, newest first; the replicas model show will print.
    ids = [t["id"] for t in tasks(src, MODEL)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    _, table, _ = src.cli("sync", "list", MODEL)
    assert "done" in table and "eu" in table
    replicas = {(r["region"], r["ref"]): r["commit"]
                for r in sync.replicas(src.store(), MODEL)}
    assert replicas == {("eu", "refs/tags/v1"): first, ("eu", "refs/heads/main"): tip,
                        ("eu", f"refs/heads/sync/{first}"): first}

    # 4. The region key: in no task row, no file of either site, no argv, no ps line.
    key = pair.region_key
    with src.store().tx() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM tasks")]
    assert rows and key not in json.dumps(rows)
    for site in (src, dst):
        checked = 0
        for path in site.data.rglob("*"):
            if path.is_file():
                assert key.encode() not in path.read_bytes(), path
                checked += 1
        assert (site.data / "log" / "server.log").is_file() and checked > 10
    assert "sync task" in (src.data / "log" / "server.log").read_text()
    argv = pair.argv_log.read_text().splitlines()
    pushes = [line for line in argv if " push " in f" {line} " and dst.url in line]
    assert pushes, "the sync's git push went through the argv wrapper"
    assert not [line for line in argv if key in line]

    def push_sampled() -> bool:  # the sampler writes every 20 ms
        return any(" push " in line and dst.url in line for line in pair.ps.lines)

    wait_for(push_sampled, 5, lambda: f"ps to show the sync's push ({pair.ps.samples} samples)")
    ps_lines = pair.ps.lines
    seen = [line for line in ps_lines if " push " in line and dst.url in line]
    assert seen, f"ps never showed the sync's push ({pair.ps.samples} samples)"
    assert not [line for line in ps_lines if key in line]


def test_user_without_write_rights_fails_with_the_targets_message(pair: Pair) -> None:
    src, dst = pair.src, pair.dst
    model = "sync/ro"
    dst.model(model)
    dst.cli("grant", model, "reader", "user")
    src.model(model)
    repo = pair.work / "ro"
    git("clone", "-q", src.clone_url(model, "owner"), str(repo))
    commit_file(repo, "README.md", "# ro\n")
    git("push", "-q", "origin", "main", cwd=repo)

    said = dst.http("GET", f"/{model}.git/info/refs?service=git-receive-pack",
                    key=pair.reader_key)
    assert said.status == 403
    expected = " ".join(said.body.decode().split())
    code, _, err = src.cli("sync", "start", model, "--region", "eu-ro", "--wait", ok=False)
    assert code == 1
    row = tasks(src, model)[0]
    assert row["status"] == "failed"
    assert row["error"] == f"region eu-ro refused: {expected}"
    assert expected in " ".join(err.split())
    assert pair.reader_key not in json.dumps(row) + err
    heads = git("ls-remote", dst.clone_url(model, "owner"), "refs/heads/*").stdout
    assert first_commit(dst, model) == first_commit(src, model)
    assert heads.split() == [first_commit(dst, model), "refs/heads/main"]  # only its own


def test_the_targets_push_checks_apply_and_their_message_is_the_error(pair: Pair) -> None:
    """The target's pre-receive (here its space quota) refuses the push: its ``remote:``
    lines become the task's one-line error, and no ref moves there."""
    src, dst = pair.src, pair.dst
    model = "synctiny/q"
    dst.user("owner", admin=True)
    dst.cli("space", "create", "synctiny", "--owner", "owner", "--quota", "1MB")
    dst.cli("model", "create", model, "--owner", "owner")
    dst.cli("grant", model, "replicator", "developer")
    src.model(model)
    repo = pair.work / "tiny"
    git("clone", "-q", src.clone_url(model, "owner"), str(repo))
    commit_file(repo, "raw.dat", os.urandom(1_500_000), "a plain blob over the target's quota")
    git("push", "-q", "origin", "main", cwd=repo)

    code, _, err = src.cli("sync", "start", model, "--region", "eu", "--wait", ok=False)
    assert code == 1 and "space quota exceeded" in err
    row = tasks(src, model)[0]
    assert row["status"] == "failed"
    assert row["error"].startswith(f"region eu refused the push: modelgit: push to {model}"
                                   " refused: space quota exceeded")
    assert "\n" not in row["error"]
    heads = git("ls-remote", dst.clone_url(model, "owner"), "refs/heads/*").stdout
    assert heads.split() == [first_commit(dst, model), "refs/heads/main"]  # only its own


def test_missing_target_model_says_to_create_it_there(pair: Pair) -> None:
    src = pair.src
    model = "sync/nowhere"
    src.model(model)
    repo = pair.work / "nowhere"
    git("clone", "-q", src.clone_url(model, "owner"), str(repo))
    sha = commit_file(repo, "README.md", "# nowhere\n")
    git("push", "-q", "origin", "main", cwd=repo)

    code, _, err = src.cli("sync", "start", model, "--region", "eu", "--commit", sha,
                           "--wait", ok=False)
    assert code == 1
    row = tasks(src, model)[0]
    assert row["status"] == "failed" and row["ref"] == f"refs/heads/sync/{sha}"
    assert f"model {model} does not exist on region eu" in row["error"]
    assert "create it there first" in row["error"]

    # Mistakes in the request itself are refused at once, with no task made.
    for args, said in ((["--region", "mars"], "unknown region 'mars'"),
                       (["--region", "eu", "--ref", "nope"], "no branch or tag 'nope'"),
                       (["--region", "eu", "--commit", "f" * 40], "is not in sync/nowhere")):
        code, _, err = src.cli("sync", "start", model, *args, ok=False)
        assert code == 1 and said in err, err
    assert len(tasks(src, model)) == 1


def test_worker_claims_a_task_once(tmp_path: Path) -> None:
    """Two workers racing on one queue: the conditional UPDATE gives each task to one."""
    site = make_site(tmp_path)
    site.model("sync/claims")
    store = site.store()
    ids = [store.add_task("sync", "sync/claims", "refs/heads/main", "0" * 40, region="eu")
           for _ in range(30)]
    got: list[list[int]] = [[], [], []]

    def claim(slot: int) -> None:
        mine = site.store()
        while (task := mine.claim_task(f"w{slot}", 60)) is not None:
            got[slot].append(task["id"])
        mine.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got[0] + got[1] + got[2]) == ids
    assert store.claim_task("late", 60) is None
    # A running task is not retryable while its lease holds; one whose lease ran out is.
    assert not store.requeue_task(ids[0])
    with store.tx() as c:
        c.execute("UPDATE tasks SET lease_until = ? WHERE id = ?", (time.time() - 1, ids[0]))
    assert store.requeue_task(ids[0])
    assert store.get_task(ids[0])["status"] == "queued"
