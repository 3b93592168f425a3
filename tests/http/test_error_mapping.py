"""Each front end maps the one error hierarchy once: git's routes as text/plain, the gating
API as JSON with ``X-Error-Message``, the hub API with ``X-Error-Code`` too."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelgit.config import Config
from modelgit.errors import ModelgitError, NotFound, TooMany, Unauthorized
from modelgit.http import gating_api
from modelgit.http.app import App, Route
from modelgit.http.hub.common import bind
from modelgit.http.request import Request
from modelgit.http.responses import Response
from modelgit.store import Store


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    cfg = Config(data_dir=tmp_path)
    store = Store.create(cfg.db_path)
    yield App(cfg, store)
    store.close()


Answer = tuple[str, dict[str, str], bytes]


def call(app: App, path: str, error: ModelgitError, wrap: str = "") -> Answer:
    def handler(*args: Any) -> Response:
        raise error

    if wrap == "api":
        route = gating_api._api(handler, app)
    elif wrap == "hub":
        route = bind(handler, app)
    else:
        route = handler
    app.routes.insert(0, Route(("GET",), re.compile("^" + path + "$"), route))
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    body = b"".join(app(environ, start))
    return seen["status"], seen["headers"], body


def test_git_routes_answer_text_git_prints(app: App) -> None:
    status, headers, body = call(app, "/x", NotFound("no such thing", hint="look elsewhere"))
    assert status == "404 Not Found" and headers["Content-Type"].startswith("text/plain")
    assert body == b"no such thing\nhint: look elsewhere\n"
    status, headers, _ = call(app, "/y", Unauthorized("sign in"))
    assert status.startswith("401") and headers["WWW-Authenticate"].startswith("Basic")
    status, headers, _ = call(app, "/z", TooMany("wait", retry_after=7))
    assert status.startswith("429") and headers["Retry-After"] == "7"


def test_the_gating_api_answers_json(app: App) -> None:
    status, headers, body = call(app, "/a", NotFound("gone\nsecond line", code="RepoNotFound"),
                                 "api")
    assert status == "404 Not Found" and json.loads(body) == {"error": "gone\nsecond line"}
    assert headers["X-Error-Message"] == "gone" and headers["X-Error-Code"] == "RepoNotFound"


def test_the_hub_api_answers_with_its_codes(app: App) -> None:
    status, headers, body = call(app, "/h", NotFound("no rev", code="RevisionNotFound"), "hub")
    assert status == "404 Not Found" and json.loads(body) == {"error": "no rev"}
    assert headers["X-Error-Code"] == "RevisionNotFound" and headers["X-Error-Message"] == "no rev"
    _, headers, _ = call(app, "/s", ModelgitError("long\ntext", summary="short"), "hub")
    assert headers["X-Error-Message"] == "short"


def test_an_unexpected_error_is_still_a_500(app: App) -> None:
    def boom(req: Request, match: re.Match[str]) -> Response:
        raise RuntimeError("bug")

    app.routes.insert(0, Route(("GET",), re.compile("^/b$"), boom))
    seen: dict[str, Any] = {}
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/b"},
                        lambda s, h: seen.update(status=s)))
    assert seen["status"].startswith("500") and b"internal error" in body
