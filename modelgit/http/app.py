"""The WSGI application: a declarative route table, one handler signature, answers as
docs/access.md says.

``(methods, regex) -> handler(req, match) -> Response``. The model in a path is checked
against the name rules before anything touches the disk, and every handler error becomes a
500 with one line for the person and the traceback in the server log.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from modelgit.authz.brake import Brake
from modelgit.authz.decide import Decision, Subject
from modelgit.config import Config
from modelgit.errors import ModelgitError, TooMany
from modelgit.http import auth, git
from modelgit.services import access
from modelgit.store import Store

log = logging.getLogger("modelgit.http")
access_log = logging.getLogger("modelgit.access")

Response = tuple[str, list[tuple[str, str]], Iterable[bytes]]
CHALLENGE = ("WWW-Authenticate", 'Basic realm="modelgit"')
#: Set to True by the server layer, and only there, when a request came through the unix
#: socket (a local web server in front: nginx's auth_request and proxy).
UNIX_SOCKET_KEY = "modelgit.unix_socket"
STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized",
               403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed",
               409: "409 Conflict", 413: "413 Payload Too Large", 422: "422 Unprocessable Entity",
               429: "429 Too Many Requests", 500: "500 Internal Server Error",
               507: "507 Insufficient Storage"}


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


def text(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    body = (message.rstrip("\n") + "\n").encode("utf-8")
    hdrs = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    return STATUS_TEXT.get(status, f"{status} Error"), hdrs + (headers or []), [body]


def denial(decision: Decision) -> Response:
    """401 carries the Basic challenge so git asks its credential helper (and erases a stale
    key); 403 and 404 carry a text/plain reason that git prints as ``remote:`` lines."""
    extra = [CHALLENGE] if decision.status == 401 else []
    return text(decision.status, decision.reason, extra)


def refused(err: ModelgitError) -> Response:
    """A refusal as git shows it: text/plain lines (``remote:``), the challenge on 401,
    ``Retry-After`` when the error says when to come back."""
    extra = [CHALLENGE] if err.status == 401 else []
    if isinstance(err, TooMany):
        extra.append(("Retry-After", str(err.retry_after)))
    return text(err.status, "\n".join(err.lines()), extra)


def braked(retry: int) -> Response:
    """The brute-force brake's answer: 429 with ``Retry-After``."""
    return text(429, f"modelgit: too many failed sign-ins from your address; try again in"
                     f" {retry} seconds.", [("Retry-After", str(retry))])


def wrong_key() -> Response:
    """A key that is wrong, expired, revoked or not the named user's: 401 and the challenge,
    so that git's ``credential reject`` erases it."""
    return text(401, "modelgit: wrong, expired or revoked key. Use your user name and a valid"
                     " modelgit key as the password.", [CHALLENGE])


Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    handler: Handler


MODEL_PATH = r"/(?P<space>[^/]+)/(?P<model>[^/]+?)\.git"


