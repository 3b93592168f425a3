"""What the HTTP front end reads from a request: the body within a limit, arguments, the model.

One set of rules for every route (git, LFS, the hub and gating APIs), so that a limit or an
argument means the same everywhere.
"""

from __future__ import annotations

import contextlib
import mmap
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from modelgit import strictjson
from modelgit.authz.decide import Subject
from modelgit.errors import Invalid, ModelgitError
from modelgit.http import auth
from modelgit.urls import site_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from modelgit.http.routes import Host


#: Set to True by the server layer, and only there, when a request came through the unix
#: socket (a local web server in front: nginx's auth_request and proxy).
UNIX_SOCKET_KEY = "modelgit.unix_socket"
#: A model's repository in a path: ``/<space>/<model>.git`` or, as the hubs serve it and
#: ``create_repo`` returns it, ``/<space>/<model>`` (name rules checked by the router).
MODEL_PATH = r"/(?P<space>[^/]+)/(?P<model>[^/]+?)(?:\.git)?"
#: The same with ``.git`` required: what only git itself would ask for.
MODEL_GIT_PATH = r"/(?P<space>[^/]+)/(?P<model>[^/]+?)\.git"
#: The largest whole-number argument :func:`int_arg` reads (nine digits).
MAX_INT_ARG = 999_999_999

class BodyError(ModelgitError):
    """A request body refused before or while reading it; each API words it in its own shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


def content_length(environ: dict[str, Any]) -> int | None:
    """The request's ``Content-Length``, None when it has none (a chunked body).

    Decimal digits only (``int()`` would also take ``+1`` or ``1_0``; ``isdigit()`` passes a
    latin-1 superscript that ``int()`` then fails on) and at most 19 of them, so it fits a
    file offset.
    """
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or len(raw) > 19:
        raise BodyError(400, "invalid Content-Length")
    return int(raw)


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The whole request body, for the small JSON bodies of the APIs.

    With ``Content-Length`` a body over ``limit`` is refused before a byte is read, and exactly
    that many bytes are read (WSGI: reading past it may block). A chunked body arrives with no
    length (the server decodes it as it streams in): it is read to its end and refused as soon
    as it passes ``limit``, so a hostile client cannot make the server hold more than that.
    """
    stream = environ.get("wsgi.input")
    length = content_length(environ)
    if length is None:
        length = limit + 1
    elif length > limit:
        raise BodyError(413, f"the body is {length} bytes; the limit is {limit}")
    if length > _BIG_BODY and length <= limit and hasattr(stream, "readinto"):
        return _read_into(stream, length)
    parts: list[bytes] = []
    got = 0
    while stream is not None and got < length:
        data = stream.read(min(65536, length - got))
        if not data:
            break
        parts.append(data)
        got += len(data)
    if got > limit:
        raise BodyError(413, f"the body is larger than {limit} bytes")
    return b"".join(parts)


#: Bodies with a Content-Length above this are received with ``readinto`` (a Xet xorb is up
#: to 80 MiB): cheroot's pure-Python ``read`` costs a copy and an allocation per call, which
#: made receiving a GiB of xorbs ~10 s of server CPU (bench figure ``xet``).
_BIG_BODY = 1024 * 1024


def _read_into(stream: Any, length: int) -> bytes:
    """Exactly ``length`` bytes (fewer if the client stops early) into one buffer."""
    buffer = bytearray(length)
    view = memoryview(buffer)
    got = 0
    while got < length:
        count = stream.readinto(view[got:])
        if not count:
            break
        got += count
    view.release()
    del buffer[got:]
    return bytes(buffer)


#: Receive buffers of large bodies are allocated in multiples of this, so that one serves the
#: next body of about the same size (hf_xet's xorbs are all a little over 64 MiB).
_BUFFER_UNIT = 8 * 1024 * 1024
#: Receive buffers kept for reuse between requests, at most (each up to the route's limit:
#: 80 MiB for a xorb). Requests beyond that many at once get a buffer of their own.
_BUFFERS_KEPT = 2
_idle_buffers: list[mmap.mmap] = []
_idle_lock = threading.Lock()


