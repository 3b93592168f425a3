"""The Xet endpoints: access tokens for huggingface_hub and the CAS that ``hf_xet`` talks to.

Token endpoints (hub API, the caller's key)::

    GET /api/models/<space>/<model>/xet-{read,write}-token[/<rev>]
        -> {"accessToken", "exp", "casUrl"} and the X-Xet-* headers huggingface_hub reads

The CAS (``casUrl`` is ``<site>/api/xet``; every call carries ``Authorization: Bearer`` with
the access token, except the signed upload and fetch links, which carry their own)::

    GET  /v1/chunks/<prefix>/<hash>                    dedupe query: a shard, or 404
    POST /v1/xorb-grants/default/<hash>               200 already stored, 201 a grant
    PUT  /v1/xorb-uploads/<hash>?grant=<link>          the xorb (the grant's URL)
    POST /v1/xorb-commits/default/<hash>/grant/<id>   200 when the grant's xorb is stored
    POST /v1/xorbs/default/<hash>                      direct xorb upload {"was_inserted"}
    POST /v2/shards                                    NDJSON progress frames, then result
    POST /v1/shards                                    {"result": 1}
    POST /v1/telemetry                                 accepted and dropped
    GET  /v1/reconstructions/<file hash>   (Range)     the V1 reconstruction
    GET  /v2/reconstructions/<file hash>   (Range)     the same, in V2's shape
    GET  /v1/xorb-data/<hash>?t=<link>     (Range)     xorb bytes (the fetch_info URLs)

Every body is bounded; every xorb and shard is verified before anything is recorded
(:mod:`modelgit.services.xet`). Tokens never reach a log line: the access log shows paths,
and the signed links travel in query strings (and the grant id is a random, unsigned name).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import secrets
import threading
from typing import TYPE_CHECKING, Any

from modelgit.errors import Invalid, ModelgitError, Unavailable
from modelgit.http.hub.common import MODEL_API, HubError, allow, bind
from modelgit.http.request import BodyError, base_url, model_of, read_body, reused_body
from modelgit.http.responses import Response, json_response, parse_range, status_line, stream_file
from modelgit.services import xet as service
from modelgit.xet import shard as shard_format
from modelgit.xet import xorb as xorb_format

if TYPE_CHECKING:
    from collections.abc import Iterator

    from modelgit.http.request import Request
    from modelgit.http.routes import Host

CAS_PATH = "/api/xet"
#: Seconds between repeats of the last progress frame of a V2 shard upload (xet-core's CAS
#: re-sends its last frame as a heartbeat too).
HEARTBEAT_SECONDS = 5.0
log = logging.getLogger("modelgit.xet")
#: Shards whose files are rebuilt at once, per server process (V1 and V2 together). A V2
#: registration outlives its request when the client hangs up; without a bound, a client
#: that posts shards and hangs up at once would start rebuilds without end. Waiting ones
#: keep their stream alive with heartbeats.
MAX_REBUILDS = 4
_REBUILDS = threading.BoundedSemaphore(MAX_REBUILDS)
_HASH = r"(?P<hash>[0-9a-f]{64})"
_SMALL = 64 * 1024


def _bearer(req: Request) -> str | None:
    header = req.header("Authorization") or ""
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _body(req: Request, limit: int) -> bytes:
    try:
        return read_body(req.environ, limit)
    except BodyError as err:
        raise HubError(err.status, err.message) from None


@contextlib.contextmanager
def _xorb_body(req: Request) -> Iterator[bytes | memoryview]:
    """A xorb's body, in a receive buffer reused between requests (``reused_body``); it is
    verified and stored inside the block, and nothing keeps a view of it after."""
    try:
        with reused_body(req.environ, xorb_format.MAX_XORB_BYTES) as body:
            yield body
    except BodyError as err:
        raise HubError(err.status, err.message) from None


# -- tokens -------------------------------------------------------------------------------
def xet_token(app: Host, req: Request, match: re.Match[str]) -> Response:
    """An access token for a caller allowed to read (or write) the model, as git would be."""
    model_id = model_of(match)
    right = match.group("xet")
    allow(app, req, model_id, right)
    token, expires = service.issue(app.cfg, model_id, right, req.subject.user or "",
                                   req.auth.key_id or "")
    cas = base_url(app, req) + CAS_PATH
    return json_response(200, {"accessToken": token, "exp": expires, "casUrl": cas}, [
        ("X-Xet-Cas-Url", cas), ("X-Xet-Access-Token", token),
        ("X-Xet-Token-Expiration", str(expires)), ("Cache-Control", "no-store")])


def xet_headers(app: Host, req: Request, model_id: str, oid: str, commit: str
                ) -> list[tuple[str, str]]:
    """What ``resolve`` adds for an LFS object that has a Xet reconstruction in this model:
    its Xet hash and where to get a read token, so huggingface_hub may download it through
    Xet (plain HTTP keeps working for everybody else)."""
    found = service.file_for_sha256(app.store, model_id, oid)
    if found is None:
        return []
    route = f"{base_url(app, req)}/api/models/{model_id}/xet-read-token/{commit}"
    return [("X-Xet-Hash", str(found["file_hash"])), ("X-Xet-Refresh-Route", route)]


# -- CAS ------------------------------------------------------------------------------------
def _access(app: Host, req: Request, need: str) -> service.Access:
    return service.check(app.cfg, app.store, _bearer(req), need=need)


def chunk_query(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The dedupe query: a shard of the model's own xorb holding the chunk, or 404."""
    grant = _access(app, req, "read")
    found = service.dedupe_shard(app.cfg, app.store, grant.model, match.group("hash"))
    if found is None:
        raise HubError(404, "chunk not tracked for deduplication")
    return status_line(200), [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(found)))], [found]


