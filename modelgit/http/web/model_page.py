"""``/-/m/<space>/<model>``: a model - its card (rendered and sanitised), the card's metadata,
files and folders at a branch, tag or commit (``?rev=&path=``) with sizes, LFS marks and
download links, branches and tags, the latest commits, how to use it, and the scan status
of each file. ``.../commits?rev=&page=`` lists the history.

Access is ``decide()``'s ``view``, as for the hub's model info and tree: a model the person
may not see is the very page of a model that does not exist. Downloads go through
``.../download?rev=&path=`` (``download.py``: the session's ``read`` right, gating included),
not through the hub's Basic-authenticated ``/resolve/``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pygit2
from markupsafe import Markup

from modelgit.errors import Forbidden, NotFound
from modelgit.git import revisions, trees
from modelgit.git.errors import RepositoryNotFound, RevisionNotFound
from modelgit.git.repo import open_model
from modelgit.http.request import model_of
from modelgit.http.responses import Response
from modelgit.http.web.cardhtml import card_html
from modelgit.http.web.context import Page
from modelgit.schema.summary import card_index
from modelgit.services import models, scans
from modelgit.units import human_size
from modelgit.urls import clone_url, site_url

#: Largest README rendered on the page.
MAX_README_BYTES = 1024 * 1024
#: Entries of one folder shown at most (a folder of more is cut, with a note).
MAX_ENTRIES = 1000
#: Commits on the model page, and per page of the history.
RECENT_COMMITS = 5
COMMITS_PAGE = 30
MAX_COMMIT_PAGE = 1000


def not_found(model_id: str) -> NotFound:
    """One text for a missing model and for one the person may not see."""
    return NotFound(f"There is no model {model_id} here, or you may not see it.",
                    hint="Check the name; if it is private, sign in or ask its owner for"
                         " access.")


def require_view(pg: Page, model_id: str) -> dict[str, Any]:
    decision, _facts = pg.host.model_decision(pg.req, model_id, "view")
    if not decision.allowed:
        if decision.status in (401, 404):
            raise not_found(model_id)
        raise Forbidden(pg.host.explain(decision, model_id, pg.req).reason)
    try:
        return models.require(pg.host.store, model_id)
    except NotFound:
        raise not_found(model_id) from None


def open_repo(pg: Page, model_id: str) -> pygit2.Repository:
    try:
        return open_model(pg.host.cfg, model_id)
    except RepositoryNotFound:
        raise NotFound(f"model {model_id} has no repository on this server",
                       hint="ask a site admin to check the data folder") from None


def commit_at(repo: pygit2.Repository, model: dict[str, Any], rev: str
               ) -> pygit2.Commit | None:
    """The commit to show: ``rev`` (branch, tag or reachable commit id), else the default
    branch's tip; None for an empty repository."""
    if not rev:
        return revisions.ref_commit(repo, f"refs/heads/{model['default_branch']}")
    try:
        return revisions.resolve(repo, rev, reachable_only=True)
    except RevisionNotFound:
        raise NotFound(f"{rev[:100]!r} is not a branch, a tag or a commit of {model['id']}",
                       hint="pick a branch or tag from the model's page") from None


