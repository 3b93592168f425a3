"""Stored scan results as people read them: the latest scans of a commit, their findings and
counts by severity. ``model show``, ``scan show`` and any later page read the same summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelgit.store import Store


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
