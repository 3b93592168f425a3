"""The LFS batch API as pure functions: request bytes in, response dict out.

No HTTP, no database, no clock: everything the answer depends on comes in through
:class:`BatchContext` (callables for what the store knows, a callable that signs hrefs), so
every rule is tested with plain dicts and the HTTP layer only authenticates, authorizes the
operation (write for upload, read for download) and serializes.

The rule that matters most: a model serves only objects **linked** to it. Knowing an oid
(from another model, a leaked pointer file) grants nothing, so a download of an unlinked
object is a 404 even when the bytes are in the store, and an upload of such an object still
gets an upload action: the uploader proves possession by sending the bytes, which the server
verifies before linking.

Spec: git-lfs ``docs/api/batch.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from modelgit.errors import ModelgitError
from modelgit.lfs.storage import StorageError, validate_oid, validate_size

#: Most objects one batch request may name (issue 9); git-lfs sends 100 per request.
MAX_OBJECTS = 1000

#: Largest batch request body read; MAX_OBJECTS objects take about 100 kB.
MAX_BODY_BYTES = 1 << 20

#: The only hash algorithm and transfer adapter served.
HASH_ALGO = "sha256"
TRANSFER = "basic"
OPERATIONS = ("upload", "download")

#: Media type of every LFS API request and response body.
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"


class BatchError(ModelgitError):
    """A whole-request refusal: the HTTP layer answers ``status`` with :meth:`body`.

    Per-object problems are not raised; they become ``error`` entries in the response.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)

    def body(self) -> dict[str, Any]:
        """The JSON error body the batch spec defines (``message`` only)."""
        return {"message": self.message}


@dataclass(frozen=True)
class BatchContext:
    """What the batch answer depends on, gathered by the HTTP layer after authorization."""

    repo: str  # "space/model"
    operation: str  # "upload" | "download"; the operation the caller was authorized for
    base_url: str  # e.g. "http://127.0.0.1:8080"; hrefs are built under it
    linked: Callable[[str], int | None]  # size if THIS model has the object linked, else None
    stored: Callable[[str], int | None]  # size if the bytes are in the store (grants nothing)
    quota_left: int | None  # bytes the space may still add; None: unlimited
    quota_message: str  # "space quota exceeded: used X of Y"
    header: dict[str, str]  # headers git-lfs must send with each transfer (authorization)
    expires_in: int  # seconds the hrefs' tokens stay valid
    make_token: Callable[[str, str, int], str]  # (oid, op, approved size) -> href token


def parse_batch_request(body: bytes) -> dict[str, Any]:
    """Parse and check the shape of a batch request; raise :class:`BatchError` if unusable.

    Returns ``{"operation", "transfers", "ref", "objects", "hash_algo"}`` with defaults
    filled in. Object entries must be JSON objects, but their ``oid`` and ``size`` are not
    checked here: the spec wants a bad oid or size reported per object (422), with the other
    objects still served, which :func:`batch_response` does.

    Status codes: 400 unreadable JSON, 422 wrong shape, 413 too large or more than
    :data:`MAX_OBJECTS` objects (the spec's code for "too many objects"), 409 a hash
    algorithm other than sha256 (the spec's code for a hash algorithm the server refuses).
    """
    if len(body) > MAX_BODY_BYTES:
        raise BatchError(413, f"batch request too large: more than {MAX_BODY_BYTES} bytes")
    try:
        req = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BatchError(400, "batch request is not valid JSON") from None
    if not isinstance(req, dict):
        raise BatchError(422, "batch request must be a JSON object")

    operation = req.get("operation")
    if operation not in OPERATIONS:
        raise BatchError(422, 'operation must be "upload" or "download"')

    transfers = req.get("transfers")
    if transfers is None:
        transfers = [TRANSFER]  # spec: omitted means basic
    if not isinstance(transfers, list) or not all(isinstance(t, str) for t in transfers):
        raise BatchError(422, "transfers must be a list of strings")
    if TRANSFER not in transfers:
        raise BatchError(422, 'this server offers only the "basic" transfer adapter')

    ref = req.get("ref")
    if ref is not None and not (isinstance(ref, dict) and isinstance(ref.get("name"), str)):
        raise BatchError(422, 'ref must be null or {"name": "<refspec>"}')

    hash_algo = req.get("hash_algo", HASH_ALGO)
    if hash_algo != HASH_ALGO:
        raise BatchError(409, f'unsupported hash_algo; this server uses "{HASH_ALGO}"')

    objects = req.get("objects")
    if not isinstance(objects, list):
        raise BatchError(422, "objects must be a list")
    if len(objects) > MAX_OBJECTS:
        raise BatchError(
            413, f"too many objects in one batch request: {len(objects)} (limit {MAX_OBJECTS})"
        )
    if not all(isinstance(obj, dict) for obj in objects):
        raise BatchError(422, 'each entry of objects must be {"oid": ..., "size": ...}')

    return {
        "operation": operation,
        "transfers": transfers,
        "ref": ref,
        "objects": objects,
        "hash_algo": hash_algo,
    }


def object_href(base_url: str, repo: str, oid: str, token: str) -> str:
    """URL of the transfer endpoint for one object (``GET`` download, ``PUT`` upload)."""
    return f"{_lfs_root(base_url, repo)}/objects/{oid}?token={quote(token, safe='')}"


