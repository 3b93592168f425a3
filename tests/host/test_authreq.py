"""``/-/auth``, the answer nginx's ``auth_request`` asks for (docs/architecture.md, docs/access.md).

Driven through the WSGI app with the environ the server layer builds, so the routing, the key check
and ``decide()`` are the real ones; the end-to-end nginx test covers the wire.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from typing import Any

import pytest

from modelgit.authz import keys
from modelgit.cli.serve import initialise
from modelgit.config import load
from modelgit.http.app import App
from modelgit.http.request import UNIX_SOCKET_KEY
from modelgit.store import Store

UNIX = {UNIX_SOCKET_KEY: True, "REMOTE_ADDR": "local", "REMOTE_PORT": ""}  # server.peer_middleware
TCP = {"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50123"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, dict[str, str]]:
    cfg = load(tmp_path_factory.mktemp("authreq") / "data")
    initialise(cfg, None)
    store = Store(cfg.db_path)
    made = {}
    for name, user, scope in (("alice", "alice", "write"), ("bob", "bob", "write"),
                              ("alice-ro", "alice", "read")):
        if store.get_user(user) is None:
            store.add_user(user)
        new = keys.make_key()
        store.add_key(new.key_id, user, new.digest, scope, None)
        made[name] = new.key
    store.add_space("acme", "alice", None)
    store.add_model("acme/bert", "alice")
    store.add_model("acme/open", "alice", visibility="public")
    return App(cfg, store), made


def ask(app: App, uri: str, *, user: str | None = None, key: str | None = None,
        peer: dict[str, Any] = UNIX, method: str = "GET", prefix: str | None = "/git",
        forwarded: bool = False, client: str = "198.51.100.1",
        extra: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """``forwarded``: the credentials as the generated nginx snippet and the Apache helper
    send them (their own header, with the client's address), else in ``Authorization``."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/-/auth", "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(b""), "HTTP_X_ORIGINAL_URI": uri,
        "HTTP_X_ORIGINAL_METHOD": method, **peer,
    }
    if prefix is not None:
        environ["HTTP_X_MODELGIT_GIT_PREFIX"] = prefix
    if key is not None:
        token = base64.b64encode(f"{user}:{key}".encode()).decode()
        if forwarded:
            environ["HTTP_X_MODELGIT_AUTHORIZATION"] = f"Basic {token}"
            environ["HTTP_X_MODELGIT_CLIENT_ADDRESS"] = client
        else:
            environ["HTTP_AUTHORIZATION"] = f"Basic {token}"
    for name, value in (extra or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, headers

    body: Iterable[bytes] = app(environ, start_response)
    text = b"".join(body).decode()
    headers = dict(seen["headers"])
    assert headers.pop("X-Request-Id")  # every answer has one, different each time
    return int(seen["status"].split()[0]), headers, text


REFS = "/git/acme/bert.git/info/refs?service=git-upload-pack"
PUSH_REFS = "/git/acme/bert.git/info/refs?service=git-receive-pack"


def test_owner_may_read_and_write(app: tuple[App, dict[str, str]]) -> None:
    a, k = app
    for uri, method in ((REFS, "GET"), (PUSH_REFS, "GET"),
                        ("/git/acme/bert.git/git-receive-pack", "POST")):
        status, headers, _ = ask(a, uri, user="alice", key=k["alice"], method=method)
        assert status == 200
        assert headers["X-Remote-User"] == "alice"
        assert headers["X-Modelgit-Key-Scope"] == "write"


def test_anonymous_gets_the_challenge(app: tuple[App, dict[str, str]]) -> None:
    a, _ = app
    status, headers, _ = ask(a, REFS)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="modelgit"'


def test_anonymous_reads_public_models(app: tuple[App, dict[str, str]]) -> None:
    a, _ = app
    status, headers, _ = ask(a, "/git/acme/open.git/info/refs?service=git-upload-pack")
    assert status == 200
    assert "X-Remote-User" not in headers
    status, _, _ = ask(a, "/git/acme/open.git/info/refs?service=git-receive-pack")
    assert status == 401


def test_private_model_is_403_with_the_not_found_text(app: tuple[App, dict[str, str]]) -> None:
    """auth_request passes only 401 and 403: a hidden model is a 403 saying "not found",
    exactly as for a model that does not exist."""
    a, k = app
    hidden = ask(a, REFS, user="bob", key=k["bob"])
    missing = ask(a, "/git/acme/nope.git/info/refs?service=git-upload-pack", user="bob",
                  key=k["bob"])
    for status, headers, body in (hidden, missing):
        assert status == 403
        assert "not found" in body
        assert headers["X-Modelgit-Reason"] == body.strip()
    assert hidden[2].replace("bert", "nope") == missing[2]


def test_read_key_cannot_push(app: tuple[App, dict[str, str]]) -> None:
    a, k = app
    assert ask(a, REFS, user="alice", key=k["alice-ro"])[0] == 200
    status, headers, _ = ask(a, PUSH_REFS, user="alice", key=k["alice-ro"])
    assert status == 403
    assert "read-only" in headers["X-Modelgit-Reason"]


def test_wrong_key_is_401(app: tuple[App, dict[str, str]]) -> None:
    a, _ = app
    status, headers, _ = ask(a, REFS, user="alice", key="mg_" + "z" * 40)
    assert status == 401
    assert "WWW-Authenticate" in headers


@pytest.mark.parametrize("uri", [
    "/git/acme/bert.git/HEAD",
    "/git/acme/bert.git/objects/info/packs",
    "/acme/bert.git/info/refs?service=git-upload-pack",
    "/git/acme/../acme/bert.git/info/refs?service=git-upload-pack",
    "/git/acme/%62ert.git/info/refs?service=git-upload-pack",
    "",
])
def test_anything_but_smart_http_is_refused(app: tuple[App, dict[str, str]], uri: str) -> None:
    a, k = app
    status, headers, _ = ask(a, uri, user="alice", key=k["alice"])
    assert status == 403
    assert "X-Remote-User" not in headers


def test_odd_method_is_refused(app: tuple[App, dict[str, str]]) -> None:
    a, k = app
    assert ask(a, REFS, user="alice", key=k["alice"], method="PUT")[0] == 403


def test_only_on_the_unix_socket(app: tuple[App, dict[str, str]]) -> None:
    """The headers are trusted only from nginx, which reaches modelgit on its socket."""
    a, k = app
    status, headers, _ = ask(a, REFS, user="alice", key=k["alice"], peer=TCP)
    assert status == 404
    assert "X-Remote-User" not in headers


def test_reason_header_is_one_safe_line() -> None:
    from modelgit.http.authreq import header_safe

    assert header_safe("a\r\nb\tc é") == "a b c ?"
    assert len(header_safe("x" * 5000)) == 1000


@pytest.mark.parametrize(("user", "key", "uri", "status"), [
    ("alice", "alice", REFS, 200),
    ("alice", "alice", PUSH_REFS, 200),
    ("bob", "bob", REFS, 403),
    ("alice", "alice-ro", PUSH_REFS, 403),
    ("alice", "bob", REFS, 401),
])
def test_forwarded_credentials_answer_the_same(app: tuple[App, dict[str, str]], user: str,
                                               key: str, uri: str, status: int) -> None:
    a, k = app
    plain = ask(a, uri, user=user, key=k[key])
    forwarded = ask(a, uri, user=user, key=k[key], forwarded=True, client="198.51.100.2")
    assert plain[0] == forwarded[0] == status
    assert plain[1].get("X-Remote-User") == forwarded[1].get("X-Remote-User")


def test_brake_counts_per_client_address(app: tuple[App, dict[str, str]]) -> None:
    """Every request on the socket comes from "localhost": a few wrong keys from one client
    must not lock out the others."""
    a, k = app
    limit = int(a.cfg.get("auth.max_failures"))
    for _ in range(limit):
        assert ask(a, REFS, user="alice", key="mg_" + "q" * 40, forwarded=True,
                   client="203.0.113.5")[0] == 401
    status, headers, _ = ask(a, REFS, user="alice", key=k["alice"], forwarded=True,
                             client="203.0.113.5")
    assert status == 403 and "too many failed sign-ins" in headers["X-Modelgit-Reason"]
    assert ask(a, REFS, user="alice", key=k["alice"], forwarded=True,
               client="203.0.113.6")[0] == 200


def test_key_check(app: tuple[App, dict[str, str]]) -> None:
    """Apache's provider step: the key and its scope only; the decision comes later."""
    a, k = app
    check = {"X-Modelgit-Check": "key"}
    status, headers, _ = ask(a, REFS, user="bob", key=k["bob"], forwarded=True, extra=check)
    assert status == 200 and headers["X-Remote-User"] == "bob"
    assert ask(a, PUSH_REFS, user="alice", key=k["alice-ro"], forwarded=True,
               extra=check)[0] == 403
    assert ask(a, REFS, user="alice", key=k["alice-ro"], forwarded=True, extra=check)[0] == 200
    assert ask(a, REFS, extra=check)[0] == 401
    assert ask(a, REFS, user="bob", key=k["alice"], forwarded=True, extra=check)[0] == 401


def test_user_check(app: tuple[App, dict[str, str]]) -> None:
    """Apache's group step: the decision for a user Apache authenticated."""
    a, _ = app

    def as_user(name: str, uri: str = REFS) -> int:
        return ask(a, uri, extra={"X-Modelgit-Check": "user", "X-Modelgit-User": name})[0]

    assert as_user("alice") == 200
    assert as_user("alice", PUSH_REFS) == 200
    assert as_user("bob") == 403
    assert as_user("bob", "/git/acme/open.git/info/refs?service=git-upload-pack") == 200
    assert as_user("bob", "/git/acme/open.git/info/refs?service=git-receive-pack") == 403
    assert as_user("nobody") == 403
    assert as_user("") == 403


# --------------------------------------------------------------------------- client answers
def serve_answer(app: App, uri: str, *, user: str | None = None,
                 key: str | None = None) -> tuple[int, dict[str, str], str]:
    """What ``modelgit serve`` answers for the git request itself (no prefix)."""
    path, _, query = uri.removeprefix("/git").partition("?")
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                               "wsgi.input": io.BytesIO(b""), **TCP}
    if key is not None:
        token = base64.b64encode(f"{user}:{key}".encode()).decode()
        environ["HTTP_AUTHORIZATION"] = f"Basic {token}"
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, headers

    text = b"".join(app(environ, start_response)).decode()
    return int(seen["status"].split()[0]), dict(seen["headers"]), text


