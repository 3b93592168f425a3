"""services.scans: the summary ``model show`` and ``scan show`` print, from stored scans."""

from __future__ import annotations

from modelgit.services import models, scans
from tests.services.conftest import Hub

A, B = "a" * 40, "b" * 40


def finding(path: str, severity: str, commit: str) -> dict[str, object]:
    return {"path": path, "line": 1, "rule": "r", "severity": severity, "confidence": "HIGH",
            "message": "m", "commit": commit}


def test_summary_of_the_latest_scans(hub: Hub) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    assert scans.summary(hub.store, "acme/m", None) == {
        "model": "acme/m", "commit": None, "scans": [], "counts": {}, "findings": []}
    old = hub.store.start_scan("acme/m", "main", A, "secrets")
    hub.store.finish_scan(old, [finding("x.py", "HIGH", A)])
    for scanner, found in (("code", [finding("a.py", "LOW", B), finding("b.py", "HIGH", B)]),
                           ("secrets", [])):
        hub.store.finish_scan(hub.store.start_scan("acme/m", "main", B, scanner), found)
    latest = scans.summary(hub.store, "acme/m", None)
    assert latest["commit"] == B
    assert [(s["scanner"], s["status"], s["findings"]) for s in latest["scans"]] == [
        ("code", "done", 2), ("secrets", "done", 0)]
    assert latest["counts"] == {"LOW": 1, "HIGH": 1}
    assert {f["scanner"] for f in latest["findings"]} == {"code"}
    first = scans.summary(hub.store, "acme/m", A)
    assert first["counts"] == {"HIGH": 1} and first["findings"][0]["scanner"] == "secrets"