def verify_href(base_url: str, repo: str, token: str) -> str:
    """URL of the verify endpoint (``POST`` with ``{"oid", "size"}``)."""
    return f"{_lfs_root(base_url, repo)}/objects/verify?token={quote(token, safe='')}"


def _lfs_root(base_url: str, repo: str) -> str:
    return f"{base_url.rstrip('/')}/{quote(repo, safe='/')}.git/info/lfs"


def batch_response(req: dict[str, Any], ctx: BatchContext) -> dict[str, Any]:
    """The batch response for a request from :func:`parse_batch_request`.

    Per object, in request order:

    - invalid oid or size: ``error`` 422;
    - download: ``download`` action if the object is linked to this model and its bytes are
      stored, else ``error`` 404 (another model's copy does not count);
    - upload, object linked and stored: no ``actions`` (the client skips it); a size that
      disagrees with the stored one is a 422;
    - upload otherwise: ``upload`` and ``verify`` actions, unless the running total of bytes
      to add passes ``quota_left``: then ``error`` 507 with ``quota_message``, which git-lfs
      prints. Objects already linked add nothing to the total; an oid named twice counts once.

    Raises ``ValueError`` if the request's operation is not the one ``ctx`` was authorized
    for: serving an upload under a download authorization would be a privilege bug.
    """
    operation = req["operation"]
    if operation != ctx.operation:
        raise ValueError(
            f"batch operation {operation!r} does not match the authorized {ctx.operation!r}"
        )
    objects: list[dict[str, Any]] = []
    adding = 0  # bytes this request would add to the space
    fits: dict[str, bool] = {}  # quota decision per oid, so a repeated oid gets the same one
    for entry in req["objects"]:
        raw_oid, raw_size = entry.get("oid"), entry.get("size")
        try:
            oid, size = validate_oid(raw_oid), validate_size(raw_size)
        except StorageError as err:
            objects.append(_error_object(raw_oid, raw_size, err.status, err.message))
            continue
        if operation == "download":
            objects.append(_download_object(oid, size, ctx))
            continue
        linked = ctx.linked(oid)
        if linked is not None and ctx.stored(oid) is not None:
            if linked != size:
                objects.append(
                    _error_object(oid, size, 422, f"size mismatch: this object has {linked} bytes")
                )
            else:
                objects.append({"oid": oid, "size": linked})
            continue
        if oid not in fits:
            if linked is None:  # a linked object's bytes are already in the space's usage
                adding += size
            fits[oid] = ctx.quota_left is None or adding <= ctx.quota_left
        if not fits[oid]:
            objects.append(_error_object(oid, size, 507, ctx.quota_message))
            continue
        objects.append(_upload_object(oid, size, ctx))
    return {"transfer": TRANSFER, "objects": objects, "hash_algo": HASH_ALGO}


def _download_object(oid: str, size: int, ctx: BatchContext) -> dict[str, Any]:
    linked = ctx.linked(oid)
    if linked is None:
        return _error_object(oid, size, 404, f"object not found in {ctx.repo}")
    if ctx.stored(oid) is None:
        # Linked but the bytes are gone (lost volume, interrupted gc): say so, not "no such".
        return _error_object(oid, size, 404, f"object of {ctx.repo} is missing from storage")
    token = ctx.make_token(oid, "download", linked)
    return {
        "oid": oid,
        "size": linked,
        "authenticated": True,
        "actions": {"download": _action(object_href(ctx.base_url, ctx.repo, oid, token), ctx)},
    }


def _upload_object(oid: str, size: int, ctx: BatchContext) -> dict[str, Any]:
    upload = object_href(ctx.base_url, ctx.repo, oid, ctx.make_token(oid, "upload", size))
    verify = verify_href(ctx.base_url, ctx.repo, ctx.make_token(oid, "verify", size))
    return {
        "oid": oid,
        "size": size,
        "authenticated": True,
        "actions": {"upload": _action(upload, ctx), "verify": _action(verify, ctx)},
    }


def _action(href: str, ctx: BatchContext) -> dict[str, Any]:
    action: dict[str, Any] = {"href": href, "expires_in": ctx.expires_in}
    if ctx.header:
        action["header"] = dict(ctx.header)
    return action


def _error_object(oid: object, size: object, code: int, message: str) -> dict[str, Any]:
    """A per-object error; echoes the oid and size only when they have the right types."""
    return {
        "oid": oid if isinstance(oid, str) else "",
        "size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
        "error": {"code": code, "message": message},
    }


def parse_verify_request(body: bytes) -> tuple[str, int]:
    """The ``(oid, size)`` of a verify request body; :class:`BatchError` 422 if malformed."""
    if len(body) > MAX_BODY_BYTES:
        raise BatchError(413, "verify request too large")
    try:
        req = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BatchError(400, "verify request is not valid JSON") from None
    if not isinstance(req, dict):
        raise BatchError(422, 'verify request must be {"oid": ..., "size": ...}')
    try:
        return validate_oid(req.get("oid")), validate_size(req.get("size"))
    except StorageError as err:
        raise BatchError(422, err.message) from None