def clean_path(path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    if any(p in (".", "..") for p in parts) or len(path) > 4096:
        raise NotFound("no such folder")
    return "/".join(parts)


def download_url(model_id: str, rev: str, path: str) -> str:
    """The page route of one file at a revision (``download.py``): the session decides, so a
    signed-in person gets a private or gated file without the browser's password prompt."""
    return f"/-/m/{model_id}/download?" + urlencode({"rev": rev, "path": path})


def _entries(repo: pygit2.Repository, tree: pygit2.Tree, folder: str, model_id: str,
             rev: str, findings: dict[str, list[dict[str, Any]]]
             ) -> tuple[list[dict[str, Any]], bool]:
    out: list[dict[str, Any]] = []
    for entry in tree:
        if len(out) == MAX_ENTRIES:
            return out, True
        if entry.filemode == trees.GITLINK_MODE:
            continue
        path = f"{folder}/{entry.name}" if folder else str(entry.name)
        if entry.filemode == trees.TREE_MODE:
            out.append({"name": entry.name, "path": path, "folder": True,
                        "href": f"/-/m/{model_id}?" + urlencode({"rev": rev, "path": path})})
            continue
        meta = trees.file_meta(repo, entry.id)
        size = meta.pointer.size if meta.pointer else meta.size
        found = findings.get(path, [])
        out.append({"name": entry.name, "path": path, "folder": False,
                    "size": human_size(size), "lfs": meta.pointer is not None,
                    "href": download_url(model_id, rev, path), "findings": found})
    out.sort(key=lambda e: (not e["folder"], str(e["name"]).lower()))
    return out, False


def _commit_row(commit: pygit2.Commit) -> dict[str, Any]:
    from datetime import UTC, datetime

    message = commit.message.strip()
    return {"id": str(commit.id), "short": str(commit.id)[:10],
            "title": message.splitlines()[0] if message else "(no message)",
            "author": commit.author.name,
            "date": datetime.fromtimestamp(commit.commit_time, UTC).strftime("%Y-%m-%d %H:%M")}


def _metadata(index: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str]]:
    """The card's facts as (label, text) rows, in the order people look for them."""
    rows: list[tuple[str, str]] = []

    def add(label: str, value: object) -> None:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if v not in (None, ""))
        if value not in (None, "", []):
            rows.append((label, str(value)))

    add("Framework", index.get("frameworks"))
    add("Job type", " / ".join(str(v) for v in (index.get("task_type"),
                                                index.get("task_algorithm")) if v))
    add("Task (pipeline)", index.get("pipeline_tag"))
    params = index.get("parameters")
    add("Parameters", f"{params:,}" if isinstance(params, int) else None)
    add("License", index.get("license"))
    add("Training data", index.get("datasets"))
    add("Base model", index.get("base_model"))
    add("Industry", index.get("industry"))
    add("Tags", index.get("tags"))
    add("Language", data.get("language"))
    return rows


def _card_data(repo: pygit2.Repository, commit: pygit2.Commit | None
               ) -> tuple[dict[str, Any], str]:
    """(front matter, README text) at the commit; ({}, "") without a README."""
    from modelgit.schema import parse_front_matter

    if commit is None:
        return {}, ""
    raw = trees.read_file(repo, commit.tree, "README.md", MAX_README_BYTES)
    if raw is None:
        return {}, ""
    data = parse_front_matter(raw).data
    return (data if isinstance(data, dict) else {}), raw.decode("utf-8", "replace")


