"""The hub-compatible API: what huggingface_hub and Transformers.js call (docs/access.md).

Pointing ``HF_ENDPOINT`` (or ``endpoint=``, or Transformers.js' ``env.remoteHost``) at a
modelgit server makes the clients people already use work against it, with the same rules as
git: every route asks the same ``decide()`` (``view`` for metadata, ``read`` for file bytes,
``write`` for uploads; gating included), and a commit made here passes the same pre-receive
checks as a push (:mod:`modelgit.hubcommit`).

Read side::

    GET       /api/whoami-v2
    GET       /api/models                                ?search&author&filter&limit&cursor...
    GET       /api/models/<space>/<model>[/revision/<rev>]        ?blobs=true&expand=...
    GET       /api/models/<space>/<model>/tree/<rev>[/<path>]     ?recursive&expand&cursor
    GET       /api/models/<space>/<model>/refs                    (branches and tags)
    POST      /api/models/<space>/<model>/paths-info/<rev>        paths=...&expand=...
    GET|HEAD  /<space>/<model>/resolve/<rev>/<path>               (Range honoured)
    GET|HEAD  /<space>/<model>/raw/<rev>/<path>                   (the git blob, pointer and all)

Write side::

    POST /api/repos/create                                 {"name", "organization", "private"}
    POST /api/validate-yaml                                {"content"}  (warnings only)
    POST /api/models/<space>/<model>/preupload/<rev>       {"files": [{path, sample, size}]}
    POST /api/models/<space>/<model>/commit/<rev>          NDJSON (see modelgit.hubcommit)
    GET  /api/models/<space>/<model>/xet-{read,write}-token/<rev>   -> "set HF_HUB_DISABLE_XET=1"

LFS uploads from the client go through the model's LFS batch API (``/<id>.git/info/lfs/``),
the very one git-lfs uses; there is no second upload path.

Errors are JSON ``{"error": "..."}`` with the headers the client turns into exceptions:
``X-Error-Code`` ``RepoNotFound`` (private or unknown model: nothing reveals existence),
``GatedRepo`` (with an ``X-Error-Message`` that says how to request access),
``RevisionNotFound`` and ``EntryNotFound`` (with ``X-Repo-Commit`` so the client can cache the
absence), and ``X-Error-Message`` with a one-line error (a refusal of several lines is in the
body only, so that the client prints it once).

Hostile input: revisions go through :mod:`modelgit.git.revisions` (branch, then tag, then a
commit id reachable from a branch or tag: a commit a force-push removed is not served, as
``git fetch`` would not serve it); paths are looked up in git trees, never on the file system;
request bodies are capped; names pass the name rules before anything touches the disk. File
bytes are streamed: LFS objects from the object store in 1 MiB pieces, large git blobs from
``git cat-file``, so memory stays flat in file size.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, quote, unquote_to_bytes, urlencode, urlsplit

import pygit2

from modelgit.errors import Forbidden, ModelgitError
from modelgit.git import commands, revisions, trees
from modelgit.http.request import (
    MAX_INT_ARG,
    base_url,
    content_length,
    int_arg,
    model_of,
    read_body,
)
from modelgit.http.responses import (
    CHALLENGE,
    Response,
    json_response,
    parse_range,
    status_line,
    stream_file,
)
from modelgit.hubcommit import HubError as CoreHubError
from modelgit.hubcommit import clean_path

if TYPE_CHECKING:
    from modelgit.authz.decide import Decision
    from modelgit.http.request import Request
    from modelgit.http.routes import Host

log = logging.getLogger("modelgit.hub")

MODEL_API = r"/api/models/(?P<space>[^/]+)/(?P<model>[^/]+)"
FILE_URL = r"/(?P<space>[^/]+)/(?P<model>[^/]+?)(?<!\.git)/(?P<kind>resolve|raw)/(?P<rest>.+)"

#: Entries per tree page (the hubs page at 1000, and at 50 when each entry needs its last
#: commit).
TREE_PAGE = 1000
TREE_PAGE_EXPANDED = 50
#: Models per listing page.
LIST_PAGE = 1000
#: Commits walked at most to find the last commit of the paths on one expanded page.
LAST_COMMIT_BUDGET = 5000
#: Git blobs up to this size are served from memory; larger ones stream from git.
BLOB_IN_MEMORY = 32 * 1024 * 1024
#: Largest JSON or form body of the small POST endpoints.
MAX_SMALL_BODY = 4 * 1024 * 1024
#: Most paths in one paths-info request.
MAX_PATHS = 10_000
#: Most bytes of an ``X-Error-Message`` header.
MAX_HEADER_MESSAGE = 1000

XET_MESSAGE = (
    "modelgit does not speak the Xet protocol. Set HF_HUB_DISABLE_XET=1 in the environment"
    " (e.g. `export HF_HUB_DISABLE_XET=1`) so that huggingface_hub uploads and downloads"
    " through Git LFS, which modelgit serves."
)

#: The URL the Xet token endpoints redirect to: ``hf_xet`` prints the failing URL, so the
#: instruction is in it.
XET_HELP_PATH = "/api/modelgit-serves-git-lfs-not-xet/set-HF_HUB_DISABLE_XET=1"

_TRUE = ("1", "true", "yes", "on")


# --------------------------------------------------------------------------- plumbing
class HubError(CoreHubError):
    """A refusal of this front end that also carries response headers (``X-Repo-Commit`` so
    the client can cache an absence, ``Content-Range`` on a 416): wire details stay here."""

    def __init__(self, status: int, message: str | list[str], code: str | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(status, message, code)
        self.headers = headers or []


def _header_text(message: str, limit: int = MAX_HEADER_MESSAGE) -> str:
    """One line of ASCII for a header: headers carry neither newlines nor UTF-8."""
    flat = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
    return (flat or "error").encode("ascii", "replace").decode("ascii")[:limit]


def _error(err: ModelgitError) -> Response:
    """``{"error": ...}`` plus the hub headers: a one-line error (or a given header) also in
    ``X-Error-Message``, the Basic challenge on 401 so git-style clients ask for a key.

    huggingface_hub prints the header and then the body's ``error`` (dropping exact
    duplicates), so a refusal of several lines (a refused commit: the lines ``git push`` shows)
    goes in the body only; with its first line in the header as well, the client would print
    that line twice."""
    headers = list(getattr(err, "headers", []))
    if err.summary:
        headers.append(("X-Error-Message", _header_text(err.summary)))
    elif not any(name.lower() == "x-error-message" for name, _ in headers) \
            and len(err.message.splitlines()) <= 1:
        first = err.message or "error"
        headers.append(("X-Error-Message", _header_text(first)))
    if err.code:
        headers.append(("X-Error-Code", err.code))
    if err.status == 401:
        headers.append(CHALLENGE)
    return json_response(err.status, {"error": err.message}, headers)


def _hub(handler: Callable[[Host, Request, re.Match[str]], Response], app: Host
         ) -> Callable[[Request, re.Match[str]], Response]:
    """Bind a handler to the app; refusals become JSON errors; HEAD answers carry no body
    (a server may send whatever the iterable yields)."""

    def run(req: Request, match: re.Match[str]) -> Response:
        try:
            status, headers, body = handler(app, req, match)
        except ModelgitError as err:
            status, headers, body = _error(err)
        if req.method == "HEAD":
            close = getattr(body, "close", None)
            if close is not None:
                close()
            body = [b""]
        return status, headers, body

    run.__name__ = handler.__name__
    return run


def register(app: Host) -> None:
    """Add the hub routes (after the LFS and gating routes, before git's catch-all)."""
    add = app.add
    add("GET", r"/api/whoami-v2", _hub(whoami, app))
    add("GET", r"/api/models", _hub(list_models, app))
    add("POST", r"/api/repos/create", _hub(create_repo, app))
    add("POST", r"/api/validate-yaml", _hub(validate_yaml, app))
    add("GET", MODEL_API, _hub(model_info, app))
    add("GET", MODEL_API + r"/revision/(?P<rest>.+)", _hub(model_info, app))
    add("GET", MODEL_API + r"/tree/(?P<rest>.+)", _hub(tree, app))
    add("GET", MODEL_API + r"/refs", _hub(refs, app))
    add("POST", MODEL_API + r"/paths-info/(?P<rest>.+)", _hub(paths_info, app))
    add("POST", MODEL_API + r"/preupload/(?P<rest>.+)", _hub(preupload, app))
    add("POST", MODEL_API + r"/commit/(?P<rest>.+)", _hub(commit, app))
    add(("GET", "POST"), MODEL_API + r"/xet-(?P<xet>read|write)-token(?:/.*)?",
        _hub(xet_token, app))
    add(("GET", "POST"), re.escape(XET_HELP_PATH), _hub(xet_help, app))
    add(("GET", "HEAD"), FILE_URL, _hub(resolve, app))



def _flag(req: Request, name: str) -> bool:
    return (req.arg(name) or "").strip().lower() in _TRUE


def _decode(raw: str, what: str) -> str:
    """A percent-decoded URL segment as UTF-8 (WSGI hands paths over as latin-1)."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(400, f"the {what} in the URL is not valid UTF-8") from None


def _tail(req: Request, model_id: str, marker: str, fallback: str) -> list[str]:
    """The decoded URL segments after ``<space>/<model>/<marker>/``.

    Read from the raw request line when the server gives it (``REQUEST_URI``): there a
    revision such as ``feature%2Fx`` is still one segment, which ``PATH_INFO`` (already
    decoded) cannot tell apart from ``feature/x``. Without it, ``fallback`` (the matched part
    of ``PATH_INFO``) is split on ``/``.
    """
    uri = req.environ.get("REQUEST_URI") or req.environ.get("RAW_URI")
    if isinstance(uri, str) and uri:
        path = urlsplit(uri).path if "://" in uri.split("?", 1)[0] else uri.split("?", 1)[0]
        raw = path.split("/")
        space, model = model_id.split("/")
        for i in range(len(raw) - 2):
            if (raw[i + 2] == marker and _decode(raw[i], "model id") == space
                    and _decode(raw[i + 1], "model id") == model):
                return [_decode(seg, "path") for seg in raw[i + 3:]]
    try:
        text = fallback.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise HubError(400, "the URL is not valid UTF-8") from None
    return text.split("/")


def _rev_only(req: Request, match: re.Match[str], marker: str) -> str:
    """The revision of ``.../<marker>/<rev>`` (all of the rest, slashes included)."""
    parts = _tail(req, model_of(match), marker, match.group("rest"))
    rev = "/".join(parts)
    if not rev:
        raise HubError(400, "the URL names no revision")
    return rev


def _read_body(req: Request, limit: int) -> bytes:
    return read_body(req.environ, limit)  # its BodyError is answered as any refusal


def _json_body(req: Request, limit: int = MAX_SMALL_BODY) -> dict[str, Any]:
    from modelgit import strictjson

    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise HubError(415, "send the body as JSON with 'Content-Type: application/json'")
    data = _read_body(req, limit)
    try:
        body = strictjson.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HubError(400, f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise HubError(400, "the body must be a JSON object")
    return body


# --------------------------------------------------------------------------- authorization
def _allow(app: Host, req: Request, model_id: str, action: str) -> dict[str, Any]:
    """The model row if ``decide()`` allows ``action``; else the refusal the client expects."""
    decision, facts = app.model_decision(req, model_id, action)
    if not decision.allowed:
        raise _refusal(app, req, model_id, decision, facts)
    model = app.store.get_model(model_id)
    if model is None:  # deleted between the two reads
        raise HubError(404, f"model {model_id} not found", "RepoNotFound")
    return model


def _refusal(app: Host, req: Request, model_id: str, decision: Decision,
             facts: dict[str, Any] | None) -> ModelgitError:
    if decision.code == "gated":
        explained = app.explain(decision, model_id, req)
        return Forbidden(explained.reason, code="GatedRepo",
                         summary=_gated_header(app, req, model_id, explained.reason))
    if decision.status == 401:
        if (facts is not None and facts.get("visibility") == "public"
                and facts.get("gated") in ("auto", "manual")):
            return HubError(401, f"Access to model {model_id} is restricted: it is a gated"
                                 " model. You must be authenticated to access it: pass your"
                                 " modelgit key as the token (HF_TOKEN or token=...).",
                            "GatedRepo")
        return HubError(401, decision.reason, "RepoNotFound")
    if decision.status == 404:
        return HubError(404, decision.reason, "RepoNotFound")
    return HubError(decision.status, decision.reason)


def _gated_header(app: Host, req: Request, model_id: str, text: str) -> str:
    """What ``GatedRepoError`` shows: the first line, and the way to ask when it is open."""
    first = text.strip().splitlines()[0] if text.strip() else f"{model_id} is gated"
    if "user-access-request" in text:
        url = f"{base_url(app, req)}/api/models/{model_id}/user-access-request"
        return _header_text(f"{first} Request access: POST your answers to the model's form"
                            f" as JSON to {url} with your key as the Bearer token.")
    return _header_text(text)


# --------------------------------------------------------------------------- git reading
def _repo(app: Host, model_id: str) -> pygit2.Repository:
    from modelgit.git.errors import RepositoryNotFound
    from modelgit.git.repo import open_model

    try:
        return open_model(app.cfg, model_id)
    except RepositoryNotFound:
        log.error("model %s has no readable repository", model_id)
        raise HubError(404, f"model {model_id} has no repository on this server",
                       "RepoNotFound") from None


def _not_found_rev(rev: str, model_id: str) -> HubError:
    shown = _header_text(rev, 120)
    return HubError(404, f"Invalid rev id: {shown} is not a branch, a tag or a commit of"
                         f" {model_id}", "RevisionNotFound")


def resolve_revision(repo: pygit2.Repository, rev: str, model_id: str) -> pygit2.Commit:
    """A branch, a tag or a commit id reachable from one of them (:mod:`modelgit.git.revisions`)
    as the hub's ``RevisionNotFound``."""
    from modelgit.git.errors import RevisionNotFound

    try:
        return revisions.resolve(repo, rev, reachable_only=True)
    except RevisionNotFound:
        raise _not_found_rev(rev, model_id) from None


def _default_commit(repo: pygit2.Repository, model: dict[str, Any]) -> pygit2.Commit | None:
    """The default branch's tip, or None for a repository with no commit yet."""
    return revisions.ref_commit(repo, f"refs/heads/{model['default_branch']}")


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _file_meta(repo: pygit2.Repository, oid: pygit2.Oid) -> tuple[int, dict[str, Any] | None]:
    """``(blob size, lfs info or None)``; only blobs small enough to be pointers are read."""
    meta = trees.file_meta(repo, oid)
    if meta.pointer is None:
        return meta.size, None
    return meta.size, {"oid": meta.pointer.oid, "size": meta.pointer.size,
                       "pointerSize": meta.size}


def _entry_json(repo: pygit2.Repository, path: str, entry: pygit2.Object) -> dict[str, Any]:
    """A tree or paths-info entry as the hubs shape it (``RepoFile`` / ``RepoFolder``)."""
    if entry.filemode == trees.TREE_MODE:
        return {"type": "directory", "oid": str(entry.id), "size": 0, "path": path}
    size, lfs = _file_meta(repo, entry.id)
    item: dict[str, Any] = {"type": "file", "oid": str(entry.id),
                            "size": lfs["size"] if lfs else size, "path": path}
    if lfs:
        item["lfs"] = lfs
    return item


def _with_last_commits(repo: pygit2.Repository, commit: pygit2.Commit,
                       items: list[dict[str, Any]]) -> None:
    last = trees.last_commits(repo, commit, [item["path"] for item in items],
                              LAST_COMMIT_BUDGET)
    for item in items:
        found = last.get(item["path"])
        if found is not None:
            item["lastCommit"] = {"id": str(found.id),
                                  "title": found.message.strip().splitlines()[0]
                                  if found.message.strip() else "",
                                  "date": _iso(found.commit_time)}


# --------------------------------------------------------------------------- cards and tags
def _front_matter(repo: pygit2.Repository, commit: pygit2.Commit | None) -> dict[str, Any]:
    """The README's front matter at a commit ({} without one); never raises for content."""
    from modelgit.hooks.card import MAX_README_BYTES
    from modelgit.schema import parse_front_matter

    if commit is None:
        return {}
    content = trees.read_file(repo, commit.tree, "README.md", MAX_README_BYTES)
    if content is None:
        return {}
    try:
        data = parse_front_matter(content).data
    except Exception:
        log.exception("could not read the front matter of %s", commit.id)
        return {}
    return data if isinstance(data, dict) else {}


def hub_tags(index: dict[str, Any]) -> list[str]:
    """The tags a hub shows for a card: its own tags, library, task, license, datasets,
    base model (``license:mit``, ``dataset:wmt16``, ``base_model:org/name``)."""
    tags: list[str] = []

    def add(value: object, prefix: str = "") -> None:
        if isinstance(value, str) and value.strip():
            text = prefix + value.strip()
            if text not in tags:
                tags.append(text)

    for tag in index.get("tags") or []:
        add(tag)
    add(index.get("library_name"))
    add(index.get("pipeline_tag"))
    add(index.get("license"), "license:")
    for dataset in index.get("datasets") or []:
        add(dataset, "dataset:")
    base = index.get("base_model")
    for name in base if isinstance(base, list) else [base]:
        add(name, "base_model:")
    return tags


def _filter_terms(index: dict[str, Any]) -> set[str]:
    """What ``filter=`` matches (case-insensitive): the hub tags, the frameworks and tasks of
    the card index, and the bare license name."""
    terms = {t.lower() for t in hub_tags(index)}
    for value in [*(index.get("frameworks") or []), index.get("task_type"),
                  index.get("task_algorithm"), index.get("license")]:
        if isinstance(value, str) and value.strip():
            terms.add(value.strip().lower())
    return terms


def _gated_value(model: dict[str, Any]) -> str | bool:
    gated = str(model.get("gated") or "off")
    return gated if gated in ("auto", "manual") else False


def _card_json(data: dict[str, Any]) -> dict[str, Any] | None:
    """Front matter made JSON-safe (YAML may hold dates and other non-JSON scalars)."""
    if not data:
        return None
    return cast(dict[str, Any], json.loads(json.dumps(data, default=str)))


def _summary(model: dict[str, Any], index: dict[str, Any]) -> dict[str, Any]:
    """The fields every model answer has."""
    model_id = str(model["id"])
    return {
        "_id": model_id,
        "id": model_id,
        "modelId": model_id,
        "author": model["space"],
        "private": model["visibility"] != "public",
        "gated": _gated_value(model),
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": hub_tags(index),
        "pipeline_tag": index.get("pipeline_tag"),
        "library_name": index.get("library_name"),
        "createdAt": model["created"],
    }


def _siblings(repo: pygit2.Repository, commit: pygit2.Commit | None, blobs: bool
              ) -> list[dict[str, Any]]:
    if commit is None:
        return []
    out: list[dict[str, Any]] = []
    for path, entry in trees.walk(repo, commit.tree):
        if entry.filemode == trees.TREE_MODE:
            continue
        sibling: dict[str, Any] = {"rfilename": path}
        if blobs:
            size, lfs = _file_meta(repo, entry.id)
            sibling["size"] = lfs["size"] if lfs else size
            sibling["blobId"] = str(entry.id)
            if lfs:
                sibling["lfs"] = {"sha256": lfs["oid"], "size": lfs["size"],
                                  "pointerSize": lfs["pointerSize"]}
        out.append(sibling)
    return out


def _expanded(info: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    """``expand=`` keeps only the asked properties (and the id), as the hubs answer."""
    if not expand:
        return info
    keep = {"_id", "id", *expand}
    return {k: v for k, v in info.items() if k in keep}


# --------------------------------------------------------------------------- read side
def whoami(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Who the key belongs to, its scope, and the spaces the user has a role in."""
    user = req.subject.user
    if user is None:
        raise HubError(401, "Invalid credentials in Authorization header: send a modelgit key"
                            " as 'Authorization: Bearer <key>'")
    row = app.store.get_user(user) or {}
    orgs = [{"type": "org", "name": s["space"], "fullname": s["space"],
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
    model = _allow(app, req, model_id, "view")
    repo = _repo(app, model_id)
    if "rest" in match.groupdict() and match.group("rest") is not None:
        commit: pygit2.Commit | None = resolve_revision(
            repo, _rev_only(req, match, "revision"), model_id)
    else:
        commit = _default_commit(repo, model)
    data = _front_matter(repo, commit)
    from modelgit.schema import card_index

    info = _summary(model, card_index(data))
    info.update({
        "sha": str(commit.id) if commit is not None else None,
        "lastModified": _iso(commit.commit_time) if commit is not None else model["created"],
        "cardData": _card_json(data),
        "siblings": _siblings(repo, commit, _flag(req, "blobs")),
        "spaces": [],
    })
    return json_response(200, _expanded(info, req.query.get("expand", [])))


def list_models(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Models the caller may ``retrieve``, filtered by the card index, in id order, paged
    with a ``Link: rel="next"`` cursor (the last id shown)."""
    from modelgit.services import models

    search = req.arg("search")
    author = req.arg("author")
    filters = [f.strip().lower() for f in req.query.get("filter", []) if f.strip()]
    pipeline = (req.arg("pipeline_tag") or "").strip().lower()
    gated_arg = (req.arg("gated") or "").strip().lower()
    # More than a page is asked for by the hub clients and answered with a page, as the Hub does.
    limit = min(int_arg(req, "limit", LIST_PAGE, 1, MAX_INT_ARG), LIST_PAGE)
    cursor = req.arg("cursor") or ""
    full = _flag(req, "full")
    with_card = _flag(req, "cardData")
    expand = req.query.get("expand", [])
    allow_anon = bool(app.cfg.get("allow_anonymous_read"))
    items: list[dict[str, Any]] = []
    more = False
    for row in models.visible(app.store, req.subject, after=cursor,
                              allow_anonymous_read=allow_anon):
        if author and row["space"] != author:
            continue
        card = models.card_of(row)
        index = card.get("index") or {}
        if search and not models.card_matches(row, index, models.CardFilter(search=search)):
            continue
        if filters and not set(filters) <= _filter_terms(index):
            continue
        if pipeline and str(index.get("pipeline_tag") or "").lower() != pipeline:
            continue
        if gated_arg in ("true", "false") and (gated_arg == "true") != bool(_gated_value(row)):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(_list_item(app, row, index, card.get("data") or {},
                                full=full, with_card=with_card, expand=expand))
    headers: list[tuple[str, str]] = []
    if more and items:
        query = [(k, v) for k, values in req.query.items() if k != "cursor" for v in values]
        query.append(("cursor", items[-1]["id"]))
        headers.append(("Link", f'<{base_url(app, req)}/api/models?{urlencode(query)}>;'
                                ' rel="next"'))
    return json_response(200, items, headers)


def _list_item(app: Host, row: dict[str, Any], index: dict[str, Any], data: dict[str, Any], *,
               full: bool, with_card: bool, expand: list[str]) -> dict[str, Any]:
    item = _summary(row, index)
    wants = set(expand)
    if with_card or "cardData" in wants:
        item["cardData"] = _card_json(data)
    if full or wants & {"sha", "lastModified", "siblings"}:
        try:
            repo = _repo(app, str(row["id"]))
            commit = _default_commit(repo, row)
        except HubError:
            repo, commit = None, None
        item["sha"] = str(commit.id) if commit is not None else None
        item["lastModified"] = _iso(commit.commit_time) if commit is not None else row["created"]
        item["siblings"] = _siblings(repo, commit, False) if repo is not None else []
    return _expanded(item, expand)



def tree(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``/tree/<rev>[/<path>]``: one page of entries; the next page's link names the commit,
    so a branch that moves between pages does not mix two trees."""
    model_id = model_of(match)
    _allow(app, req, model_id, "view")
    parts = _tail(req, model_id, "tree", match.group("rest"))
    repo = _repo(app, model_id)
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
    expand = _flag(req, "expand")
    recursive = _flag(req, "recursive")
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
        items.append(_entry_json(repo, entry_path, entry))
    if expand and items:
        _with_last_commits(repo, commit, items)
    headers = [("X-Repo-Commit", str(commit.id))]
    if more:
        query = urlencode({"recursive": str(recursive), "expand": str(expand),
                           "cursor": start + len(items)})
        url = (f"{base_url(app, req)}/api/models/{model_id}/tree/{commit.id}"
               + (f"/{quote(path, safe='')}" if path else ""))
        headers.append(("Link", f'<{url}?{query}>; rel="next"'))
    return json_response(200, items, headers)


def refs(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``list_repo_refs``: branches and tags with the commits they point to."""
    model_id = model_of(match)
    _allow(app, req, model_id, "view")
    repo = _repo(app, model_id)
    out: dict[str, list[dict[str, str]]] = {"branches": [], "tags": [], "converts": [],
                                            "pullRequests": []}
    for ref in revisions.list_refs(repo):
        kind = "branches" if ref.kind == "branch" else "tags"
        out[kind].append({"name": ref.short, "ref": ref.name, "targetCommit": ref.commit})
    return json_response(200, out)


def paths_info(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``paths-info``: the entries for the paths that exist (the others are left out)."""
    model_id = model_of(match)
    _allow(app, req, model_id, "view")
    repo = _repo(app, model_id)
    commit = resolve_revision(repo, _rev_only(req, match, "paths-info"), model_id)
    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype == "application/json":
        body = _json_body(req)
        paths, expand = body.get("paths", []), body.get("expand", False)
        if not isinstance(paths, list):
            raise HubError(400, "'paths' must be a list")
        expand = expand is True or str(expand).lower() in _TRUE
    elif ctype == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(_read_body(req, MAX_SMALL_BODY).decode("utf-8"),
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
        items.append(_entry_json(repo, path, entry))
    if expand and items:
        _with_last_commits(repo, commit, items[:TREE_PAGE_EXPANDED])
    return json_response(200, items, [("X-Repo-Commit", str(commit.id))])


# --------------------------------------------------------------------------- file bytes
def resolve(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``resolve`` serves a file's content (LFS objects from the object store); ``raw``
    serves the git blob itself. Both need the ``read`` right, gating included."""
    model_id = model_of(match)
    _allow(app, req, model_id, "read")
    kind = match.group("kind")
    parts = _tail(req, model_id, kind, match.group("rest"))
    if len(parts) < 2:
        raise HubError(400, f"use /{model_id}/{kind}/<revision>/<path>")
    repo = _repo(app, model_id)
    commit = resolve_revision(repo, parts[0], model_id)
    sha = str(commit.id)
    path = clean_path("/".join(parts[1:]))
    entry = trees.lookup(commit.tree, path)
    if entry is None or entry.filemode not in trees.BLOB_MODES:
        raise HubError(404, f"{path} does not exist at {sha} in {model_id}", "EntryNotFound",
                       [("X-Repo-Commit", sha)])
    size, lfs = _file_meta(repo, entry.id)
    headers = [("X-Repo-Commit", sha), ("Accept-Ranges", "bytes"),
               ("Content-Type", "application/octet-stream"),
               ("Content-Disposition", _disposition(path))]
    if lfs is not None and kind == "resolve":
        return _serve_lfs(app, req, model_id, path, lfs, headers)
    headers.append(("ETag", f'"{entry.id}"'))
    return _serve_blob(app, req, model_id, repo, entry.id, size, headers)


def _disposition(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "_")
    return f"inline; filename*=UTF-8''{quote(name, safe='')}; filename=\"{ascii_name}\";"


def _span(req: Request, size: int, headers: list[tuple[str, str]]
          ) -> tuple[int, int, int]:
    """``(status, first byte, length)`` for the request's ``Range`` (one range), adding
    ``Content-Range`` and ``Content-Length``; an unsatisfiable range is a 416."""
    wanted = req.header("Range")
    if wanted is None:
        headers.append(("Content-Length", str(size)))
        return 200, 0, size
    span = parse_range(wanted, size)
    if span is None:
        raise HubError(416, f"range not satisfiable: the file has {size} bytes", None,
                       [("Content-Range", f"bytes */{size}")])
    first, last = span
    headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
    headers.append(("Content-Length", str(last - first + 1)))
    return 206, first, last - first + 1


def _serve_lfs(app: Host, req: Request, model_id: str, path: str, lfs: dict[str, Any],
               headers: list[tuple[str, str]]) -> Response:
    """An LFS file's bytes from the store: only an object linked to this model is served."""
    from modelgit.lfs.storage import StorageError, storage_for

    oid, size = str(lfs["oid"]), int(lfs["size"])
    storage = storage_for(app.cfg)
    if app.store.linked_size(model_id, oid) is None or storage.get_size(oid) != size:
        raise HubError(404, f"the LFS object of {path} ({oid}) is not stored for {model_id}:"
                            " its bytes were never uploaded; push them with `git lfs push"
                            " --all` or upload the file again", None,
                       [("X-Repo-Commit", dict(headers)["X-Repo-Commit"])])
    headers += [("ETag", f'"{oid}"'), ("X-Linked-Etag", f'"{oid}"'),
                ("X-Linked-Size", str(size))]
    status, first, length = _span(req, size, headers)
    if req.method == "HEAD":
        return status_line(status), headers, [b""]
    try:
        handle = storage.open(oid)
    except StorageError:
        raise HubError(404, f"the LFS object of {path} is missing from the store") from None
    return status_line(status), headers, stream_file(handle, first, length)


def _serve_blob(app: Host, req: Request, model_id: str, repo: pygit2.Repository,
                oid: pygit2.Oid, size: int, headers: list[tuple[str, str]]) -> Response:
    status, first, length = _span(req, size, headers)
    if req.method == "HEAD":
        return status_line(status), headers, [b""]
    if size <= BLOB_IN_MEMORY:
        data = trees.read_blob(repo, oid)
        return status_line(status), headers, [data[first:first + length]]
    return status_line(status), headers, commands.stream_blob(repo.path, str(oid), first,
                                                                   length)


# --------------------------------------------------------------------------- write side
def create_repo(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``create_repo``: ``organization`` is the space (default: a space named like the user),
    ``name`` the model; private unless asked public (modelgit's default). Creating needs the
    rights of ``modelgit model create``; an existing model the caller can see is a 409 with
    its ``url`` (what ``exist_ok=True`` expects)."""
    from modelgit.authz import roles
    from modelgit.names import InvalidName, check_model_id

    user = req.subject.user
    if user is None:
        raise HubError(401, "creating a model needs a modelgit key: pass it as the token")
    if req.subject.scope != "write":
        raise HubError(403, "your key is read-only: creating a model needs a key created with"
                            " `--scope write`")
    body = _json_body(req)
    kind = body.get("type")
    if kind not in (None, "model"):
        raise HubError(400, f"modelgit hosts models only, not {kind!r} repositories")
    name, space = body.get("name"), body.get("organization") or user
    if not isinstance(name, str) or not isinstance(space, str):
        raise HubError(400, "'name' (and 'organization', the space) must be strings")
    model_id = f"{space}/{name}"
    try:
        check_model_id(model_id)
    except InvalidName as exc:
        raise HubError(400, str(exc)) from None
    visibility = body.get("visibility")
    private = body.get("private")
    if visibility not in (None, "public", "private") or private not in (None, True, False):
        raise HubError(400, "'visibility' must be public or private, 'private' a boolean")
    public = visibility == "public" or (visibility is None and private is False)
    url = f"{base_url(app, req)}/{model_id}"
    row = app.store.get_user(user) or {}
    may_create = roles.may_create_model(is_admin=bool(row.get("is_admin")),
                                        space_role=app.store.space_role(space, user))
    if app.store.get_model(model_id) is not None:
        decision, _ = app.model_decision(req, model_id, "view")
        if decision.allowed:
            message = f"You already created this model repo: {model_id} exists"
            return json_response(409, {"error": message, "url": url},
                                 [("X-Error-Message", message)])
        # Not visible to the caller: answer as for a model they may not create, so that a
        # private model's existence is not revealed.
        may_create = False
    if app.store.get_space(space) is None:
        raise HubError(404, f"space {space} does not exist: ask an administrator to create it"
                            f" (`modelgit space create {space} --owner {user}`)")
    if not may_create:
        raise HubError(403, f"{user} may not create models in space {space}; ask its owner"
                            f" for the user role (`modelgit space grant {space} {user} user`)")
    from modelgit.services import models

    models.create(app.store, app.cfg, model_id, user, public=public, actor=user,
                  address=req.remote_addr)
    return json_response(200, {"url": url, "name": model_id, "id": model_id})


def validate_yaml(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The client's early README check before uploading. Problems come back as *warnings*:
    the commit itself is refused by the push checks, with exactly git push's text, so there
    is one judge and one wording."""
    from modelgit.hooks.card import MAX_README_BYTES
    from modelgit.schema import check_card, rejection_lines

    if req.subject.user is None:
        raise HubError(401, "validating a card needs a modelgit key: pass it as the token")
    body = _json_body(req, MAX_README_BYTES + 64 * 1024)
    content = body.get("content")
    if not isinstance(content, str):
        raise HubError(400, "'content' must be the README text")
    result = check_card(content.encode("utf-8"), required=bool(app.cfg.get("card.required")),
                        schema_path=app.cfg.get("card.schema") or None)
    warnings = [{"message": f"modelgit: {line}"} for line in rejection_lines(result.errors)]
    return json_response(200, {"errors": [], "warnings": warnings})


def _branch_arg(req: Request, match: re.Match[str], marker: str) -> str:
    if (req.arg("create_pr") or "").strip().lower() in _TRUE:
        raise HubError(400, "modelgit has no pull requests: commit to a branch instead"
                            " (create it with git push), and open a review there")
    from modelgit.hubcommit import valid_branch

    return valid_branch(_rev_only(req, match, marker))


def preupload(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Which files go through LFS (``.gitattributes`` patterns or size) and which are
    ignored; ``write`` right, as the upload that follows."""
    from modelgit.git.paths import repo_path
    from modelgit.hubcommit import parse_upload_files, upload_modes

    model_id = model_of(match)
    model = _allow(app, req, model_id, "write")
    branch = _branch_arg(req, match, "preupload")
    files, gitignore = parse_upload_files(_json_body(req))
    answers, tip = upload_modes(app.cfg, repo_path(app.cfg, model_id), branch, files,
                                gitignore)
    if tip is None and branch != model["default_branch"]:
        raise _not_found_rev(branch, model_id)
    return json_response(200, {"files": answers, "commitOid": tip})


def commit(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The NDJSON commit: built with pygit2, checked by the push checks, then the branch
    moves (or a 4xx with git push's text, and nothing moved)."""
    from modelgit import hubcommit
    from modelgit.lfs.storage import storage_for

    model_id = model_of(match)
    model = _allow(app, req, model_id, "write")
    branch = _branch_arg(req, match, "commit")
    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype not in ("application/x-ndjson", "application/jsonl"):
        raise HubError(415, "send the commit as NDJSON with 'Content-Type:"
                            " application/x-ndjson'")
    length = content_length(req.environ)
    if length is None:
        raise HubError(411, "a commit needs a Content-Length header")
    stream = req.environ.get("wsgi.input")
    if stream is None:
        raise HubError(400, "no request body")
    request = hubcommit.CommitRequest(cfg=app.cfg, store=app.store,
                                      storage=storage_for(app.cfg), model=model,
                                      subject=req.subject, branch=branch,
                                      address=req.remote_addr)
    result = hubcommit.commit(request, cast(IO[bytes], stream), length)
    return json_response(200, {
        "success": True,
        "commitOid": result.sha,
        "commitUrl": f"{base_url(app, req)}/{model_id}/commit/{result.sha}",
        "hookOutput": "",
        "pullRequestUrl": None,
    })


def xet_token(app: Host, req: Request, match: re.Match[str]) -> Response:
    """modelgit serves Git LFS, not Xet: say so, and how to switch the client over.

    The token is fetched by ``hf_xet`` (Rust), which shows only the status and the URL of a
    failed request, never its body. So the answer is a redirect to :data:`XET_HELP_PATH`,
    whose URL itself carries the instruction, and which answers the error (JSON body and
    ``X-Error-Message`` for every other client).
    """
    location = f"{base_url(app, req)}{XET_HELP_PATH}"
    return status_line(307), [("Location", location), ("Content-Length", "0"),
                                   ("X-Error-Message", _header_text(XET_MESSAGE)),
                                   ("X-Error-Code", "XetNotSupported")], [b""]


def xet_help(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Where :func:`xet_token` sends the Xet client: the error, said plainly."""
    raise HubError(501, XET_MESSAGE, "XetNotSupported")