CLIENT = {"X-Modelgit-Answer": "client"}
NOPE = "/git/acme/nope.git/info/refs?service=git-upload-pack"


@pytest.mark.parametrize(("user", "key", "uri", "status"), [
    ("bob", "bob", REFS, 404),                        # private: exactly as missing
    ("bob", "bob", NOPE, 404),
    (None, None, REFS, 401),
    (None, None, NOPE, 401),
    ("alice", "alice-ro", PUSH_REFS, 403),
    ("bob", "bob", "/git/acme/gated.git/info/refs?service=git-upload-pack", 403),
    ("bob", "bob", "/git/acme/open.git/info/refs?service=git-receive-pack", 403),
])
def test_client_answer_is_serves(app: tuple[App, dict[str, str]], user: str | None,
                                 key: str | None, uri: str, status: int) -> None:
    """``X-Modelgit-Answer: client``: what the web server shows of a refusal is what the
    standalone server answers for the git request, status, challenge and text."""
    a, k = app
    if a.store.get_model("acme/gated") is None:
        a.store.add_model("acme/gated", "alice", visibility="public", gated="manual")
    secret = k[key] if key else None
    theirs = ask(a, uri, user=user, key=secret, forwarded=secret is not None, extra=CLIENT)
    ours = serve_answer(a, uri, user=user, key=secret)
    assert theirs[0] == ours[0] == status
    assert theirs[2] == ours[2]
    assert theirs[1].get("WWW-Authenticate") == ours[1].get("WWW-Authenticate")
    if status == 404:
        assert "not found" in theirs[2] and "X-Modelgit-Reason" not in theirs[1]


