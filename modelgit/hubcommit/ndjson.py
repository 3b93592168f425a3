"""Reading the client's NDJSON commit body: a header line, then one line per operation."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import pygit2

from modelgit import strictjson
from modelgit.hubcommit.limits import MAX_OPERATIONS, HubError
from modelgit.hubcommit.paths import clean_path
from modelgit.lfs import pointer as pointer_codec

_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_OID = re.compile(r"^[0-9a-f]{64}$")


def iter_lines(stream: IO[bytes], length: int, max_line: int) -> Iterator[bytes]:
    """The non-blank lines of a body of ``length`` bytes, each at most ``max_line`` bytes.

    Reads in 1 MiB pieces and never past ``length`` (WSGI says reading past it may block).
    """
    remaining = length
    pending = b""
    while remaining > 0:
        chunk = stream.read(min(1 << 20, remaining))
        if not chunk:
            raise HubError(400, "the body ended before Content-Length bytes arrived")
        remaining -= len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if len(line) > max_line:
                raise _line_too_long(max_line)
            if line.strip():
                yield line
        if len(pending) > max_line:
            raise _line_too_long(max_line)
    if pending.strip():
        yield pending


def _line_too_long(max_line: int) -> HubError:
    return HubError(413, f"a commit line is longer than {max_line} bytes: files over the LFS"
                         " threshold must be uploaded through LFS (preupload says which)")


def _decode_line(line: bytes) -> tuple[str, dict[str, Any]]:
    try:
        item = strictjson.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HubError(400, f"a commit line is not valid JSON: {str(exc)[:200]}") from exc
    if (not isinstance(item, dict) or set(item) != {"key", "value"}
            or not isinstance(item["key"], str) or not isinstance(item["value"], dict)):
        raise HubError(400, 'each commit line must be {"key": ..., "value": {...}}')
    return item["key"], item["value"]


@dataclass(frozen=True)
class Header:
    summary: str
    description: str
    parent: str | None


@dataclass(frozen=True)
class Operation:
    """One change to the tree: ``add`` (with a blob already written), ``delete_file``,
    ``delete_folder``. ``lfs`` is ``(oid, size)`` for an LFS file."""

    kind: str
    path: str
    blob: pygit2.Oid | None = None
    lfs: tuple[str, int] | None = None


def _header(value: dict[str, Any]) -> Header:
    unknown = set(value) - {"summary", "description", "parentCommit"}
    if unknown:
        raise HubError(400, f"unknown header fields: {', '.join(sorted(unknown))}")
    summary = value.get("summary")
    description = value.get("description") or ""
    parent = value.get("parentCommit")
    if not isinstance(summary, str) or not summary.strip():
        raise HubError(400, "the commit needs a summary (the commit message)")
    if not isinstance(description, str):
        raise HubError(400, "description must be a string")
    if len(summary) + len(description) > 1024 * 1024:
        raise HubError(400, "the commit message is longer than 1 MiB")
    if parent is not None and (not isinstance(parent, str) or not _HEX.fullmatch(parent)):
        raise HubError(400, "parentCommit must be a commit id (7 to 40 lowercase hex digits)")
    return Header(summary.strip(), description.strip(), parent)


def _fields(value: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(value) - allowed
    if unknown:
        raise HubError(400, f"unknown fields: {', '.join(sorted(unknown))}")


def parse_commit(lines: Iterator[bytes], repo: pygit2.Repository, *, model_id: str,
                 linked_size: Callable[[str], int | None], stored_size: Callable[[str], int | None],
                 max_file: int) -> tuple[Header, list[Operation]]:
    """Read the NDJSON commit, writing each regular file's blob into ``repo``'s object
    database (the quarantine) as soon as it is read.

    LFS files must already be linked to this model (uploaded through its batch API) with the
    size the line states: an oid known from another model grants nothing.
    """
    header: Header | None = None
    ops: list[Operation] = []
    for line in lines:
        key, value = _decode_line(line)
        if header is None:
            if key != "header":
                raise HubError(400, "the first commit line must be the header")
            header = _header(value)
            continue
        if len(ops) >= MAX_OPERATIONS:
            raise HubError(413, f"a commit may have at most {MAX_OPERATIONS} operations")
        if key == "file":
            _fields(value, {"path", "content", "encoding"})
            path = clean_path(value.get("path"))
            content = value.get("content")
            if value.get("encoding", "base64") != "base64" or not isinstance(content, str):
                raise HubError(400, f"{path}: file content must be a base64 string")
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise HubError(400, f"{path}: file content is not valid base64") from None
            if len(data) > max_file:
                raise HubError(413, f"{path} is {len(data)} bytes: files over {max_file} bytes"
                                    " must be uploaded through LFS")
            ops.append(Operation("add", path, blob=repo.create_blob(data)))
        elif key == "lfsFile":
            _fields(value, {"path", "algo", "oid", "size"})
            path = clean_path(value.get("path"))
            oid = value.get("oid")
            if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) \
                    or not _OID.fullmatch(oid):
                raise HubError(400, f"{path}: lfsFile needs algo sha256 and a 64-hex oid")
            size = value.get("size")
            linked = linked_size(oid)
            if linked is None or stored_size(oid) != linked:
                raise HubError(422, [
                    f"modelgit: {path}: LFS object {oid} has not been uploaded to {model_id}.",
                    "modelgit: upload it through the model's LFS batch API first (the hub"
                    " client does this before committing; git-lfs does it on push)."])
            if size is None:
                size = linked
            if isinstance(size, bool) or not isinstance(size, int) or size != linked:
                raise HubError(422, f"{path}: LFS object {oid} has {linked} bytes, not {size}")
            pointer = repo.create_blob(pointer_codec.encode(oid, size))
            ops.append(Operation("add", path, blob=pointer, lfs=(oid, size)))
        elif key in ("deletedFile", "deletedFolder"):
            _fields(value, {"path"})
            raw = value.get("path")
            if key == "deletedFolder" and isinstance(raw, str):
                raw = raw.rstrip("/")
            kind = "delete_file" if key == "deletedFile" else "delete_folder"
            ops.append(Operation(kind, clean_path(raw)))
        else:
            raise HubError(400, f"unknown commit operation {key!r}: modelgit takes file,"
                                " lfsFile, deletedFile and deletedFolder")
    if header is None:
        raise HubError(400, "the commit body is empty: send an NDJSON header line first")
    return header, ops
