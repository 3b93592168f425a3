"""Shared by the hub routes: limits, the JSON error with its hub code, binding a handler,
reading arguments and small bodies, the access check, and reading git for the answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

import pygit2

from modelgit.errors import Forbidden, ModelgitError
from modelgit.git import revisions, trees
from modelgit.http.request import base_url, model_of, moved_location, read_body, read_json
from modelgit.http.responses import (
    CHALLENGE,
    Response,
    header_text,
    json_response,
    retry_header,
)
from modelgit.hubcommit import HubError as CoreHubError

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

_TRUE = ("1", "true", "yes", "on")


# --------------------------------------------------------------------------- plumbing

class HubError(CoreHubError):
    """A refusal of this front end that also carries response headers (``X-Repo-Commit`` so
    the client can cache an absence, ``Content-Range`` on a 416): wire details stay here."""

    def __init__(self, status: int, message: str | list[str], code: str | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(status, message, code)
        self.headers = headers or []


def error_response(err: ModelgitError) -> Response:
    """``{"error": ...}`` plus the hub headers: a one-line error (or a given header) also in
    ``X-Error-Message``, the Basic challenge on 401 so git-style clients ask for a key.

    huggingface_hub prints the header and then the body's ``error`` (dropping exact
    duplicates), so a refusal of several lines (a refused commit: the lines ``git push`` shows)
    goes in the body only; with its first line in the header as well, the client would print
    that line twice."""
    headers = list(getattr(err, "headers", []))
    if err.summary:
        headers.append(("X-Error-Message", header_text(err.summary)))
    elif not any(name.lower() == "x-error-message" for name, _ in headers) \
            and len(err.message.splitlines()) <= 1:
        first = err.message or "error"
        headers.append(("X-Error-Message", header_text(first)))
    if err.code:
        headers.append(("X-Error-Code", err.code))
    if err.status == 401:
        headers.append(CHALLENGE)
    headers += retry_header(err)
    return json_response(err.status, {"error": err.message}, headers)


def bind(handler: Callable[[Host, Request, re.Match[str]], Response], app: Host
         ) -> Callable[[Request, re.Match[str]], Response]:
    """Bind a handler to the app; refusals become JSON errors; HEAD answers carry no body
    (a server may send whatever the iterable yields)."""

    def run(req: Request, match: re.Match[str]) -> Response:
        try:
            status, headers, body = handler(app, req, match)
        except ModelgitError as err:
            status, headers, body = error_response(err)
        if req.method == "HEAD":
            close = getattr(body, "close", None)
            if close is not None:
                close()
            body = [b""]
        return status, headers, body

    run.__name__ = handler.__name__
    return run


def flag(req: Request, name: str) -> bool:
    return (req.arg(name) or "").strip().lower() in _TRUE


def _decode(raw: str, what: str) -> str:
    """A percent-decoded URL segment as UTF-8 (WSGI hands paths over as latin-1)."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(400, f"the {what} in the URL is not valid UTF-8") from None


def tail(req: Request, model_id: str, marker: str, fallback: str) -> list[str]:
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


def rev_only(req: Request, match: re.Match[str], marker: str) -> str:
    """The revision of ``.../<marker>/<rev>`` (all of the rest, slashes included)."""
    parts = tail(req, model_of(match), marker, match.group("rest"))
    rev = "/".join(parts)
    if not rev:
        raise HubError(400, "the URL names no revision")
    return rev


def small_body(req: Request, limit: int) -> bytes:
    return read_body(req.environ, limit)  # its BodyError is answered as any refusal


def json_body(req: Request, limit: int = MAX_SMALL_BODY) -> dict[str, Any]:
    """A JSON object body (:func:`modelgit.http.request.read_json`, whose refusals are
    answered as any other)."""
    body = read_json(req, limit)
    if not isinstance(body, dict):
        raise HubError(400, "the body must be a JSON object")
    return body


def allow(app: Host, req: Request, model_id: str, action: str) -> dict[str, Any]:
    """The model row if ``decide()`` allows ``action``; else the refusal the client expects."""
    decision, facts = app.model_decision(req, model_id, action)
    if not decision.allowed:
        moved = moved_location(app, req, model_id, decision.status)
        if moved is not None:  # the hub clients follow it, as after a rename on the hubs
            raise HubError(307, f"{model_id} was moved; use {moved}",
                           headers=[("Location", moved)])
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
        return header_text(f"{first} Request access: POST your answers to the model's form"
                            f" as JSON to {url} with your key as the Bearer token.")
    return header_text(text)


def open_repo(app: Host, model_id: str) -> pygit2.Repository:
    from modelgit.git.errors import RepositoryNotFound
    from modelgit.git.repo import open_model

    try:
        return open_model(app.cfg, model_id)
    except RepositoryNotFound:
        log.error("model %s has no readable repository", model_id)
        raise HubError(404, f"model {model_id} has no repository on this server",
                       "RepoNotFound") from None


def not_found_rev(rev: str, model_id: str) -> HubError:
    shown = header_text(rev, 120)
    return HubError(404, f"Invalid rev id: {shown} is not a branch, a tag or a commit of"
                         f" {model_id}", "RevisionNotFound")


def resolve_revision(repo: pygit2.Repository, rev: str, model_id: str) -> pygit2.Commit:
    """A branch, a tag or a commit id reachable from one of them (:mod:`modelgit.git.revisions`)
    as the hub's ``RevisionNotFound``."""
    from modelgit.git.errors import RevisionNotFound

    try:
        return revisions.resolve(repo, rev, reachable_only=True)
    except RevisionNotFound:
        raise not_found_rev(rev, model_id) from None


def default_commit(repo: pygit2.Repository, model: dict[str, Any]) -> pygit2.Commit | None:
    """The default branch's tip, or None for a repository with no commit yet."""
    return revisions.ref_commit(repo, f"refs/heads/{model['default_branch']}")


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def blob_meta(repo: pygit2.Repository, oid: pygit2.Oid) -> tuple[int, dict[str, Any] | None]:
    """``(blob size, lfs info or None)``; only blobs small enough to be pointers are read."""
    meta = trees.file_meta(repo, oid)
    if meta.pointer is None:
        return meta.size, None
    return meta.size, {"oid": meta.pointer.oid, "size": meta.pointer.size,
                       "pointerSize": meta.size}


def entry_json(repo: pygit2.Repository, path: str, entry: pygit2.Object) -> dict[str, Any]:
    """A tree or paths-info entry as the hubs shape it (``RepoFile`` / ``RepoFolder``)."""
    if entry.filemode == trees.TREE_MODE:
        return {"type": "directory", "oid": str(entry.id), "size": 0, "path": path}
    size, lfs = blob_meta(repo, entry.id)
    item: dict[str, Any] = {"type": "file", "oid": str(entry.id),
                            "size": lfs["size"] if lfs else size, "path": path}
    if lfs:
        item["lfs"] = lfs
    return item


def with_last_commits(repo: pygit2.Repository, commit: pygit2.Commit,
                       items: list[dict[str, Any]]) -> None:
    last = trees.last_commits(repo, commit, [item["path"] for item in items],
                              LAST_COMMIT_BUDGET)
    for item in items:
        found = last.get(item["path"])
        if found is not None:
            item["lastCommit"] = {"id": str(found.id),
                                  "title": found.message.strip().splitlines()[0]
                                  if found.message.strip() else "",
                                  "date": iso(found.commit_time)}