def xorb_grant(app: Host, req: Request, match: re.Match[str]) -> Response:
    grant = _access(app, req, "write")
    xhex = match.group("hash")
    try:
        body = json.loads(_body(req, _SMALL) or b"{}")
    except ValueError:
        raise HubError(400, "the grant request is not JSON") from None
    length = body.get("length") if isinstance(body, dict) else None
    if length is not None and (not isinstance(length, int) or isinstance(length, bool)
                               or not 0 < length <= xorb_format.MAX_XORB_BYTES):
        raise HubError(413, f"a xorb may have at most {xorb_format.MAX_XORB_BYTES} bytes")
    if service.has_xorb(app.store, grant.model, xhex):
        return json_response(200, {})
    link = service.link(app.cfg, grant, "grant:" + xhex)
    url = f"{base_url(app, req)}{CAS_PATH}/v1/xorb-uploads/{xhex}?grant={link}"
    return json_response(201, {"id": secrets.token_hex(8), "method": "PUT", "url": url,
                               "headers": {}})


def xorb_upload_grant(app: Host, req: Request, match: re.Match[str]) -> Response:
    grant, xhex = service.check_link(app.cfg, app.store, req.arg("grant") or "", "grant")
    if xhex != match.group("hash"):
        raise HubError(403, "this upload grant is for another xorb")
    with _xorb_body(req) as body:
        service.put_xorb(app.cfg, app.store, grant.model, xhex, body, grant.user)
    return status_line(200), [("Content-Length", "0")], [b""]


def xorb_commit(app: Host, req: Request, match: re.Match[str]) -> Response:
    grant = _access(app, req, "write")
    _body(req, _SMALL)
    if not service.has_xorb(app.store, grant.model, match.group("hash")):
        raise HubError(404, "no xorb was uploaded for this grant")
    return json_response(200, {})


def xorb_direct(app: Host, req: Request, match: re.Match[str]) -> Response:
    grant = _access(app, req, "write")
    with _xorb_body(req) as body:
        new = service.put_xorb(app.cfg, app.store, grant.model, match.group("hash"), body,
                               grant.user)
    return json_response(200, {"was_inserted": new})


