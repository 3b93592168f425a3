"""What the HTTP front end answers: status lines, text and JSON bodies, the challenge, files.

A response is ``(status line, headers, body iterable)``; every module builds it with these, so
a status reads the same on every route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any

from modelgit.errors import ModelgitError

if TYPE_CHECKING:
    from modelgit.authz.decide import Decision

Response = tuple[str, list[tuple[str, str]], Iterable[bytes]]
#: The Basic challenge: git asks its credential helper, and `credential reject` forgets a key.
CHALLENGE = ("WWW-Authenticate", 'Basic realm="modelgit"')
STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized",
               403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed",
               409: "409 Conflict", 413: "413 Payload Too Large", 422: "422 Unprocessable Entity",
               429: "429 Too Many Requests", 500: "500 Internal Server Error",
               503: "503 Service Unavailable", 507: "507 Insufficient Storage"}
#: Bytes per piece when a file is streamed.
CHUNK = 1 << 20
_RANGE_RE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$")


def status_line(status: int) -> str:
    """``"404 Not Found"``: our wording for the statuses we use, the standard phrase else."""
    known = STATUS_TEXT.get(status)
    if known:
        return known
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def header_text(message: str, limit: int = 1000) -> str:
    """``message`` as one header value: its lines joined, ASCII only, at most ``limit``
    characters, since a header carries neither newlines nor UTF-8 ("error" when empty)."""
    flat = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
    return (flat or "error").encode("ascii", "replace").decode("ascii")[:limit]


def text(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """A text/plain answer (what git prints as ``remote:`` lines), with its length."""
    body = (message.rstrip("\n") + "\n").encode("utf-8")
    hdrs = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    return status_line(status), hdrs + (headers or []), [body]


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None
                  ) -> Response:
    """A complete JSON answer with its length (so clients never wait for a close)."""
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    hdrs = [("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body)))]
    return status_line(status), hdrs + (headers or []), [body]


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte positions (inclusive) of a single byte range, or None when the
    range cannot be served (the caller answers 416).

    One range only: git-lfs resumes with ``bytes=N-``; multi-range answers are not worth
    their complexity for object downloads, so they are refused like any unsatisfiable range.
    """
    match = _RANGE_RE.fullmatch(header.strip())
    if match is None or size == 0:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text or int(last_text) == 0:
            return None
        return max(0, size - int(last_text)), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        return None
    return first, min(last, size - 1)


class FileSpan:
    """A response body: ``length`` bytes of an open file from ``first``, the handle closed
    with it (WSGI calls ``close``, also when the client went away).

    Iterating it yields :data:`CHUNK` pieces, which any WSGI server can send. modelgit's own
    gateway (``http/receive.py``) sends it with ``sendfile(2)`` instead where the handle is
    a real file and the connection a plain socket: the kernel copies from the page cache to
    the socket, and no byte of an LFS object or xorb passes through Python (cheroot copied
    each piece twice more on its way out).
    """

    def __init__(self, handle: IO[bytes], first: int, length: int) -> None:
        self.handle = handle
        self.first = first
        self.length = length
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        handle = self.handle
        handle.seek(self.first)
        remaining = self.length
        while remaining > 0:
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break  # the file shrank under us (cannot happen for verified objects)
            remaining -= len(data)
            yield data
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.handle.close()


def stream_file(handle: IO[bytes], first: int, length: int) -> FileSpan:
    """``length`` bytes from ``first`` of an open file, as a response body (:class:`FileSpan`)."""
    return FileSpan(handle, first, length)


def denial(decision: Decision) -> Response:
    """401 carries the Basic challenge so git asks its credential helper (and erases a stale
    key); 403 and 404 carry a text/plain reason that git prints as ``remote:`` lines."""
    extra = [CHALLENGE] if decision.status == 401 else []
    return text(decision.status, decision.reason, extra)


def refused(err: ModelgitError) -> Response:
    """A refusal as git shows it: text/plain lines (``remote:``), the challenge on 401,
    ``Retry-After`` when the error says when to come back."""
    extra = [CHALLENGE] if err.status == 401 else []
    return text(err.status, "\n".join(err.lines()), extra + retry_header(err))


def retry_header(err: ModelgitError) -> list[tuple[str, str]]:
    """``Retry-After`` for an error that says when to come back (``TooMany``, a database
    that is unavailable), in whichever form the front end answers it; else nothing."""
    retry = getattr(err, "retry_after", None)
    return [("Retry-After", str(retry))] if retry else []


def braked(retry: int) -> Response:
    """The brute-force brake's answer: 429 with ``Retry-After``."""
    return text(429, f"modelgit: too many failed sign-ins from your address; try again in"
                     f" {retry} seconds.", [("Retry-After", str(retry))])


def wrong_key() -> Response:
    """A key that is wrong, expired, revoked or not the named user's: 401 and the challenge,
    so that git's ``credential reject`` erases it."""
    return text(401, "modelgit: wrong, expired or revoked key. Use your user name and a valid"
                     " modelgit key as the password.", [CHALLENGE])


def unavailable(environ: dict[str, Any], err: ModelgitError) -> Response:
    """The answer to a request that failed before any route could word it (checking its key
    needs the database): 503 with ``Retry-After``, never a 401 (git would forget the key).

    JSON for the APIs (the hub's paths, or a client that asks for JSON, as git-lfs does),
    with the message under both ``error`` (the hub clients) and ``message`` (git-lfs);
    text/plain for git, which prints it as ``remote:`` lines.
    """
    extra = [("Retry-After", str(getattr(err, "retry_after", None) or 30))]
    path = str(environ.get("PATH_INFO", ""))
    if path.startswith("/api/") or "json" in str(environ.get("HTTP_ACCEPT", "")):
        extra.append(("X-Error-Message", header_text(err.message)))
        return json_response(err.status, {"error": err.message, "message": err.message}, extra)
    return text(err.status, "\n".join(err.lines()), extra)