def test_client_answer_counts_no_failure(app: tuple[App, dict[str, str]]) -> None:
    """The first question counted the wrong key; explaining it must not count it again."""
    a, k = app
    limit = int(a.cfg.get("auth.max_failures"))
    for _ in range(limit + 2):
        status, headers, _ = ask(a, REFS, user="alice", key="mg_" + "w" * 40, forwarded=True,
                                 client="203.0.113.9", extra=CLIENT)
        assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="modelgit"'
    assert ask(a, REFS, user="alice", key=k["alice"], forwarded=True,
               client="203.0.113.9")[0] == 200


def test_client_answer_when_braked_is_serves_429(app: tuple[App, dict[str, str]]) -> None:
    a, _ = app
    limit = int(a.cfg.get("auth.max_failures"))
    for _ in range(limit):
        ask(a, REFS, user="alice", key="mg_" + "v" * 40, forwarded=True, client="203.0.113.10")
    status, headers, body = ask(a, REFS, user="alice", key="mg_" + "v" * 40, forwarded=True,
                                client="203.0.113.10", extra=CLIENT)
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert "too many failed sign-ins" in body


def test_client_answer_never_allows(app: tuple[App, dict[str, str]]) -> None:
    """Asked for a request modelgit would allow (Apache challenges anonymous readers of a
    public model; or access opened in between): a challenge or an error, never a 200, and
    never a user the client named in a header."""
    a, k = app
    public = "/git/acme/open.git/info/refs?service=git-upload-pack"
    status, headers, _ = ask(a, public, extra=CLIENT)
    assert status == 401 and "X-Remote-User" not in headers
    assert "WWW-Authenticate" in headers
    status, headers, body = ask(a, REFS, user="alice", key=k["alice"], forwarded=True,
                                extra=CLIENT)
    assert status == 500 and "X-Remote-User" not in headers and "try again" in body
    forged = {**CLIENT, "X-Modelgit-Check": "user", "X-Modelgit-User": "alice"}
    assert ask(a, REFS, extra=forged)[0] == 401


