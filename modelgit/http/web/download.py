"""``/-/m/<space>/<model>/download?rev=&path=``: a file of the model, for the signed-in person.

The model page's download links come here rather than to the hub's ``/resolve/`` route: that
route authenticates with HTTP Basic (keys, as git and ``huggingface_hub`` send them), so a
browser on a private or gated model would pop up a password prompt although the person is
signed in. Here the session decides, with the same ``decide()`` as git and the API and the
same order of answers: a model the person may not see is the 404 of a missing model; one
they may see but not ``read`` (gated without an accepted request, or signed out) sends a
signed-out visitor to sign in and tells a signed-in one why, with the way to the gate. The
hub's route and its authentication stay as they are.

The bytes are the git blob, or for an LFS pointer the LFS object (only one linked to this
model, as the hub serves it), with one byte range for resumed downloads. A file of the model
is someone's upload served from the site's own origin, where the session cookie lives, so it
is always an ``attachment`` of type ``application/octet-stream`` with ``nosniff`` and a
sandboxing Content-Security-Policy: a browser saves it and never renders it as a page.
GET only: nothing changes, so there is no form and no CSRF token to check.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pygit2

from modelgit.errors import Forbidden, NotFound
from modelgit.git import commands, trees
from modelgit.http.request import model_of
from modelgit.http.responses import Response, parse_range, status_line, stream_file
from modelgit.http.web.context import Page, signin_url
from modelgit.http.web.model_page import clean_path, commit_at, open_repo, require_view

#: Git blobs up to this size are answered from memory; larger ones stream from git.
BLOB_IN_MEMORY = 32 * 1024 * 1024
#: What every download carries: save it, never render or sniff it, never frame it.
FILE_HEADERS = [
    ("Content-Type", "application/octet-stream"),
    ("Content-Security-Policy", "default-src 'none'; sandbox"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "private, no-store"),
    ("Accept-Ranges", "bytes"),
]


def _disposition(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "_")
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}; filename=\"{ascii_name}\""


def _require_read(pg: Page, model_id: str) -> Response | None:
    """None when the person may download; else the answer (sign in first), or a refusal."""
    decision, _ = pg.host.model_decision(pg.req, model_id, "read")
    if decision.allowed:
        return None
    if pg.user is None:
        return pg.redirect(signin_url(pg.req))
    raise Forbidden(pg.host.explain(decision, model_id, pg.req).reason,
                    hint=f"see /-/m/{model_id}/access")


def _span(pg: Page, size: int, headers: list[tuple[str, str]]
          ) -> tuple[int, int, int] | None:
    """``(status, first byte, length)`` for the request's one ``Range``, if any; None when
    the range cannot be served (the caller answers 416)."""
    wanted = pg.req.header("Range")
    if wanted is None:
        headers.append(("Content-Length", str(size)))
        return 200, 0, size
    span = parse_range(wanted, size)
    if span is None:
        return None
    first, last = span
    headers += [("Content-Range", f"bytes {first}-{last}/{size}"),
                ("Content-Length", str(last - first + 1))]
    return 206, first, last - first + 1


def _unsatisfiable(size: int) -> Response:
    return (status_line(416), [*FILE_HEADERS, ("Content-Range", f"bytes */{size}"),
                               ("Content-Length", "0")], [b""])


def download(pg: Page, match: re.Match[str]) -> Response:
    model_id = model_of(match)
    model = require_view(pg, model_id)
    refused = _require_read(pg, model_id)
    if refused is not None:
        return refused
    path = clean_path(pg.req.arg("path") or "")
    repo = open_repo(pg, model_id)
    commit = commit_at(repo, model, (pg.req.arg("rev") or "").strip())
    entry = trees.lookup(commit.tree, path) if commit is not None and path else None
    if entry is None or entry.filemode not in trees.BLOB_MODES:
        raise NotFound(f"there is no file {path!r} at that revision of {model_id}",
                       hint="pick it from the model's page")
    sha = str(commit.id) if commit is not None else ""
    headers = [*FILE_HEADERS, ("Content-Disposition", _disposition(path)),
               ("X-Repo-Commit", sha)]
    meta = trees.file_meta(repo, entry.id)
    if meta.pointer is not None:
        return _lfs(pg, model_id, path, meta.pointer.oid, meta.pointer.size, headers)
    headers.append(("ETag", f'"{entry.id}"'))
    return _blob(pg, repo, entry.id, meta.size, headers)


def _lfs(pg: Page, model_id: str, path: str, oid: str, size: int,
         headers: list[tuple[str, str]]) -> Response:
    """An LFS file's bytes: only an object linked to this model and fully stored."""
    from modelgit.lfs.storage import StorageError, storage_for

    storage = storage_for(pg.host.cfg)
    if pg.host.store.linked_size(model_id, oid) is None or storage.get_size(oid) != size:
        raise NotFound(f"the bytes of {path} (LFS object {oid}) were never uploaded to"
                       f" {model_id}", hint="push them with `git lfs push --all`")
    headers.append(("ETag", f'"{oid}"'))
    span = _span(pg, size, headers)
    if span is None:
        return _unsatisfiable(size)
    status, first, length = span
    try:
        handle = storage.open(oid)
    except StorageError:
        raise NotFound(f"the LFS object of {path} is missing from the store") from None
    return status_line(status), headers, stream_file(handle, first, length)


def _blob(pg: Page, repo: pygit2.Repository, oid: pygit2.Oid, size: int,
          headers: list[tuple[str, str]]) -> Response:
    span = _span(pg, size, headers)
    if span is None:
        return _unsatisfiable(size)
    status, first, length = span
    body: Any
    if size <= BLOB_IN_MEMORY:
        body = [trees.read_blob(repo, oid)[first:first + length]]
    else:
        body = commands.stream_blob(repo.path, str(oid), first, length)
    return status_line(status), headers, body