def _scan_view(pg: Page, model_id: str, commit: pygit2.Commit | None
               ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    if commit is None:
        return {"scans": [], "findings": [], "counts": {}}, {}
    summary = scans.summary(pg.host.store, model_id, str(commit.id))
    by_path: dict[str, list[dict[str, Any]]] = {}
    for f in summary["findings"]:
        # A finding's message names the kind of secret and never the secret itself; the
        # page shows the scanner's words and nothing read from the file.
        by_path.setdefault(f["path"], []).append(
            {"scanner": f["scanner"], "rule": f["rule"], "line": f["line"],
             "severity": f["severity"], "message": f["message"]})
    return summary, by_path


def _snippets(pg: Page, model_id: str, rev: str, task: str) -> dict[str, str]:
    site = site_url(pg.host.cfg, pg.req.environ)
    user = pg.user or "YOUR_USER_NAME"
    clone = clone_url(pg.host.cfg, model_id, pg.req.environ)
    revision = f', revision="{rev}"' if rev else ""
    js_task = task or "feature-extraction"
    return {
        "git": f"git clone {clone}\n# user name: {user}, password: your modelgit key",
        "python": (f"# export HF_ENDPOINT={site} HF_TOKEN=<your modelgit key>\n"
                   "from huggingface_hub import snapshot_download\n\n"
                   f'folder = snapshot_download("{model_id}"{revision})'),
        "js": ('import { pipeline, env } from "@huggingface/transformers";\n\n'
               f'env.remoteHost = "{site}/";\n'
               "env.allowLocalModels = false;\n"
               "// for a private or gated model, add your key with env.fetch (see the README)\n"
               f'const pipe = await pipeline("{js_task}", "{model_id}");'),
    }


def model_page(pg: Page, match: re.Match[str]) -> Response:
    model_id = model_of(match)
    model = require_view(pg, model_id)
    repo = open_repo(pg, model_id)
    rev = (pg.req.arg("rev") or "").strip()
    commit = commit_at(repo, model, rev)
    shown_rev = rev or model["default_branch"]
    folder = clean_path(pg.req.arg("path") or "")
    data, readme = _card_data(repo, commit)
    index = card_index(data)
    summary, by_path = _scan_view(pg, model_id, commit)
    entries: list[dict[str, Any]] = []
    cut = False
    if commit is not None:
        tree = commit.tree
        if folder:
            entry = trees.lookup(commit.tree, folder)
            if entry is None or entry.filemode != trees.TREE_MODE:
                raise NotFound(f"there is no folder {folder!r} at {shown_rev}")
            tree = repo[entry.id].peel(pygit2.Tree)
        entries, cut = _entries(repo, tree, folder, model_id, shown_rev, by_path)
    crumbs = []
    if folder:
        parts = folder.split("/")
        for i, name in enumerate(parts):
            crumbs.append({"name": name, "href": f"/-/m/{model_id}?" + urlencode(
                {"rev": shown_rev, "path": "/".join(parts[:i + 1])})})
    recent = []
    if commit is not None:
        for n, c in enumerate(repo.walk(commit.id)):
            if n == RECENT_COMMITS:
                break
            recent.append(_commit_row(c))
    read_decision, _ = pg.host.model_decision(pg.req, model_id, "read")
    gate_note = ""
    if not read_decision.allowed:
        gate_note = pg.host.explain(read_decision, model_id, pg.req).reason
    return pg.render(
        "model.html", title=model_id, model=model, model_id=model_id, rev=shown_rev,
        commit=_commit_row(commit) if commit else None, folder=folder, crumbs=crumbs,
        entries=entries, cut=cut, refs=revisions.list_refs(repo),
        # card_html() is nh3-sanitised: the one place the markup of a card reaches a page.
        card=Markup(card_html(readme)) if readme and not folder else "",  # noqa: S704 # nosec B704
        metadata=_metadata(index, data), performance=index.get("performance") or [],
        recent=recent, scan=summary, snippets=_snippets(pg, model_id, rev, str(
            index.get("pipeline_tag") or "")),
        can_read=read_decision.allowed, gate_note=gate_note,
        private=model["visibility"] != "public", gated=model["gated"] != "off")


def commits_page(pg: Page, match: re.Match[str]) -> Response:
    model_id = model_of(match)
    model = require_view(pg, model_id)
    repo = open_repo(pg, model_id)
    rev = (pg.req.arg("rev") or "").strip()
    commit = commit_at(repo, model, rev)
    shown_rev = rev or model["default_branch"]
    page_text = pg.req.arg("page") or "1"
    page = int(page_text) if page_text.isdecimal() and len(page_text) < 5 else 1
    page = min(max(page, 1), MAX_COMMIT_PAGE)
    rows: list[dict[str, Any]] = []
    more = False
    if commit is not None:
        first = (page - 1) * COMMITS_PAGE
        for n, c in enumerate(repo.walk(commit.id)):
            if n < first:
                continue
            if len(rows) == COMMITS_PAGE:
                more = True
                break
            rows.append(_commit_row(c))
    return pg.render("commits.html", title=f"History of {model_id}", model_id=model_id,
                     rev=shown_rev, rows=rows, page=page, more=more,
                     refs=revisions.list_refs(repo))