@pytest.mark.parametrize("check", ["access", "key"])
def test_anonymous_cannot_tell_private_from_missing(app: tuple[App, dict[str, str]],
                                                     check: str) -> None:
    """The same 401, challenge and text for a private model and a missing one."""
    a, _ = app
    hidden = ask(a, REFS, extra={"X-Modelgit-Check": check})
    missing = ask(a, "/git/acme/nope.git/info/refs?service=git-upload-pack",
                  extra={"X-Modelgit-Check": check})
    assert hidden == missing
    assert hidden[0] == 401 and hidden[1]["WWW-Authenticate"] == 'Basic realm="modelgit"'
    assert "bert" not in hidden[2]


@pytest.mark.parametrize("password", ["", "x-oauth-basic"])
def test_key_as_user_name_answers_for_its_owner(app: tuple[App, dict[str, str]],
                                                password: str) -> None:
    """nginx hands git the owner's name (X-Remote-User), never the key that came as the
    user name."""
    a, k = app
    status, headers, _ = ask(a, REFS, user=k["alice"], key=password, forwarded=True,
                             client="198.51.100.77")
    assert status == 200 and headers["X-Remote-User"] == "alice"
    wrong = ask(a, REFS, user="mg_" + "K" * 40, key=password, forwarded=True,
                client="198.51.100.77")
    assert wrong[0] == 401
    assert "mg_KKK" not in str(a.store.audit_rows(limit=50))
