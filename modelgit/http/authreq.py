"""``/-/auth``: the access answer a web server in front of git asks modelgit for
(docs/architecture.md).

nginx's ``auth_request`` asks it before every git request of an existing host, and so does
``modelgit credential-check`` (Apache's helper) when ``modelgit serve`` is running, because a
warm answer costs a fraction of a cold Python start. The request describes the original one:

* ``X-Original-URI`` (path and query, as the client sent them), ``X-Original-Method``, and the
  git prefix in ``X-Modelgit-Git-Prefix``;
* the client's credentials in ``X-Modelgit-Authorization`` and its address in
  ``X-Modelgit-Client-Address``. Not in ``Authorization``: every request on the socket comes
  from "localhost", and the server-wide brute-force brake keyed on that address would let a
  few wrong keys from anyone lock out every user of the host. Here the brake counts failures
  per client address, with the same settings and store table. (A plain ``Authorization`` is
  still understood, as the server's own check.)

The answer is ``decide()``'s, the same as the standalone server's:

* 200 with ``X-Remote-User`` (nginx hands it to git as ``REMOTE_USER``, which the hooks read
  to know the pusher) and ``X-Modelgit-Key-Scope``;
* 401 with the Basic challenge (nginx copies ``WWW-Authenticate`` to the client, so git asks
  its credential helper and erases a stale key);
* 403 with the reason as a text body and in ``X-Modelgit-Reason`` (``credential-check``
  writes it to Apache's error log).

``auth_request`` passes only 2xx, 401 and 403 through; any other status becomes a 500. So a
private or unknown model (404 in standalone mode, docs/access.md) is answered 403 here, with the
same "not found" text (nothing tells a private model from a missing one), and a braked
client gets a 403 that says how long to wait.

What the client then sees is asked again: with ``X-Modelgit-Answer: client`` the endpoint
answers as ``modelgit serve`` would answer the git request itself - 404 with serve's body
for a private or missing model, 403 with the whole explanation (gating: how to request
access), 401 with the challenge, 429 when braked - and the web server sends that answer as it
is (nginx: ``error_page 401 403 =`` to a named location that proxies here; Apache: the git
location's ``ErrorDocument 401``/``403``, proxied here). This second question only explains:
it counts no failed sign-in (the first one did) and lets nothing through.

``X-Modelgit-Check`` narrows the question for Apache's two steps: ``key`` (is the key right,
and may its scope do the action; nothing else) and ``user`` with ``X-Modelgit-User`` (the
decision for a user Apache has already authenticated).

Trust: these headers are taken at their word, which is right only for the web server. So the
endpoint answers only on modelgit's unix socket and is a plain 404 on TCP. The socket's mode
(660) limits it to the service user's group, who can read the database itself anyway.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from modelgit.authz.decide import AUTH_REQUIRED, Subject
from modelgit.git.targets import git_target, normalise_prefix
from modelgit.http.auth import AuthResult, authenticate
from modelgit.http.request import UNIX_SOCKET_KEY, Request
from modelgit.http.responses import CHALLENGE, braked, denial, text, wrong_key
from modelgit.services import access

if TYPE_CHECKING:
    from modelgit.authz.decide import Decision
    from modelgit.http.responses import Response
    from modelgit.http.routes import Host

AUTH_PATH = r"/-/auth"
_METHODS = ("GET", "HEAD", "POST")
_UNSAFE = re.compile(r"[^\x20-\x7e]")
FORWARDED_AUTH = "HTTP_X_MODELGIT_AUTHORIZATION"
ANSWER_HEADER = "X-Modelgit-Answer"
"""``client``: answer what the client should see (serve's answer), not the web server."""


def on_unix_socket(environ: dict[str, Any]) -> bool:
    """Whether the request came through the unix socket, as the server layer marks it
    (``modelgit.http.server.peer_middleware``; no header can set it). Anything else - a
    missing or non-True mark - says False and ``/-/auth`` refuses: closed, not open."""
    return environ.get(UNIX_SOCKET_KEY) is True


def header_safe(text: str, limit: int = 1000) -> str:
    """One line of printable ASCII: what an HTTP header value may carry."""
    return _UNSAFE.sub("?", " ".join(text.split()))[:limit]


def auth_request(app: Host, req: Request) -> Response:
    """Decide the request the web server describes; see the module docstring."""
    if not on_unix_socket(req.environ):
        return text(404, "modelgit: not found")
    uri = req.header("X-Original-URI") or ""
    method = (req.header("X-Original-Method") or "GET").upper()
    prefix = normalise_prefix(req.header("X-Modelgit-Git-Prefix"))
    path, _, query = uri.partition("?")
    target = git_target(path, query, prefix)
    if target is None or method not in _METHODS:
        return _forbidden(f"modelgit: {header_safe(path, 200)} is not a git address of a"
                          f" model; clone {prefix}/SPACE/MODEL.git")
    for_client = (req.header(ANSWER_HEADER) or "").strip().lower() == "client"
    check = "access" if for_client else (req.header("X-Modelgit-Check") or "access").lower()
    if check == "user":
        return _for_user(app, req, target.model_id, target.action)

    # The client's own credentials, braked per client address.
    address = req.header("X-Modelgit-Client-Address") or req.remote_addr
    environ = {**req.environ, "REMOTE_ADDR": address, "PATH_INFO": path}
    forwarded = req.environ.get(FORWARDED_AUTH)
    if forwarded:
        retry = app.brake_seconds(environ, str(forwarded))
        if retry:
            if for_client:
                return braked(retry)
            return _forbidden(f"modelgit: too many failed sign-ins from {address}; try again"
                              f" in {retry} seconds")
        result = authenticate(app.store, str(forwarded))
        asked = Request(environ, result)
        if result.failed:
            if not for_client:  # explaining it, the failure was counted already
                app.record_failure(asked)
            return wrong_key()
    else:
        asked = Request(environ, req.auth)

    if check == "key":
        return _key_only(asked.auth, target.model_id, target.action)
    decision, _ = app.model_decision(asked, target.model_id, target.action)
    if for_client:
        return _client_answer(app, asked, decision, target.model_id)
    return _answer(app, asked, decision, target.model_id)


def _key_only(result: AuthResult, model_id: str, action: str) -> Response:
    subject = result.subject
    if subject.user is None:
        return _challenge(AUTH_REQUIRED)
    if action == "write" and subject.scope != "write":
        return _forbidden(f"your key is read-only: it cannot write (push, upload) {model_id}."
                          " Use a key created with `--scope write`.")
    return _allowed(subject)


def _for_user(app: Host, req: Request, model_id: str, action: str) -> Response:
    """The decision for a user the web server authenticated (Apache's group step)."""
    name = req.header("X-Modelgit-User") or ""
    subject = access.subject_for(app.store, name)
    if subject is None:
        return _forbidden(f"model {model_id} not found: check the name, or ask its owner for"
                          " access")
    asked = Request(req.environ, AuthResult(subject, presented=True, failed=False,
                                            claimed_user=name))
    decision, _ = app.model_decision(asked, model_id, action)
    return _answer(app, asked, decision, model_id)


def _answer(app: Host, req: Request, decision: Decision, model_id: str) -> Response:
    if decision.allowed:
        return _allowed(req.subject)
    decision = app.explain(decision, model_id, req)
    if decision.status == 401:
        return _challenge(decision.reason)
    if decision.status in (403, 404):
        return _forbidden(decision.reason)
    return text(500, decision.reason)


def _client_answer(app: Host, req: Request, decision: Decision, model_id: str) -> Response:
    """What ``modelgit serve`` answers for the same git request, given that the web server
    refused it: the denial exactly as serve words it (401, 403 or 404)."""
    if not decision.allowed:
        return denial(app.explain(decision, model_id, req))
    if req.subject.user is None:  # Apache asks every git client for a key, public or not
        return _challenge(f"modelgit: this host asks every git client for a key: use your user"
                          f" name and a modelgit key as the password to read {model_id}")
    # Access opened between the two questions, or the web server's own check failed.
    return text(500, "modelgit: the web server refused this request, but modelgit allows it"
                     " now: try again; if it fails again, the web server's error log says why")


def _allowed(subject: Subject) -> Response:
    headers = [("X-Modelgit-Key-Scope", subject.scope)]
    if subject.user:
        headers.append(("X-Remote-User", subject.user))
    return text(200, "ok", headers)


def _challenge(reason: str) -> Response:
    return text(401, reason, [CHALLENGE])


def _forbidden(reason: str) -> Response:
    return text(403, reason, [("X-Modelgit-Reason", header_safe(reason))])


def register(app: Host) -> None:
    """Add the auth_request route to the app."""
    app.add(_METHODS, AUTH_PATH, lambda req, match: auth_request(app, req))
