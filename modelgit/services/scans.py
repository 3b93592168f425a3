"""Stored scan results as people read them: the latest scans of a commit, their findings and
counts by severity. ``model show``, ``scan show`` and any later page read the same summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelgit.errors import NotFound

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store

#: Scan tasks listed on a model's scan page (newest first).
RECENT_TASKS = 20


def summary(store: Store, model_id: str, commit: str | None) -> dict[str, Any]:
    """The latest scan of each scanner at ``commit`` (None: the last scanned commit), with
    every finding named by its scanner and the counts by severity."""
    scans = store.latest_scans(model_id, commit)
    findings = store.scan_findings([s["id"] for s in scans])
    by_scan = {s["id"]: s["scanner"] for s in scans}
    counts: dict[str, int] = {}
    for f in findings:
        f["scanner"] = by_scan.get(f.pop("scan"), "?")
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return {"model": model_id, "commit": scans[0]["commit_sha"] if scans else commit,
            "scans": [{k: s[k] for k in ("scanner", "status", "started", "finished", "error",
                                         "findings")} for s in scans],
            "counts": counts, "findings": findings}


def queue(store: Store, cfg: Config, model_id: str, rev: str, *, actor: str,
          address: str | None = None) -> tuple[int, str]:
    """Queue a scan of the whole tree at ``rev`` (a branch, tag or reachable commit) for the
    task worker, never on the asker's time; (task id, commit id). Audited."""
    from modelgit import tasks
    from modelgit.git import revisions
    from modelgit.git.errors import RepositoryNotFound, RevisionNotFound
    from modelgit.git.repo import open_model

    try:
        commit = str(revisions.resolve(open_model(cfg, model_id), rev, reachable_only=True).id)
    except (RepositoryNotFound, RevisionNotFound):
        raise NotFound(f"{model_id} has no branch, tag or commit {rev[:100]!r}",
                       hint="pick one of the model's branches or tags") from None
    [task_id] = tasks.queue_scans(store, model_id, [(rev, None, commit)])
    tasks.wake()
    store.audit("scan.queue", actor=actor, target=model_id, address=address,
                detail={"rev": rev, "commit": commit, "task": task_id})
    return task_id, commit


def recent_tasks(store: Store, model_id: str) -> list[dict[str, Any]]:
    """The model's latest scan tasks (queued, running, done, failed), newest first."""
    return [{k: t.get(k) for k in ("id", "ref", "commit_sha", "status", "created", "started",
                                   "finished", "error")}
            for t in store.list_tasks("scan", model_id, limit=RECENT_TASKS)]
