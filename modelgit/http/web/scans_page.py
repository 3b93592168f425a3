"""``/-/m/<space>/<model>/scans?rev=``: the security scan of a branch, tag or commit - each
scanner's status, the findings by file (the scanner's words: a secret's kind and line, never
its value; pickle globals by name), the model's recent scan tasks (queued, running, done,
failed), and for maintainers a form that queues a scan of a chosen revision for the task
worker (:func:`modelgit.services.scans.queue`): the page never waits for a scan.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from modelgit.errors import NotFound
from modelgit.git import revisions
from modelgit.git.errors import RepositoryNotFound, RevisionNotFound
from modelgit.git.repo import open_model
from modelgit.http.responses import Response
from modelgit.http.web.context import Page
from modelgit.http.web.manage import model_view, short_time
from modelgit.services import scans


def scans_page(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match)
    rev = (pg.req.arg("rev") or "").strip()[:200] or str(mv.row["default_branch"])
    refs: list[Any] = []
    commit = None
    try:
        repo = open_model(pg.host.cfg, mv.id)
        refs = revisions.list_refs(repo)
        commit = str(revisions.resolve(repo, rev, reachable_only=True).id)
    except RepositoryNotFound:
        pass
    except RevisionNotFound:
        if pg.req.arg("rev"):
            raise NotFound(f"{rev!r} is not a branch, a tag or a commit of {mv.id}",
                           hint="pick one from the list") from None
    summary = scans.summary(pg.host.store, mv.id, commit) if commit else None
    by_file: dict[str, list[dict[str, Any]]] = {}
    for f in (summary or {}).get("findings", []):
        by_file.setdefault(f["path"], []).append(
            {"scanner": f["scanner"], "rule": f["rule"], "line": f["line"],
             "severity": f["severity"], "message": f["message"]})
    tasks = [{**t, "created": short_time(t["created"]), "finished": short_time(t["finished"]),
              "short": str(t["commit_sha"] or "")[:10]}
             for t in scans.recent_tasks(pg.host.store, mv.id)]
    running = any(t["status"] in ("queued", "running") for t in tasks)
    queued = pg.req.arg("queued") or ""
    return pg.render("scans.html", title=f"Scans of {mv.id}", **mv.tabs(), rev=rev,
                     commit=commit, refs=refs, summary=summary, by_file=sorted(by_file.items()),
                     tasks=tasks, running=running,
                     message=f"Scan of {queued[:100]} queued." if queued else "")


def run_scan(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    rev = pg.form.get("rev", "").strip() or str(mv.row["default_branch"])
    scans.queue(pg.host.store, pg.host.cfg, mv.id, rev, actor=str(pg.user),
                address=pg.req.remote_addr)
    return pg.redirect(f"/-/m/{mv.id}/scans?" + urlencode({"rev": rev, "queued": rev}))