def shard_v2(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The V2 shard upload: the same checks as V1, answered as xet-core's NDJSON progress
    stream (``validating`` per file, then ``result``, or an ``error`` frame, which the client
    must read as the failure since the status is already 200). Rebuilding a large file from
    its xorbs takes seconds per GiB; the last frame is sent again every
    :data:`HEARTBEAT_SECONDS` meanwhile, so no proxy or client read timeout cuts the wait.

    What is refused before a xorb is read (a token without the write right, a shard that
    does not parse, a xorb the model may not use) is a plain error status before the stream
    starts (``service.check_shard``). The files are registered on a thread of their own; a
    client that hangs up does not stop it (the same as a V1 upload whose client went away).
    """
    grant = _access(app, req, "write")
    body = _body(req, shard_format.MAX_SHARD_BYTES)
    total = service.check_shard(app.cfg, app.store, grant.model, body, grant.user)
    frames: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def progress(done: int, of: int) -> None:
        frames.put({"type": "validating", "verified": done, "total": of})

    def register() -> None:
        try:
            with _REBUILDS:
                service.put_shard(app.cfg, app.store, grant.model, body, grant.user,
                                  progress=progress)
            frames.put({"type": "result"})
        except ModelgitError as err:
            frames.put({"type": "error", "message": " ".join(err.lines()),
                        "retryable": isinstance(err, Unavailable)})
        except Exception:  # fail closed, and say so in the frame the client reads
            log.exception("xet shard for %s failed", grant.model)
            frames.put({"type": "error", "retryable": True,
                        "message": "modelgit could not register this shard (an internal"
                                   " error, in the server's log); nothing was registered"
                                   " for the file that failed: try again"})
        finally:
            app.store.close()  # this thread's own connection
            frames.put(None)

    threading.Thread(target=register, name="xet-shard-v2", daemon=True).start()
    first = {"type": "validating", "verified": 0, "total": total}
    return status_line(200), [("Content-Type", "application/x-ndjson"),
                              ("Cache-Control", "no-store")], progress_stream(frames, first)


def progress_stream(frames: queue.Queue[dict[str, Any] | None], first: dict[str, Any],
                    heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[bytes]:
    """NDJSON lines: ``first``, then each frame put on ``frames`` until None, and the last
    one again whenever ``heartbeat`` seconds pass without a new one."""
    last = first
    yield _frame(last)
    while True:
        try:
            frame = frames.get(timeout=heartbeat)
        except queue.Empty:
            yield _frame(last)
            continue
        if frame is None:
            return
        last = frame
        yield _frame(frame)


def _frame(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def shard_upload(app: Host, req: Request, match: re.Match[str]) -> Response:
    grant = _access(app, req, "write")
    body = _body(req, shard_format.MAX_SHARD_BYTES)
    with _REBUILDS:
        service.put_shard(app.cfg, app.store, grant.model, body, grant.user)
    return json_response(200, {"result": 1})


def telemetry(app: Host, req: Request, match: re.Match[str]) -> Response:
    _access(app, req, "read")
    _body(req, _SMALL)
    return json_response(200, {})


def reconstruction_v2(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The V2 reconstruction (hf_xet asks it first): the V1 answer with each fetch as a
    one-range entry under ``xorbs`` (``service.as_v2``), so a client that sends multi-range
    requests still sends one range per request."""
    return _reconstruction(app, req, match, v2=True)


def reconstruction(app: Host, req: Request, match: re.Match[str]) -> Response:
    return _reconstruction(app, req, match, v2=False)


def _reconstruction(app: Host, req: Request, match: re.Match[str], *, v2: bool) -> Response:
    grant = _access(app, req, "read")
    byte_range = None
    header = req.header("Range")
    if header:
        # bytes=<first>-<last>, or bytes=<first>- (to the end), as xet-core's CAS takes.
        m = re.fullmatch(r"bytes=(\d{1,19})-(\d{1,19})?", header.strip())
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise HubError(416, "Range must be bytes=<start>-<end> or bytes=<start>-")
        byte_range = (int(m.group(1)), int(m.group(2)) if m.group(2) else (1 << 63) - 1)
    fetch = f"{base_url(app, req)}{CAS_PATH}/v1/xorb-data"
    try:
        answer = service.reconstruction(app.cfg, app.store, grant, match.group("hash"),
                                        byte_range, fetch)
    except Invalid as err:
        if byte_range is not None:
            raise HubError(416, err.message) from None
        raise
    return json_response(200, service.as_v2(answer) if v2 else answer)


def xorb_data(app: Host, req: Request, match: re.Match[str]) -> Response:
    grant, xhex = service.check_link(app.cfg, app.store, req.arg("t") or "", "fetch")
    if xhex != match.group("hash"):
        raise HubError(403, "this link is for another xorb")
    handle, size = service.open_xorb(app.cfg, app.store, grant, xhex)
    first, last = 0, size - 1
    status = 200
    headers: list[tuple[str, Any]] = [("Content-Type", "application/octet-stream")]
    header = req.header("Range")
    if header:
        span = parse_range(header, size)
        if span is None:
            handle.close()
            raise HubError(416, "range not satisfiable",
                           headers=[("Content-Range", f"bytes */{size}")])
        first, last = span
        status = 206
        headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
    length = last - first + 1
    headers.append(("Content-Length", str(length)))
    return status_line(status), headers, stream_file(handle, first, length)


def register(app: Host) -> None:
    """The token routes and the CAS routes."""
    add = app.add
    add(("GET", "POST"), MODEL_API + r"/xet-(?P<xet>read|write)-token(?:/.*)?",
        bind(xet_token, app))
    cas = re.escape(CAS_PATH)
    add("GET", cas + r"/v1/chunks/[a-z0-9_-]{1,40}/" + _HASH, bind(chunk_query, app))
    add("POST", cas + r"/v1/xorb-grants/default/" + _HASH, bind(xorb_grant, app))
    add("PUT", cas + r"/v1/xorb-uploads/" + _HASH, bind(xorb_upload_grant, app))
    add("POST", cas + r"/v1/xorb-commits/default/" + _HASH + r"/grant/[0-9a-f]{16}",
        bind(xorb_commit, app))
    add("POST", cas + r"/v1/xorbs/default/" + _HASH, bind(xorb_direct, app))
    add("POST", cas + r"/v2/shards", bind(shard_v2, app))
    add("POST", cas + r"/v1/shards", bind(shard_upload, app))
    add("POST", cas + r"/v1/telemetry", bind(telemetry, app))
    add("GET", cas + r"/v1/reconstructions/" + _HASH, bind(reconstruction, app))
    add("GET", cas + r"/v2/reconstructions/" + _HASH, bind(reconstruction_v2, app))
    add("GET", cas + r"/v1/xorb-data/" + _HASH, bind(xorb_data, app))