@contextlib.contextmanager
def reused_body(environ: dict[str, Any], limit: int) -> Iterator[bytes | memoryview]:
    """The request body, as :func:`read_body` reads it, for a route that is done with it when
    the ``with`` block ends: a large body is received into a buffer reused from request to
    request and given as a view of it, never copied.

    Receiving 64 MiB into new memory cost 5 times what it cost into memory used before (a
    page fault and a zeroed page per 4 KiB: 1.1 against 5.2 GB/s here), and ``read_body``'s
    large bodies also end in a copy to ``bytes``: for a GiB of Xet xorbs, about 1.6 s of
    server CPU. The buffers are anonymous ``mmap``s, page-aligned, so the storage can write
    a received xorb to disk with direct I/O (``lfs/storage.py``). The view must not outlive
    the block (the next request overwrites it).
    """
    stream = environ.get("wsgi.input")
    length = content_length(environ)
    if (stream is None or length is None or length <= _BIG_BODY or length > limit
            or not hasattr(stream, "readinto")):
        yield read_body(environ, limit)
        return
    with _idle_lock:
        fits = [b for b in _idle_buffers if len(b) >= length]
        buffer = min(fits, key=len) if fits else None
        if buffer is not None:
            _idle_buffers.remove(buffer)
    if buffer is None:
        buffer = mmap.mmap(-1, -(-length // _BUFFER_UNIT) * _BUFFER_UNIT)
    try:
        view = memoryview(buffer)
        got = 0
        while got < length:
            count = stream.readinto(view[got:length])
            if not count:
                break
            got += count
        yield view[:got]
    finally:
        with _idle_lock:
            if len(_idle_buffers) < _BUFFERS_KEPT:
                _idle_buffers.append(buffer)


def read_json(req: Request, limit: int) -> Any:
    """The body of a JSON API call: ``application/json`` (which a cross-site HTML form cannot
    send), within ``limit`` bytes, strictly parsed (no duplicate keys, NaN or deep nesting).
    Refusals are ``BodyError``s, which each API answers in its own shape."""
    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise BodyError(415, "send the body as JSON with 'Content-Type: application/json'")
    data = read_body(req.environ, limit)
    if not data.strip():
        raise BodyError(400, "the body is empty; send a JSON object")
    try:
        return strictjson.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = str(exc) or type(exc).__name__
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        raise BodyError(400, f"the body is not valid JSON: {detail}") from None


@dataclass
class Request:
    environ: dict[str, Any]
    auth: auth.AuthResult

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", ""))

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(str(self.environ.get("QUERY_STRING", "")), keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        key = "HTTP_" + name.upper().replace("-", "_")
        if name.lower() == "content-type":
            key = "CONTENT_TYPE"
        value = self.environ.get(key)
        return str(value) if value is not None else None

    @property
    def subject(self) -> Subject:
        return self.auth.subject

    @property
    def remote_addr(self) -> str:
        return str(self.environ.get("REMOTE_ADDR", ""))


def model_of(match: re.Match[str]) -> str:
    """``space/model`` from a route's named groups (the router checked the name rules)."""
    return f"{match.group('space')}/{match.group('model')}"


def moved_location(host: Host, req: Request, model_id: str, status: int) -> str | None:
    """Where a request for a model that was moved away (``move_repo``) goes now: the same
    path and query under the new name, for a refusal that says "not found" (401 or 404) to a
    caller who may see the model under that name. None otherwise: the refusal stands and
    says nothing of a move. One rule for git, LFS and the hub API, which each word the
    redirect their own way."""
    if status not in (401, 404):
        return None
    from modelgit.services import moves

    target = moves.redirect_target(host.store, req.subject, model_id,
                                   allow_anonymous_read=bool(
                                       host.cfg.get("allow_anonymous_read")))
    return None if target is None else moved_path(req, model_id, target)


def moved_path(req: Request, old: str, new: str) -> str:
    """The request's own path and query with the model ``old`` replaced by ``new`` (its
    first whole occurrence as two path segments), for the redirect after a move."""
    from urllib.parse import quote

    path = req.path
    at = -1
    start = 0
    while True:
        found = path.find(f"/{old}", start)
        if found < 0:
            break
        end = found + 1 + len(old)
        if end == len(path) or path[end] == "/" or path.startswith(".git", end):
            at = found
            break
        start = found + 1
    if at >= 0:
        path = path[:at + 1] + new + path[at + 1 + len(old):]
    root = str(req.environ.get("SCRIPT_NAME") or "")
    # WSGI paths are latin-1 strings of the raw bytes: quote those bytes, not their UTF-8.
    out = quote((root + path).encode("latin-1", "replace"), safe="/@:+-._~!$&'()*,;=")
    query = str(req.environ.get("QUERY_STRING") or "")
    return out + (f"?{query}" if query else "")


def int_arg(req: Request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query argument, ``default`` when absent. One rule for every API:
    anything but digits, or a value outside ``low..high``, is refused with 400 naming the range
    (a handler that answers a smaller page than asked takes ``min`` itself)."""
    text = req.arg(name)
    if text is None or text == "":
        return default
    if not text.isdecimal() or len(text) > 9:
        raise Invalid(f"{name} must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}")
    return value


def base_url(app: Host, req: Request) -> str:
    """Where links point (:func:`modelgit.urls.site_url`): ``public_url`` when set, else this
    request's own scheme and Host (checked, so a hostile Host cannot add a path)."""
    return site_url(app.cfg, req.environ)
