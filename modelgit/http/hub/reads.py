"""The read side of the hub API: who am I, model info, tree, refs and paths-info."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

import pygit2

from modelgit.git import revisions, trees
from modelgit.http.hub.cards import card_json, front_matter, siblings_of, summary_of, with_expand
from modelgit.http.hub.common import (
    _TRUE,
    MAX_PATHS,
    MAX_SMALL_BODY,
    TREE_PAGE,
    TREE_PAGE_EXPANDED,
    HubError,
    allow,
    default_commit,
    entry_json,
    flag,
    iso,
    json_body,
    open_repo,
    resolve_revision,
    rev_only,
    small_body,
    tail,
    with_last_commits,
)
from modelgit.http.request import (
    MAX_INT_ARG,
    base_url,
    int_arg,
    model_of,
)
from modelgit.http.responses import (
    Response,
    json_response,
)
from modelgit.hubcommit import clean_path
from modelgit.services import xet as xet_service

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


def whoami(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Who the key belongs to, its scope, and the spaces the user has a role in."""
    user = req.subject.user
    if user is None:
        raise HubError(401, "Invalid credentials in Authorization header: send a modelgit key"
                            " as 'Authorization: Bearer <key>'")
    row = app.store.get_user(user) or {}
    orgs = [{"type": "org", "name": s["space"], "fullname": s.get("fullname") or s["space"],
             "roleInOrg": s["role"]} for s in app.store.hub_user_spaces(user)]
    return json_response(200, {
        "type": "user",
        "id": user,
        "name": user,
        "fullname": row.get("fullname") or user,
        "email": row.get("email") or None,
        "emailVerified": False,
        "isPro": False,
        "canPay": False,
        "isAdmin": bool(row.get("is_admin")),
        "avatarUrl": "",
        "orgs": orgs,
        "auth": {"type": "access_token",
                 "accessToken": {"displayName": req.auth.key_id or "",
                                 "role": req.subject.scope}},
    })


