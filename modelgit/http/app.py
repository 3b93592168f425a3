"""The WSGI application: a declarative route table, one handler signature, answers as
docs/access.md says.

``(methods, regex) -> handler(req, match) -> Response``; the feature modules listed in
``modelgit.http.features`` fill the table, seeing the app only as a ``routes.Host``. The model
in a path is checked against the name rules before anything touches the disk, and every handler
error becomes a 500 with one line for the person and the traceback in the server log. A database
that cannot be reached is a 503 "try again later" (``StoreUnavailable``), whichever step met it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from modelgit.authz.brake import Brake
from modelgit.authz.decide import Decision
from modelgit.config import Config
from modelgit.errors import ModelgitError
from modelgit.http import auth, routes
from modelgit.http.features import FEATURES
from modelgit.http.request import Request
from modelgit.http.responses import Response, braked, refused, text, unavailable, wrong_key
from modelgit.http.routes import Handler, Route
from modelgit.services import access
from modelgit.store import Store, StoreUnavailable

log = logging.getLogger("modelgit.http")
access_log = logging.getLogger("modelgit.access")

__all__ = ["App", "Route"]


class App:
    """The WSGI callable and the ``Host`` its feature modules fill (``modelgit.http.routes``)."""

    def __init__(self, cfg: Config, store: Store | None = None) -> None:
        self.cfg = cfg
        self.store = store or Store(cfg.store_target)
        self.brake = Brake.from_config(self.store, cfg)
        self.routes: list[Route] = []
        self.add("GET", r"/-/health", self.health)
        for register in FEATURES:
            register(self)

    def add(self, methods: str | tuple[str, ...], pattern: str, handler: Handler) -> None:
        """Append to the route table (``Host.add``): earlier entries win."""
        self.routes.append(routes.route(methods, pattern, handler))

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
        # Every answer names itself, as the hubs do: a client quotes it in its errors
        # (huggingface_hub prints "Request ID: ...") and the access log has it.
        request_id = secrets.token_hex(12)
        headers = [*headers, ("X-Request-Id", request_id)]
        access_log.info("%s %s %s %s %.0fms %s", environ.get("REMOTE_ADDR", "-"),
                        environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        status.split(" ", 1)[0], (time.monotonic() - started) * 1000,
                        request_id)
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
            try:
                if header:
                    retry = self.brake_seconds(environ, header)
                    if retry:
                        return braked(retry)
                req = Request(environ, auth.authenticate(self.store, header))
            except StoreUnavailable as err:  # no key can be checked: refuse, keep the key
                return unavailable(environ, err)
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

    def explain(self, decision: Decision, model_id: str, req: Request) -> Decision:
        """Richer denial messages (gating adds how to request access)."""
        from modelgit.services import gating
        from modelgit.urls import site_url

        return gating.explain(self.store, self.cfg, decision, model_id, req.subject.user,
                              site_url(self.cfg, req.environ))

