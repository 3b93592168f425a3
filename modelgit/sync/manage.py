"""Sync tasks as the CLI and ``model show`` see them: create (checked now, so a mistake is an
immediate error, not a failed task later), retry, list, and where a model is replicated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelgit.errors import Refused
from modelgit.sync.plan import resolve
from modelgit.sync.regions import get_region

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store


def create_task(cfg: Config, store: Store, model_id: str, region: str, *,
                ref: str | None = None, commit: str | None = None,
                worker: str | None = None) -> int:
    """Check the model, region and revision now and add the task: queued, or claimed by
    ``worker`` for a foreground run."""
    from modelgit.tasks import LEASE_SECONDS

    model = store.get_model(model_id)
    if model is None:
        raise Refused(f"unknown model {model_id!r}", hint="see `modelgit model list`",
                      status=404)
    get_region(cfg, region)
    full_ref, sha = resolve(cfg, model, ref=ref, commit=commit)
    return store.add_task("sync", model_id, full_ref, sha, region=region, worker=worker,
                          lease_seconds=LEASE_SECONDS)


def retry_task(store: Store, task_id: int, *, worker: str | None = None) -> None:
    """Queue a failed (or abandoned) task again, or claim it for ``worker`` (foreground)."""
    from modelgit.tasks import LEASE_SECONDS

    task = store.get_task(task_id, "sync")
    if task is None:
        raise Refused(f"no sync task {task_id}", hint="see `modelgit sync list`", status=404)
    if not store.requeue_task(task_id, worker=worker, lease_seconds=LEASE_SECONDS, kind="sync"):
        status = task["status"]
        hint = {"done": "it succeeded; `modelgit sync start` sends newer commits",
                "queued": "it is waiting for `modelgit serve`'s worker",
                "running": "it is running (its worker renews its lease; a worker that"
                           f" stopped loses it within {LEASE_SECONDS:.0f} s)"
                }.get(status, "look at it with `modelgit sync list`")
        raise Refused(f"sync task {task_id} is {status}; only failed or interrupted tasks"
                      " can be retried", hint=hint)


def task_view(row: dict[str, Any]) -> dict[str, Any]:
    """A task as people and scripts see it (the claim token and lease stay inside)."""
    return {"id": row["id"], "model": row["model"], "region": row["region"],
            "ref": row["ref"], "commit": row["commit_sha"], "status": row["status"],
            "objects_sent": row["objects_sent"], "objects_total": row["objects_total"],
            "bytes_sent": row["bytes_sent"], "bytes_total": row["bytes_total"],
            "attempts": row["attempts"], "created": row["created"], "started": row["started"],
            "finished": row["finished"], "error": row["error"]}


def list_tasks(store: Store, model_id: str | None = None, limit: int = 200
               ) -> list[dict[str, Any]]:
    """Tasks newest first."""
    return [task_view(r) for r in store.list_tasks("sync", model_id, limit=limit)]


def replicas(store: Store, model_id: str) -> list[dict[str, Any]]:
    """Where the model is replicated: region, ref, commit and time of the last success
    (for ``model show``)."""
    return [{"region": r["region"], "ref": r["ref"], "commit": r["commit_sha"],
             "synced": r["synced"], "task": r["task"]}
            for r in store.list_replicas(model_id)]
