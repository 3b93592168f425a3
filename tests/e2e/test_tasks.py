"""Background tasks live in the store: queued work survives having no server, and a task
whose worker died is taken over by the next one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from modelgit.store import Store
from tests.conftest import Site, commit_file, git, make_site


def _wait_task(store: Store, task_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = store.get_task(task_id)
        assert row is not None
        if row["status"] in ("done", "failed"):
            return row
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish: {store.get_task(task_id)}")


def _offline_push(site: Site, tmp_path: Path, model: str) -> str:
    """A push straight into the bare repository, with no server: the hooks run cold."""
    bare = site.data / "repos" / f"{model}.git"
    repo = tmp_path / "clone"
    git("clone", "-q", str(bare), str(repo))
    commit_file(repo, "settings.py", "import subprocess\nsubprocess.call('ls', shell=True)\n")
    git("push", "-q", "origin", "main", cwd=repo, env={"MODELGIT_USER": "owner"})
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def test_scan_queued_without_a_server_runs_when_one_starts(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.user("owner", admin=True)
    model = site.model("tasks/offline")
    commit = _offline_push(site, tmp_path, model)
    store = site.store()
    queued = store.list_tasks("scan", model)
    assert [(t["status"], t["commit_sha"]) for t in queued] == [("queued", commit)]
    assert "wait in the task queue" in (site.data / "log" / "hooks.log").read_text()
    assert store.latest_scans(model) == []
    # gc is a task too, queued once however many pushes wait for it; receive-pack runs none.
    bare = site.data / "repos" / f"{model}.git"
    assert git("config", "--file", str(bare / "config"), "receive.autogc").stdout.strip() \
        == "false"
    (gc,) = store.list_tasks("gc", model)
    repo = tmp_path / "clone"
    commit_file(repo, "more.txt", "more")
    git("push", "-q", "origin", "main", cwd=repo, env={"MODELGIT_USER": "owner"})
    assert [t["id"] for t in store.list_tasks("gc", model)] == [gc["id"]]
    queued = store.list_tasks("scan", model)[-1:]

    site.start()
    try:
        row = _wait_task(store, queued[0]["id"])
        assert _wait_task(store, gc["id"])["status"] == "done"
    finally:
        site.stop()
    assert row["status"] == "done" and row["attempts"] == 1, row
    scans = {s["scanner"]: s for s in store.latest_scans(model, commit)}
    assert set(scans) == {"secrets", "bandit", "pickles"}
    assert scans["bandit"]["status"] == "done" and scans["bandit"]["findings"] >= 1


def test_a_lease_held_by_a_dead_worker_is_taken_over(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.user("owner", admin=True)
    model = site.model("tasks/dead")
    commit = _offline_push(site, tmp_path, model)
    store = site.store()
    (task,) = store.list_tasks("scan", model)
    # A worker claimed it, then died: its lease runs out and nobody renews it.
    claimed = store.claim_task("dead-host:1:gone", 0.5, task_id=task["id"])
    assert claimed is not None and claimed["status"] == "running"
    assert store.claim_task("other", 60, task_id=task["id"]) is None  # the lease still holds
    time.sleep(0.6)

    site.start()
    try:
        row = _wait_task(store, task["id"])
    finally:
        site.stop()
    assert row["status"] == "done" and row["attempts"] == 2, row
    assert row["worker"] != "dead-host:1:gone"
    # The dead worker's late writes are fenced off.
    assert not store.update_task(task["id"], "dead-host:1:gone", status="failed")
    assert {s["scanner"] for s in store.latest_scans(model, commit)} == {"secrets", "bandit",
                                                                        "pickles"}


def test_a_task_that_keeps_losing_its_worker_fails(tmp_path: Path) -> None:
    """Taken over too often (it may be what kills its workers): failed, not run again."""
    site = make_site(tmp_path)
    site.user("owner", admin=True)
    model = site.model("tasks/cursed")
    store = site.store()
    task_id = store.add_task("scan", model, "refs/heads/main", "1" * 40)
    for attempt in range(3):
        assert store.claim_task(f"w{attempt}", -1, max_attempts=3) is not None
    assert store.claim_task("w3", 60, max_attempts=3) is None
    row = store.get_task(task_id)
    assert row is not None and row["status"] == "failed" and "abandoned" in row["error"]


def test_stopping_server_gives_its_task_back(tmp_path: Path) -> None:
    """A worker that stops hands its task back at once (no wait for the lease)."""
    from modelgit import config as config_mod
    from modelgit.tasks import Worker

    site = make_site(tmp_path)
    site.user("owner", admin=True)
    model = site.model("tasks/release")
    store = site.store()
    task_id = store.add_task("scan", model, "refs/heads/main", "1" * 40)
    worker = Worker(config_mod.load(site.data))
    claimed = store.claim_task("me", 60, task_id=task_id)
    assert claimed is not None
    worker.current = (task_id, "me")
    worker.release()
    row = store.get_task(task_id)
    assert row is not None and row["status"] == "queued" and row["worker"] is None


def test_two_front_ends_share_one_queue(tmp_path: Path) -> None:
    """Two servers over one data folder: the tasks queued while both run are each done once,
    and a task queued while only the second runs is done by it."""
    from tests.conftest import free_port

    site = make_site(tmp_path)
    site.user("owner", admin=True)
    model = site.model("tasks/shared")
    commit = _offline_push(site, tmp_path, model)
    store = site.store()
    second = Site(data=site.data, port=free_port())
    site.start()
    second.start()
    try:
        ids = [store.add_task("scan", model, "refs/heads/main", commit) for _ in range(6)]
        rows = [_wait_task(store, i) for i in ids]
        assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows), rows
        site.stop()
        late = store.add_task("scan", model, "refs/heads/main", commit)
        row = _wait_task(store, late)
        assert row["status"] == "done" and row["attempts"] == 1, row
        assert row["worker"].split(":")[1] == str(second.proc.pid)  # type: ignore[union-attr]
    finally:
        second.stop()
        site.stop()


def test_finished_scan_and_gc_tasks_are_pruned_sync_tasks_kept(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.user("owner", admin=True)
    model = site.model("tasks/prune")
    store = site.store()
    ids = {kind: store.add_task(kind, model, "refs/heads/main", "1" * 40, region="eu")
           for kind in ("scan", "gc", "sync")}
    fresh = store.add_task("scan", model, "refs/heads/main", "2" * 40)
    with store.tx() as c:
        c.execute("UPDATE tasks SET status = 'done', finished = '2020-01-01T00:00:00.000Z'"
                  " WHERE id IN (?, ?, ?)", tuple(ids.values()))
    assert store.prune_tasks(("scan", "gc"), "2021-01-01T00:00:00.000Z") == 2
    left = {t["id"] for t in store.list_tasks(model_id=model)}
    assert left == {ids["sync"], fresh}
