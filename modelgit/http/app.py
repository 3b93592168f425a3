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

from modelgit.authz.brake import Brake
from modelgit.authz.decide import Decision
from modelgit.config import Config
from modelgit.errors import ModelgitError
from modelgit.http import auth, git
from modelgit.http.request import MODEL_PATH, BodyError, Request, content_length
from modelgit.http.responses import (
    Response,
    braked,
    denial,
    refused,
    text,
    wrong_key,
)
from modelgit.services import access
from modelgit.store import Store

log = logging.getLogger("modelgit.http")
access_log = logging.getLogger("modelgit.access")

Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    handler: Handler



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
        from modelgit.http import authreq, gating_api, hub, lfs

        authreq.register(self)
        lfs.register(self)
        gating_api.register(self)
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