def model_info(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``/api/models/<id>`` (default branch) and ``.../revision/<rev>``; ``view`` right."""
    model_id = model_of(match)
    model = allow(app, req, model_id, "view")
    repo = open_repo(app, model_id)
    if "rest" in match.groupdict() and match.group("rest") is not None:
        commit: pygit2.Commit | None = resolve_revision(
            repo, rev_only(req, match, "revision"), model_id)
    else:
        commit = default_commit(repo, model)
    data = front_matter(repo, commit)
    from modelgit.schema import card_index

    info = summary_of(model, card_index(data))
    info.update({
        "sha": str(commit.id) if commit is not None else None,
        "lastModified": last_modified(model, commit),
        "cardData": card_json(data),
        "siblings": siblings_of(repo, commit, flag(req, "blobs")),
        "spaces": [],
    })
    return json_response(200, with_expand(info, req.query.get("expand", [])))


def auth_check(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``auth_check``: ``200`` when the caller may download the model's files, else the very
    refusal a download would get (``RepositoryNotFoundError``, ``GatedRepoError``), so a
    script can learn it before it starts."""
    allow(app, req, model_of(match), "read")
    return json_response(200, {})


def last_modified(model: dict[str, Any], commit: pygit2.Commit | None) -> str:
    """The last ref update; before any (or before the store kept it), the later of the
    creation time and the tip's commit time (a new model's first commit is dated 1970)."""
    if model.get("last_modified"):
        return str(model["last_modified"])
    created = str(model["created"])
    if commit is None:
        return created
    return max(created, iso(commit.commit_time))


def tree(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``/tree/<rev>[/<path>]``: one page of entries; the next page's link names the commit,
    so a branch that moves between pages does not mix two trees."""
    model_id = model_of(match)
    allow(app, req, model_id, "view")
    parts = tail(req, model_id, "tree", match.group("rest"))
    repo = open_repo(app, model_id)
    commit = resolve_revision(repo, parts[0], model_id)
    path = "/".join(p for p in parts[1:] if p)
    root = commit.tree
    if path:
        clean_path(path)
        entry = trees.lookup(commit.tree, path)
        if entry is None or entry.filemode != trees.TREE_MODE:
            raise HubError(404, f"{path} is not a folder at {commit.id}", "EntryNotFound",
                           [("X-Repo-Commit", str(commit.id))])
        root = repo[entry.id].peel(pygit2.Tree)
    expand = flag(req, "expand")
    recursive = flag(req, "recursive")
    page = TREE_PAGE_EXPANDED if expand else TREE_PAGE
    page = min(int_arg(req, "limit", page, 1, MAX_INT_ARG), page)  # a page at most, as above
    start = int_arg(req, "cursor", 0, 0, MAX_INT_ARG)
    items: list[dict[str, Any]] = []
    more = False
    for n, (entry_path, entry) in enumerate(
            trees.walk(repo, root, f"{path}/" if path else "", recursive)):
        if n < start:
            continue
        if len(items) == page:
            more = True
            break
        items.append(entry_json(repo, entry_path, entry))
    with_xet_hashes(app, model_id, items)
    if expand and items:
        with_last_commits(repo, commit, items)
    headers = [("X-Repo-Commit", str(commit.id))]
    if more:
        query = urlencode({"recursive": str(recursive), "expand": str(expand),
                           "cursor": start + len(items)})
        url = (f"{base_url(app, req)}/api/models/{model_id}/tree/{commit.id}"
               + (f"/{quote(path, safe='')}" if path else ""))
        headers.append(("Link", f'<{url}?{query}>; rel="next"'))
    return json_response(200, items, headers)


def with_xet_hashes(app: Host, model_id: str, items: list[dict[str, Any]]) -> None:
    """``xetHash`` on the LFS files that have a Xet reconstruction in this model, as the hubs
    list them: ``snapshot_download`` then fetches those through Xet without a ``HEAD`` each."""
    lfs = [item for item in items if item.get("lfs")]
    if not lfs:
        return
    known = xet_service.xet_hashes(app.store, model_id, [str(i["lfs"]["oid"]) for i in lfs])
    for item in lfs:
        found = known.get(str(item["lfs"]["oid"]))
        if found:
            item["xetHash"] = found


def refs(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``list_repo_refs``: branches and tags with the commits they point to."""
    model_id = model_of(match)
    allow(app, req, model_id, "view")
    repo = open_repo(app, model_id)
    out: dict[str, list[dict[str, str]]] = {"branches": [], "tags": [], "converts": [],
                                            "pullRequests": []}
    for ref in revisions.list_refs(repo):
        kind = "branches" if ref.kind == "branch" else "tags"
        out[kind].append({"name": ref.short, "ref": ref.name, "targetCommit": ref.commit})
    return json_response(200, out)


def paths_info(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``paths-info``: the entries for the paths that exist (the others are left out)."""
    model_id = model_of(match)
    allow(app, req, model_id, "view")
    repo = open_repo(app, model_id)
    commit = resolve_revision(repo, rev_only(req, match, "paths-info"), model_id)
    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype == "application/json":
        body = json_body(req)
        paths, expand = body.get("paths", []), body.get("expand", False)
        if not isinstance(paths, list):
            raise HubError(400, "'paths' must be a list")
        expand = expand is True or str(expand).lower() in _TRUE
    elif ctype == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(small_body(req, MAX_SMALL_BODY).decode("utf-8"),
                            keep_blank_values=False, max_num_fields=MAX_PATHS + 10)
        except (UnicodeDecodeError, ValueError):
            raise HubError(400, "the form body is not valid") from None
        paths = form.get("paths", [])
        expand = (form.get("expand", ["false"])[0]).lower() in _TRUE
    else:
        raise HubError(415, "send paths as a form (paths=...) or as JSON {\"paths\": [...]}")
    if len(paths) > MAX_PATHS:
        raise HubError(413, f"at most {MAX_PATHS} paths per request")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in paths:
        path = clean_path(raw.rstrip("/") if isinstance(raw, str) else raw)
        if path in seen:
            continue
        seen.add(path)
        entry = trees.lookup(commit.tree, path)
        if entry is None or entry.filemode == trees.GITLINK_MODE:
            continue
        items.append(entry_json(repo, path, entry))
    with_xet_hashes(app, model_id, items)
    if expand and items:
        with_last_commits(repo, commit, items[:TREE_PAGE_EXPANDED])
    return json_response(200, items, [("X-Repo-Commit", str(commit.id))])
