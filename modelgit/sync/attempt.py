"""Running a sync task: claim it, hold its lease, run one attempt and record ``done`` or
``failed`` (fenced by the claim token) with an audit entry.

Tasks are rows of the store's task table (:mod:`modelgit.tasks`), so any front end's worker
may run one; ``sync start --wait`` runs it in the foreground through :func:`run_task`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from modelgit.errors import Refused
from modelgit.sync.failure import SyncFailure, one_line, scrub
from modelgit.sync.manage import task_view
from modelgit.sync.runner import Lost, Progress, Runner

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store

log = logging.getLogger("modelgit.sync")


def new_worker_token() -> str:
    """A claim token (``modelgit.tasks.new_token``)."""
    from modelgit.tasks import new_token

    return new_token()


def run_task(cfg: Config, store: Store, task_id: int, progress: Progress | None = None, *,
             worker: str | None = None) -> dict[str, Any]:
    """Run one task to ``done`` or ``failed`` in this process and return its row.

    A ``queued`` task is claimed first (atomically: if another worker got it, ``Refused``);
    a ``running`` one only with its claim token ``worker`` (as ``sync start --wait`` passes
    it). The lease is renewed while it runs. Failures are recorded, not raised.
    """
    from modelgit import tasks

    task = store.get_task(task_id, "sync")
    if task is None:
        raise Refused(f"no sync task {task_id}", hint="see `modelgit sync list`", status=404)
    if task["status"] == "queued" and worker is None:
        worker = new_worker_token()
        claimed = store.claim_task(worker, tasks.LEASE_SECONDS, task_id=task_id)
        if claimed is None:
            raise Refused(f"sync task {task_id} was just claimed by another worker")
        task = claimed
    elif task["status"] != "running" or worker is None or task["worker"] != worker:
        raise Refused(f"sync task {task_id} is {task['status']}"
                      + (" elsewhere" if task["status"] == "running" else ""),
                      hint=f"`modelgit sync retry {task_id}` re-runs a failed task")
    lease = tasks.Lease(_own_store(store), task_id, worker)
    lease.start()
    try:
        _attempt(cfg, store, task, worker, progress)
    except tasks.LeaseLost:
        pass
    finally:
        lease.stop()
    return task_view(store.get_task(task_id) or task)


def run_claimed(cfg: Config, store: Store, task: dict[str, Any], lease: Any) -> None:
    """The task worker's handler (``modelgit.tasks``): one attempt, its outcome recorded."""
    _attempt(cfg, store, task, str(task["worker"]), None)


def _own_store(store: Store) -> Store:
    from modelgit.store import Store as StoreClass

    return StoreClass(store.path)


def _attempt(cfg: Config, store: Store, task: dict[str, Any], worker: str,
             progress: Progress | None) -> None:
    """Run the claimed task; record ``done`` or ``failed`` (fenced by ``worker``) and audit
    it. ``LeaseLost`` when another worker took the task over meanwhile."""
    from modelgit.store import now_iso
    from modelgit.tasks import LeaseLost

    task_id = int(task["id"])
    runner = Runner(cfg, store, task, worker, progress)
    outcome = "failed"
    try:
        runner.run()
        outcome = "done"
        if not store.update_task(task_id, worker, status="done", finished=now_iso(),
                                 error=None, objects_sent=runner.state["objects_sent"],
                                 bytes_sent=runner.state["bytes_sent"]):
            raise Lost
        store.record_replica(task["model"], task["region"], task["ref"],
                             task["commit_sha"], task_id)
    except Lost:
        log.warning("sync task %s was taken over by another worker; this attempt stops",
                    task_id)
        raise LeaseLost from None
    except SyncFailure as exc:
        _fail(store, task_id, worker, scrub(exc.message, runner.key), runner)
    except KeyboardInterrupt:
        # Ctrl-C on `sync --wait`: retryable now, not when the lease runs out.
        _fail(store, task_id, worker, f"interrupted; `modelgit sync retry {task_id}` runs"
                                      " it again", runner)
        raise
    except Exception as exc:
        import traceback

        # The traceback is formatted here so that it is scrubbed like every message.
        log.error("sync task %s failed unexpectedly:\n%s", task_id,
                  scrub(traceback.format_exc(), runner.key))
        _fail(store, task_id, worker,
              scrub(f"internal error: {type(exc).__name__}: {one_line(str(exc))}"
                    " (details in the log)", runner.key), runner)
    row = store.get_task(task_id) or task
    store.audit(f"sync.{outcome if row['status'] == 'done' else 'failed'}", actor="sync",
                target=task["model"],
                detail={"task": task_id, "region": task["region"], "ref": task["ref"],
                        "commit": task["commit_sha"], "objects_sent": row["objects_sent"],
                        "bytes_sent": row["bytes_sent"], "error": row["error"]})
    if row["status"] == "done":
        log.info("sync task %s: done, %s of %s LFS objects sent (%s bytes)", task_id,
                 row["objects_sent"], row["objects_total"], row["bytes_sent"])
    else:
        log.warning("sync task %s: %s: %s", task_id, row["status"], row["error"])


def _fail(store: Store, task_id: int, worker: str, message: str, runner: Runner) -> None:
    from modelgit.store import now_iso

    store.update_task(task_id, worker, status="failed", finished=now_iso(),
                      error=one_line(message),
                      objects_sent=runner.state["objects_sent"],
                      bytes_sent=runner.state["bytes_sent"],
                      objects_total=runner.state["objects_total"],
                      bytes_total=runner.state["bytes_total"])
