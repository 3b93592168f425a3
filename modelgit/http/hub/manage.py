"""Managing a repository through the hub API: history, branches, tags, settings, move, delete.

Each route decides with ``decide()`` as git does (``view`` for the history, ``write`` for a
ref change, ``edit`` for settings, ``admin`` for move and delete) and changes refs only
through :mod:`modelgit.services.refs`, i.e. through the pre-receive checks of a push. Also here:
the answers for a repo id without a namespace and for the hub features modelgit does not
offer, so that a client prints one sentence naming the feature instead of a bare 404.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pygit2

from modelgit.errors import Invalid
from modelgit.http.hub.common import (
    HubError,
    allow,
    iso,
    json_body,
    open_repo,
    resolve_revision,
    rev_only,
)
from modelgit.http.request import MAX_INT_ARG, base_url, int_arg, model_of
from modelgit.http.responses import Response, json_response

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host

#: Commits per page of ``list_repo_commits`` (the hubs answer 50 and a ``Link`` to ``p+1``).
COMMITS_PAGE = 50
#: Commits walked at most for one page (skipping the earlier pages included).
MAX_COMMITS_WALKED = 200_000


def _anon_read(app: Host) -> bool:
    return bool(app.cfg.get("allow_anonymous_read"))


# --------------------------------------------------------------------------- history
def commits(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``list_repo_commits``: newest first from ``rev``, ``COMMITS_PAGE`` a page; page ``p``
    (from 0) and a ``Link: rel="next"`` while there are more, as the hubs page it."""
    model_id = model_of(match)
    allow(app, req, model_id, "read")
    repo = open_repo(app, model_id)
    commit = resolve_revision(repo, rev_only(req, match, "commits"), model_id)
    page = int_arg(req, "p", 0, 0, MAX_INT_ARG)
    skip = page * COMMITS_PAGE
    if skip >= MAX_COMMITS_WALKED:
        raise HubError(400, f"page {page} is past the {MAX_COMMITS_WALKED} newest commits"
                            " this API lists; clone the repository for the whole history")
    formatted = "formatted" in req.query.get("expand[]", []) + req.query.get("expand", [])
    items: list[dict[str, Any]] = []
    more = False
    # Newest first and never a parent before its child (commits of the same second, as an
    # upload script makes them, would otherwise come in any order).
    walker = repo.walk(commit.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    for index, found in enumerate(walker):
        if index < skip:
            continue
        if len(items) == COMMITS_PAGE:
            more = True
            break
        items.append(_commit_json(found, formatted))
    headers: list[tuple[str, str]] = []
    if more:
        query = [(k, v) for k, values in req.query.items() if k != "p" for v in values]
        query.append(("p", str(page + 1)))
        headers.append(("Link", f'<{base_url(app, req)}{req.path}?{urlencode(query)}>;'
                                ' rel="next"'))
    return json_response(200, items, headers)


def _commit_json(commit: pygit2.Commit, formatted: bool) -> dict[str, Any]:
    from html import escape

    message = commit.message or ""
    title = message.strip().splitlines()[0] if message.strip() else ""
    item: dict[str, Any] = {
        "id": str(commit.id), "title": title, "message": message,
        "authors": [{"user": commit.author.name}],
        "date": iso(commit.commit_time),
    }
    if formatted:
        item["formatted"] = {"title": escape(title), "message": escape(message)}
    return item


# --------------------------------------------------------------------------- refs
def _change(app: Host, req: Request, match: re.Match[str]) -> Any:
    from modelgit.services.refs import RefChange

    model = allow(app, req, model_of(match), "write")
    return RefChange(app.cfg, app.store, model, req.subject, req.remote_addr)


def create_branch(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``create_branch``: ``startingPoint`` (default: the default branch); 409 if it exists."""
    from modelgit.services import refs

    change = _change(app, req, match)
    branch = rev_only(req, match, "branch")
    body = json_body(req) if _has_body(req) else {}
    start = body.get("startingPoint")
    if start is not None and not isinstance(start, str):
        raise Invalid("'startingPoint' must be a revision (a branch, a tag or a commit id)")
    refs.create_branch(change, branch, start or None)
    return json_response(200, {})


def delete_branch(app: Host, req: Request, match: re.Match[str]) -> Response:
    from modelgit.services import refs

    refs.delete_branch(_change(app, req, match), rev_only(req, match, "branch"))
    return json_response(200, {})


def create_tag(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``create_tag``: POST ``tag/<rev>`` with ``{"tag", "message"?}``; 409 if it exists."""
    from modelgit.services import refs

    change = _change(app, req, match)
    revision = rev_only(req, match, "tag")
    body = json_body(req)
    tag, message = body.get("tag"), body.get("message")
    if not isinstance(tag, str) or not tag:
        raise Invalid("the body needs 'tag': the name of the new tag")
    if message is not None and not isinstance(message, str):
        raise Invalid("'message' must be text")
    refs.create_tag(change, tag, revision, message)
    return json_response(200, {})


def delete_tag(app: Host, req: Request, match: re.Match[str]) -> Response:
    from modelgit.services import refs

    refs.delete_tag(_change(app, req, match), rev_only(req, match, "tag"))
    return json_response(200, {})


def _has_body(req: Request) -> bool:
    length = str(req.environ.get("CONTENT_LENGTH") or "").strip()
    return length not in ("", "0") or bool(req.environ.get("HTTP_TRANSFER_ENCODING"))


# --------------------------------------------------------------------------- settings, move
def settings(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``update_repo_settings``: ``private``/``visibility`` and ``gated`` (auto, manual or
    false), with the maintainer's right to change settings."""
    from modelgit.services import moves

    changed = moves.update_settings(app.store, req.subject, model_of(match), json_body(req),
                                    allow_anonymous_read=_anon_read(app))
    return json_response(200, changed)


def _models_only(body: dict[str, Any]) -> None:
    kind = body.get("type")
    if kind not in (None, "model"):
        raise HubError(404, f"modelgit hosts models only: there are no {kind} repositories"
                            " here", "RepoNotFound")


def move_repo(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``move_repo``: ``{"fromRepo", "toRepo", "type"}``; the old name redirects afterwards."""
    from modelgit.services import moves

    body = json_body(req)
    _models_only(body)
    new = moves.move(app.store, app.cfg, req.subject, body.get("fromRepo"), body.get("toRepo"),
                     allow_anonymous_read=_anon_read(app), address=req.remote_addr)
    return json_response(200, {"url": f"{base_url(app, req)}/{new}", "id": new})


def delete_repo(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``delete_repo``: ``{"name", "organization", "type"}``. A name without a namespace, or
    one the caller cannot see, is ``RepoNotFound`` (``missing_ok=True`` relies on it)."""
    from modelgit.services import moves

    body = json_body(req)
    _models_only(body)
    name, space = body.get("name"), body.get("organization")
    if not isinstance(name, str) or not isinstance(space, str) or not space:
        raise HubError(404, f"repository {name!r} not found: modelgit repository ids are"
                            " <space>/<name>", "RepoNotFound")
    model_id = f"{space}/{name}"
    from modelgit.names import is_model_id

    if not is_model_id(model_id):
        raise HubError(404, f"repository {model_id!r} not found", "RepoNotFound")
    moves.delete(app.store, app.cfg, req.subject, model_id,
                 allow_anonymous_read=_anon_read(app), address=req.remote_addr)
    return json_response(200, {})


# --------------------------------------------------------------------------- not offered
def no_namespace(app: Host, req: Request, match: re.Match[str]) -> Response:
    """A repo id without ``<space>/`` (``repo_exists("x")``): no such repository."""
    raise HubError(404, f"repository {match.group('single')!r} not found: modelgit"
                        " repository ids are <space>/<name>", "RepoNotFound")


def other_repo_type(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Datasets, Spaces, buckets, kernels: a repository of that kind is never found here."""
    kind = match.group("kind")
    if match.group("rest"):
        raise HubError(404, f"modelgit hosts models only: {kind} are not offered, so"
                            " there is no such repository", "RepoNotFound")
    raise HubError(501, f"modelgit hosts models only: {kind} are not offered")


#: Features of the public hubs that modelgit does not offer, by the path that asks for them.
NOT_OFFERED: tuple[tuple[str, str], ...] = (
    (r"/api/(?:models|datasets|spaces)/[^/]+/[^/]+/discussions(?:/.*)?",
     "discussions and pull requests are not offered by modelgit; use branches, or your"
     " git host's merge requests"),
    (r"/api/(?:models|datasets|spaces)/[^/]+/[^/]+/(?:likes?|unlike)(?:/.*)?",
     "likes are not offered by modelgit"),
    (r"/api/(?:settings/)?webhooks(?:/.*)?", "webhooks are not offered by modelgit"),
    (r"/api/collections(?:/.*)?", "collections are not offered by modelgit"),
    (r"/api/(?:models|datasets|spaces)/[^/]+/[^/]+/(?:super-squash|resource-group)(?:/.*)?",
     "super-squash and resource groups are not offered by modelgit"),
    (r"/api/(?:organizations|users)/.*", "organization and user pages are not offered by"
                                         " modelgit; its spaces are managed with"
                                         " `modelgit space`"),
    (r"/api/(?:jobs|inference-endpoints|endpoints|scheduled-jobs)(?:/.*)?",
     "jobs and inference endpoints are not offered by modelgit"),
)


def not_offered(message: str) -> Any:
    def answer(app: Host, req: Request, match: re.Match[str]) -> Response:
        raise HubError(501, message)

    answer.__name__ = "not_offered"
    return answer


def unknown_api(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Any other ``/api/`` path: 404 (not a known feature of the hubs either), naming the
    path and where the list of served calls is."""
    shown = req.path[:200]
    raise HubError(404, f"modelgit has no API call {req.method} {shown}: it serves the hub"
                        " calls for models listed in its documentation (docs/hub-api.md)")