class App:
    def __init__(self, cfg: Config, store: Store | None = None) -> None:
        self.cfg = cfg
        self.store = store or Store(cfg.db_path)
        self.brake = Brake.from_config(self.store, cfg)
        self.routes: list[Route] = []
        self.add("GET", r"/-/health", self.health)
        self.add("GET", MODEL_PATH + r"/info/refs", self.git_info_refs)
        self.add("POST", MODEL_PATH + r"/(?P<service>git-upload-pack|git-receive-pack)",
                 self.git_service)
        # Feature modules add their routes before the catch-all dumb-protocol route.
        from modelgit.http import api, authreq, hub, lfs

        authreq.register(self)
        lfs.register(self)
        api.register(self)
        hub.register(self)
        self.add(("GET", "HEAD"), MODEL_PATH + r"/(?P<rest>.*)", self.git_dumb)

    def add(self, methods: str | tuple[str, ...], pattern: str, handler: Handler) -> None:
        ms = (methods,) if isinstance(methods, str) else methods
        self.routes.append(Route(ms, re.compile("^" + pattern + "$"), handler))

    # -- WSGI ------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        started = time.monotonic()
        try:
            status, headers, body = self.handle(environ)
        except Exception:
            log.exception("request failed: %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            status, headers, body = text(
                500, "modelgit: internal error (details in the server log); nothing was changed")
        access_log.info("%s %s %s %s %.0fms", environ.get("REMOTE_ADDR", "-"),
                        environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        status.split(" ", 1)[0], (time.monotonic() - started) * 1000)
        start_response(status, headers)
        return body

    def handle(self, environ: dict[str, Any]) -> Response:
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if method not in route.methods:
                allowed.extend(route.methods)
                continue
            header = environ.get("HTTP_AUTHORIZATION")
            if header:
                retry = self.brake_seconds(environ, header)
                if retry:
                    return braked(retry)
            req = Request(environ, auth.authenticate(self.store, header))
            if req.auth.failed:
                self.record_failure(req)
                return wrong_key()
            try:
                return route.handler(req, match)
            except ModelgitError as err:  # the APIs answer theirs; git's routes land here
                return refused(err)
        if allowed:
            return text(405, f"modelgit: {method} is not allowed here",
                        [("Allow", ", ".join(sorted(set(allowed))))])
        return text(404, "modelgit: not found")

    # -- brute-force brake -------------------------------------------------------------
    def brake_seconds(self, environ: dict[str, Any], header: str) -> int:
        """Seconds to wait when this (user, address) or this address failed too often in the
        window; 0 to go on (``modelgit.authz.brake``: counted in the store, so several front
        ends share the counts)."""
        creds = auth.parse_authorization(header)
        return self.brake.retry_after(str(environ.get("REMOTE_ADDR", "")),
                                      creds[0] if creds else None)

    def record_failure(self, req: Request) -> None:
        self.brake.record(req.remote_addr, req.auth.claimed_user, target=req.path,
                          name_sent=req.auth.name_sent, detail={"method": req.method})

    # -- shared ----------------------------------------------------------------------
    def model_decision(self, req: Request, model_id: str, action: str
                       ) -> tuple[Decision, dict[str, Any] | None]:
        """decide() for a model named in a URL; unknown and invalid names look the same."""
        return access.check_model(
            self.store, req.subject, model_id, action,
            allow_anonymous_read=bool(self.cfg.get("allow_anonymous_read")))

    # -- handlers --------------------------------------------------------------------
    def health(self, req: Request, match: re.Match[str]) -> Response:
        return text(200, "ok")

    def git_info_refs(self, req: Request, match: re.Match[str]) -> Response:
        service = req.arg("service")
        if service not in ("git-upload-pack", "git-receive-pack"):
            return text(403, "modelgit: only git's smart HTTP protocol is served; use git 1.7 or"
                             " newer")
        return self._git(req, match, service, "/info/refs")

    def git_service(self, req: Request, match: re.Match[str]) -> Response:
        service = match.group("service")
        return self._git(req, match, service, "/" + service)

    def git_dumb(self, req: Request, match: re.Match[str]) -> Response:
        return text(403, "modelgit: only git's smart HTTP protocol is served")

    def _git(self, req: Request, match: re.Match[str], service: str, suffix: str) -> Response:
        model_id = f"{match.group('space')}/{match.group('model')}"
        action = "write" if service == "git-receive-pack" else "read"
        decision, row = self.model_decision(req, model_id, action)
        if not decision.allowed:
            return denial(self.explain(decision, model_id, req))
        assert row is not None
        try:
            length = content_length(req.environ)
        except BodyError as err:
            return text(err.status, f"modelgit: {err.message}: send a decimal byte count")
        user = req.subject.user
        extra = {"MODELGIT_KEY_SCOPE": req.subject.scope}
        if user:
            extra["MODELGIT_USER"] = user
        env = git.cgi_env(req.environ, project_root=str(self.cfg.repos_dir),
                          path_info=f"/{model_id}.git{suffix}", remote_user=user, extra=extra,
                          length=length)
        return git.run_backend(req.environ, env, length)

    def explain(self, decision: Decision, model_id: str, req: Request) -> Decision:
        """Richer denial messages (gating adds how to request access)."""
        from modelgit.services import gating
        from modelgit.urls import site_url

        return gating.explain(self.store, self.cfg, decision, model_id, req.subject.user,
                              site_url(self.cfg, req.environ))

