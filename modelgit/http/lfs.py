"""Git LFS over HTTP: the batch API, basic transfers (PUT / GET / verify) and the locks API.

Everything under ``/<space>/<model>.git/info/lfs/``. The rules live in the pure cores
(:mod:`modelgit.lfs.batch`, :mod:`modelgit.lfs.locks`, :mod:`modelgit.lfs.storage`,
:mod:`modelgit.lfs.tokens`); this module authenticates, authorizes with the same
``decide()`` as git (upload needs ``write``, download ``read``, gating included), moves bytes
and shapes answers the way git-lfs expects them: JSON bodies ``{"message"}`` with
``application/vnd.git-lfs+json``, ``401`` with the Basic challenge so git-lfs asks the same
credential helper as git.

Transfers are authorized by a short-lived token signed over (model, oid, operation, user, key
id, approved size) that the batch answer puts both in each action's ``href`` (``?token=``) and
in the action's ``header`` (``X-Modelgit-Lfs-Token``): git-lfs sends that header with the
transfer, and the query copy keeps plain ``curl`` of an href working. The header is not
``Authorization`` because that one always carries a modelgit key here (the app checks it on
every request); the key itself never appears in a batch answer or a log line (its public id is
in the token, so that a revoked or regenerated key stops its links). A download or verify
without a valid token falls back to the caller's own key and ``decide()``; an upload does not,
because only a batch request approves its size against the space's quota.

Memory stays flat in object size: uploads stream from ``wsgi.input`` as they arrive on the
socket (the server spools nothing) through a reader bounded by ``Content-Length`` into the
storage, which hashes while it writes the one copy; downloads are a generator of 1 MiB pieces.

Only the standard library and ``modelgit.lfs`` are imported at the top: this module loads
with the server, and the quota code (which walks folders) loads on the first upload batch.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from modelgit.authz import keys
from modelgit.authz.decide import Subject
from modelgit.errors import ModelgitError
from modelgit.http.auth import AuthResult
from modelgit.http.request import (
    BodyError,
    Request,
    base_url,
    content_length,
    model_of,
    moved_location,
    read_body,
)
from modelgit.http.responses import CHALLENGE, parse_range, status_line, stream_file
from modelgit.lfs import locks
from modelgit.lfs.batch import (
    LFS_MEDIA_TYPE,
    MAX_BODY_BYTES,
    BatchContext,
    BatchError,
    batch_response,
    parse_batch_request,
    parse_verify_request,
)
from modelgit.lfs.storage import OID_RE, object_size, storage_for, validate_oid
from modelgit.lfs.tokens import Claims, check_claims, load_or_create_secret, make_token
from modelgit.services import access
from modelgit.store import now_iso

if TYPE_CHECKING:
    from modelgit.authz.decide import Decision
    from modelgit.http.responses import Response
    from modelgit.http.routes import Host

log = logging.getLogger("modelgit.lfs")

#: Header that carries the transfer token (the same token is also in the href's query).
TOKEN_HEADER = "X-Modelgit-Lfs-Token"  # noqa: S105 - a header name, not a secret
_TOKEN_ENVIRON = "HTTP_" + TOKEN_HEADER.upper().replace("-", "_")

#: Pieces a download is streamed in: one piece is all the memory a download holds.

#: Largest lock API request body (a lock path is at most 4096 characters).
MAX_LOCK_BODY = 64 * 1024

_LFS = r"/info/lfs"
_LOCK_ROLE_RANK = {"visitor": locks.VISITOR, "user": locks.USER, "developer": locks.DEVELOPER,
                   "maintainer": locks.MAINTAINER, "owner": locks.OWNER}


# --------------------------------------------------------------------------- responses
def lfs_json(code: int, obj: dict[str, Any], headers: list[tuple[str, str]] | None = None
             ) -> Response:
    """A JSON answer in the LFS media type (what git-lfs decodes, errors included)."""
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    hdrs = [("Content-Type", LFS_MEDIA_TYPE), ("Content-Length", str(len(body)))]
    return status_line(code), hdrs + (headers or []), [body]


def lfs_error(code: int, message: str, *, request_id: str | None = None,
              extra: dict[str, Any] | None = None) -> Response:
    """An LFS error body ``{"message", "request_id"?}``; a 401 carries the Basic challenge
    so git-lfs asks its credential helper (and erases a stale key), as git does."""
    body: dict[str, Any] = {**(extra or {}), "message": message}
    if request_id:
        body["request_id"] = request_id
    return lfs_json(code, body, [CHALLENGE] if code == 401 else None)


#: Most bytes asked of a ``wsgi.input`` without ``readinto`` at once: cheroot's own reader
#: allocates a buffer of the size asked for, and 1 MiB reads ran at half the speed of 256 KiB.
_READ_PIECE = 256 * 1024


class _BoundedReader:
    """``wsgi.input`` limited to ``Content-Length``: WSGI says reading past it may block
    forever, and the storage reads until it sees the end to notice a body that is too long.

    ``modelgit serve`` gives a ``wsgi.input`` that receives straight into the storage's
    buffer (``readinto``); any other ``wsgi.input`` is read and copied.
    """

    def __init__(self, stream: IO[bytes], length: int) -> None:
        self._stream = stream
        self._remaining = length
        self._readinto = getattr(stream, "readinto", None)

    def readinto(self, buffer: memoryview, /) -> int:
        if self._remaining <= 0:
            return 0
        view = buffer[: self._remaining]
        if self._readinto is not None:
            count = int(self._readinto(view) or 0)
        else:
            data = self._stream.read(min(len(view), _READ_PIECE))
            count = len(data)
            view[:count] = data
        self._remaining -= count
        return count


# --------------------------------------------------------------------------- routes
Handler = Callable[["Request", "re.Match[str]"], "Response"]


class LfsRoutes:
    """The LFS handlers of one app: its store, its object storage, its token secret.

    The secret is read from ``<data>/lfs/token.secret`` (made on first use) once per process;
    every front end sharing the data folder reads the same file, so any of them can check a
    token another one signed.
    """

    def __init__(self, app: Host) -> None:
        self.app = app
        self.cfg = app.cfg
        self.store = app.store
        self.storage = storage_for(self.cfg)
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_or_create_secret(self.cfg.lfs_dir / "token.secret")
        return self._secret

    def register(self) -> None:
        from modelgit.http.request import MODEL_PATH

        base = MODEL_PATH + _LFS
        add = self.app.add
        add("POST", base + r"/objects/batch", self._guard(self.batch))
        add("POST", base + r"/objects/verify", self._guard(self.verify))
        add("PUT", base + r"/objects/(?P<oid>[^/]+)", self._guard(self.upload))
        add(("GET", "HEAD"), base + r"/objects/(?P<oid>[^/]+)", self._guard(self.download))
        add("POST", base + r"/locks/verify", self._guard(self.locks_verify))
        add("POST", base + r"/locks/(?P<lock_id>[^/]+)/unlock", self._guard(self.unlock))
        add(("GET", "POST"), base + r"/locks", self._guard(self.locks))

    # -- plumbing --------------------------------------------------------------------
    def _guard(self, handler: Handler) -> Handler:
        """Expected refusals become LFS errors; anything else a JSON 500 whose request id
        is in the server log with the traceback (the client sees no internals)."""

        def run(req: Request, match: re.Match[str]) -> Response:
            try:
                return handler(req, match)
            except ModelgitError as err:  # StorageError, BatchError, LockError, BodyError...
                return lfs_error(err.status, err.message)
            except Exception:
                request_id = secrets.token_hex(8)
                log.exception("LFS request %s failed: %s %s", request_id, req.method,
                              req.path)
                return lfs_error(500, "internal error in the LFS server (details in the"
                                      " server log); nothing was changed",
                                 request_id=request_id)

        run.__name__ = handler.__name__
        return run

    def _deny(self, decision: Decision, model_id: str, req: Request) -> Response:
        decision = self.app.explain(decision, model_id, req)
        return lfs_error(decision.status, decision.reason)

    def _authorize(self, req: Request, model_id: str, action: str
                   ) -> tuple[Decision, dict[str, Any] | None, Response | None]:
        decision, row = self.app.model_decision(req, model_id, action)
        if not decision.allowed:
            moved = moved_location(self.app, req, model_id, decision.status)
            if moved is not None:  # a clone made with the old name still gets its objects
                status, headers, body = lfs_error(307, f"{model_id} was moved; use {moved}")
                return decision, row, (status, [*headers, ("Location", moved)], body)
            return decision, row, self._deny(decision, model_id, req)
        return decision, row, None

    def _read_body(self, req: Request, limit: int) -> bytes:
        try:
            return read_body(req.environ, limit)
        except BodyError as err:
            raise BatchError(err.status, err.message) from None

    def _json_body(self, req: Request, limit: int) -> dict[str, Any]:
        raw = self._read_body(req, limit)
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BatchError(400, "request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise BatchError(422, "request body must be a JSON object")
        return value

    def _transfer_auth(self, req: Request, model_id: str, oid: str, op: str, action: str
                       ) -> tuple[Claims | None, Response | None]:
        """Who may do ``op`` on ``oid``: the signed token's user and key, else the caller's
        key (downloads and verify only: an upload needs a token, because only a batch
        request approves a size against the space's quota).

        Returns ``(claims, None)`` (user ``""`` for an anonymous reader of a public model) or
        ``(None, refusal)``.
        """
        token = req.environ.get(_TOKEN_ENVIRON) or req.arg("token")
        if token:
            claims = check_claims(self.secret, str(token), repo=model_id, oid=oid, op=op,
                                  now=int(time.time()))
            if claims is not None:
                refusal = self._recheck(req, model_id, claims, action)
                return (None, refusal) if refusal is not None else (claims, None)
            if not req.auth.presented:
                return None, lfs_error(401, "this LFS transfer link has expired or is not valid"
                                            " for this object; run the git lfs command again")
        _, _, refusal = self._authorize(req, model_id, action)
        if refusal is not None:
            return None, refusal
        if op == "upload":
            return None, lfs_error(403, "an upload needs the link that the batch API answers"
                                        f" (POST /{model_id}.git/info/lfs/objects/batch), which"
                                        " checks the object's size against the space's quota;"
                                        " run the git lfs command again (git lfs push)")
        return Claims(req.subject.user or "", req.auth.key_id or "", None), None

    def _recheck(self, req: Request, model_id: str, claims: Claims, action: str
                 ) -> Response | None:
        """The token proves the batch allowed it; the key and the right are checked again
        now, so a key revoked or regenerated, a role revoked or a gate closed since then
        stops the transfer at once."""
        user = claims.user
        subject = Subject(user=None, is_admin=False, scope="read")  # an anonymous reader's link
        if user:
            found = access.subject_for(self.store, user)
            if found is None:
                return lfs_error(401, "the user of this transfer link is gone")
            key = self.store.get_key(claims.key_id) if claims.key_id else None
            if key is None or key["user"] != user or not keys.is_live(key, now_iso()):
                return lfs_error(401, "the key this transfer link was made for has been"
                                      " revoked or has expired; run the git lfs command again"
                                      " with a current key")
            subject = Subject(found.user, found.is_admin, scope=str(key["scope"]))
        as_user = Request(req.environ, AuthResult(subject, presented=bool(user), failed=False))
        _, _, refusal = self._authorize(as_user, model_id, action)
        return refusal

    def _token_maker(self, model_id: str, user: str, key_id: str, expires_at: int,
                     issued: dict[tuple[str, str], str]) -> Callable[[str, str, int], str]:
        def make(oid: str, op: str, size: int) -> str:
            token = make_token(self.secret, repo=model_id, oid=oid, op=op, user=user,
                               expires_at=expires_at, key_id=key_id, size=size)
            issued[(oid, op)] = token
            return token

        return make

    # -- batch -----------------------------------------------------------------------
    def batch(self, req: Request, match: re.Match[str]) -> Response:
        """``POST objects/batch``: which objects to send or fetch, and where (spec batch.md).

        The body is parsed first (bounded, pure) because its operation says which right to
        check: ``write`` for upload, ``read`` for download.
        """
        model_id = model_of(match)
        parsed = parse_batch_request(self._read_body(req, MAX_BODY_BYTES))
        operation = parsed["operation"]
        _, row, refusal = self._authorize(
            req, model_id, "write" if operation == "upload" else "read")
        if refusal is not None:
            return refusal
        assert row is not None
        oids = [o["oid"] for o in parsed["objects"]
                if isinstance(o.get("oid"), str) and OID_RE.fullmatch(o["oid"])]
        linked = self.store.linked_sizes(model_id, sorted(set(oids)))
        quota_left: int | None = None
        quota_message = ""
        if operation == "upload":
            from modelgit.quota import lfs_headroom

            quota_left, quota_message = lfs_headroom(self.cfg, self.store, row["space"])
        seconds = int(self.cfg.get("lfs.token_seconds"))
        issued: dict[tuple[str, str], str] = {}
        ctx = BatchContext(
            repo=model_id, operation=operation, base_url=base_url(self.app, req),
            linked=linked.get, stored=self.storage.get_size, quota_left=quota_left,
            quota_message=quota_message, header={}, expires_in=seconds,
            make_token=self._token_maker(model_id, req.subject.user or "",
                                         req.auth.key_id or "", int(time.time()) + seconds,
                                         issued),
        )
        answer = batch_response(parsed, ctx)
        for obj in answer["objects"]:
            for op, action in obj.get("actions", {}).items():
                action["header"] = {TOKEN_HEADER: issued[(obj["oid"], op)]}
        return lfs_json(200, answer)

    # -- transfers -------------------------------------------------------------------
    def upload(self, req: Request, match: re.Match[str]) -> Response:
        """``PUT objects/<oid>``: stream the body into the store, verify, then link the
        object to this model (only then may the model serve it).

        Only with the token of a batch answer, and only the size that batch approved: a body
        of another length is refused before a byte is read. The space's quota is checked
        again here, with that size, before writing (the batch checked it too, but the
        space may have filled up since, or another upload may have raced this one).
        """
        model_id = model_of(match)
        oid = validate_oid(match.group("oid"))
        claims, refusal = self._transfer_auth(req, model_id, oid, "upload", "write")
        if refusal is not None:
            return refusal
        assert claims is not None
        model = self.store.get_model(model_id)
        if model is None:  # deleted since the batch
            return lfs_error(404, f"model {model_id} not found")
        length = _content_length(req)
        if length is None:
            return lfs_error(411, "an upload needs a Content-Length header")
        approved = claims.size
        if approved is None or length != approved:
            return lfs_error(422, f"this upload link is for {approved} bytes but the request"
                                  f" body has {length}; nothing was stored. Send the object"
                                  " the batch request named, or ask the batch API again"
                                  " with its real size.")
        limit = int(self.cfg.get("max_body_bytes"))
        if length > limit:
            return lfs_error(413, f"object too large: this server accepts at most {limit}"
                                  " bytes per request")
        if self.store.linked_size(model_id, oid) is None:
            from modelgit.quota import lfs_headroom

            left, message = lfs_headroom(self.cfg, self.store, model["space"])
            if left is not None and approved > left:
                return lfs_error(507, message)
        stream = req.environ.get("wsgi.input")
        if stream is None:
            return lfs_error(400, "no request body")
        written = self.storage.put(oid, approved, _BoundedReader(stream, length))
        self.store.link_object(model_id, oid, written)
        log.info("lfs upload %s %s %d bytes by %s", model_id, oid, written, claims.user or "-")
        return status_line(200), [("Content-Length", "0")], [b""]

    def download(self, req: Request, match: re.Match[str]) -> Response:
        """``GET objects/<oid>``: stream a linked object, honouring one ``Range``."""
        model_id = model_of(match)
        oid = validate_oid(match.group("oid"))
        _, refusal = self._transfer_auth(req, model_id, oid, "download", "read")
        if refusal is not None:
            return refusal
        if self.store.linked_size(model_id, oid) is None:
            return lfs_error(404, f"object not found in {model_id}")
        handle = self.storage.open(oid)
        try:
            size = object_size(handle)
            headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
            first, last, code = 0, size - 1, 200
            wanted = req.header("Range")
            if wanted is not None:
                span = parse_range(wanted, size)
                if span is None:
                    handle.close()
                    status, hdrs, body = lfs_error(
                        416, f"range not satisfiable: the object has {size} bytes")
                    return status, [*hdrs, ("Content-Range", f"bytes */{size}")], body
                first, last = span
                code = 206
                headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
            length = last - first + 1 if size else 0
            headers.append(("Content-Length", str(length)))
            if req.method == "HEAD":
                handle.close()
                return status_line(code), headers, [b""]
            return status_line(code), headers, stream_file(handle, first, length)
        except BaseException:
            handle.close()
            raise

    def verify(self, req: Request, match: re.Match[str]) -> Response:
        """``POST objects/verify``: the object is stored, linked here, and of that size."""
        model_id = model_of(match)
        oid, size = parse_verify_request(self._read_body(req, MAX_BODY_BYTES))
        _, refusal = self._transfer_auth(req, model_id, oid, "verify", "write")
        if refusal is not None:
            return refusal
        linked = self.store.linked_size(model_id, oid)
        stored = self.storage.get_size(oid)
        if linked is None or stored is None:
            return lfs_error(404, f"object {oid} is not stored in {model_id}; upload it again")
        if linked != size or stored != size:
            return lfs_error(422, f"size mismatch: the stored object has {stored} bytes,"
                                  f" not {size}")
        return lfs_json(200, {"oid": oid, "size": size})

    # -- locks -----------------------------------------------------------------------
    def locks(self, req: Request, match: re.Match[str]) -> Response:
        """``GET locks`` lists (read access); ``POST locks`` creates (push access)."""
        model_id = model_of(match)
        if req.method == "POST":
            return self._create_lock(req, model_id)
        _, _, refusal = self._authorize(req, model_id, "read")
        if refusal is not None:
            return refusal
        limit = locks.clamp_limit(req.arg("limit"))
        from_id = _cursor(req.arg("cursor"))
        lock_id_text = req.arg("id")
        lock_id: int | None = None
        if lock_id_text:
            lock_id = _int_id(lock_id_text)
            if lock_id is None:
                return lfs_json(200, {"locks": []})
        rows = self.store.list_locks(model_id, path=req.arg("path") or None, lock_id=lock_id,
                                     from_id=from_id, limit=limit + 1)
        return lfs_json(200, locks.list_response(rows, None, limit))

    def _create_lock(self, req: Request, model_id: str) -> Response:
        decision, _, refusal = self._authorize(req, model_id, "write")
        if refusal is not None:
            return refusal
        if not locks.may_lock(_LOCK_ROLE_RANK.get(decision.role or "", locks.VISITOR)):
            return lfs_error(403, "creating locks needs push access (developer or above)")
        body = self._json_body(req, MAX_LOCK_BODY)
        path = locks.validate_lock_path(body.get("path"))
        user = req.subject.user or ""
        row, created = self.store.add_lock(model_id, path, user)
        if not created:
            return lfs_json(409, locks.lock_conflict(row))
        return lfs_json(201, {"lock": locks.lock_json(row)})

    def locks_verify(self, req: Request, match: re.Match[str]) -> Response:
        """``POST locks/verify``: git push asks which locks are ours and theirs."""
        model_id = model_of(match)
        _, _, refusal = self._authorize(req, model_id, "write")
        if refusal is not None:
            return refusal
        body = self._json_body(req, MAX_LOCK_BODY)
        limit = locks.clamp_limit(body.get("limit"))
        from_id = _cursor(body.get("cursor"))
        rows = self.store.list_locks(model_id, from_id=from_id, limit=limit + 1)
        return lfs_json(200, locks.verify_response(rows, req.subject.user or "", None, limit))

    def unlock(self, req: Request, match: re.Match[str]) -> Response:
        """``POST locks/<id>/unlock``: owners of a lock unlock it; maintainers may force."""
        model_id = model_of(match)
        decision, _, refusal = self._authorize(req, model_id, "write")
        if refusal is not None:
            return refusal
        lock_id = _int_id(match.group("lock_id"))
        row = self.store.get_lock(model_id, lock_id) if lock_id is not None else None
        if row is None:
            return lfs_error(404, f"no lock {match.group('lock_id')} in {model_id}")
        body = self._json_body(req, MAX_LOCK_BODY)
        force = body.get("force") is True
        user = req.subject.user or ""
        allowed, status, message = locks.may_unlock(
            row["owner"], user, force, _LOCK_ROLE_RANK.get(decision.role or "", locks.VISITOR))
        if not allowed:
            return lfs_error(status, message)
        self.store.delete_lock(model_id, int(row["id"]))
        log.info("lfs unlock %s %s by %s%s", model_id, row["path"], user,
                 " (forced)" if force and row["owner"] != user else "")
        return lfs_json(200, {"lock": locks.lock_json(row)})


def _content_length(req: Request) -> int | None:
    try:
        return content_length(req.environ)
    except BodyError as err:
        raise BatchError(err.status, err.message) from None


def _int_id(text: object) -> int | None:
    value = str(text)
    return int(value) if value.isdecimal() and len(value) <= 18 else None


def _cursor(value: object) -> int:
    """A page cursor (the first lock id of the page); none or empty starts at the top."""
    if value is None or value == "":
        return 0
    cursor = _int_id(value) if not isinstance(value, bool) else None
    if cursor is None:
        raise BatchError(422, "cursor must be a lock id from next_cursor")
    return cursor


def register(app: Host) -> None:
    """Add the LFS routes to the app (before its catch-all git route)."""
    LfsRoutes(app).register()
