"""File bytes: ``/resolve`` and ``/raw``, from git or from LFS storage, with ranges."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pygit2

from modelgit.git import commands, trees
from modelgit.http.hub.common import (
    BLOB_IN_MEMORY,
    HubError,
    allow,
    blob_meta,
    open_repo,
    resolve_revision,
    tail,
)
from modelgit.http.hub.xet import xet_headers
from modelgit.http.request import model_of
from modelgit.http.responses import (
    Response,
    parse_range,
    status_line,
    stream_file,
)
from modelgit.hubcommit import clean_path

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


def resolve(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``resolve`` serves a file's content (LFS objects from the object store); ``raw``
    serves the git blob itself. Both need the ``read`` right, gating included."""
    model_id = model_of(match)
    allow(app, req, model_id, "read")
    kind = match.group("kind")
    parts = tail(req, model_id, kind, match.group("rest"))
    if len(parts) < 2:
        raise HubError(400, f"use /{model_id}/{kind}/<revision>/<path>")
    repo = open_repo(app, model_id)
    commit = resolve_revision(repo, parts[0], model_id)
    sha = str(commit.id)
    path = clean_path("/".join(parts[1:]))
    entry = trees.lookup(commit.tree, path)
    if entry is None or entry.filemode not in trees.BLOB_MODES:
        raise HubError(404, f"{path} does not exist at {sha} in {model_id}", "EntryNotFound",
                       [("X-Repo-Commit", sha)])
    size, lfs = blob_meta(repo, entry.id)
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
    headers += xet_headers(app, req, model_id, oid, dict(headers)["X-Repo-Commit"])
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
