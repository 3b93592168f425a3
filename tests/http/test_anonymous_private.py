"""An anonymous caller cannot tell a private model from a missing one (docs/access.md: "not even
existence"): on every route the two answers are the same status, body and headers, and the
401 still carries the Basic challenge so git asks its credential helper."""

from __future__ import annotations

import json

import pytest

from tests.conftest import HttpAnswer, Site, git

PRIVATE = "hide/secret-model"
MISSING = "hide/no-such-model"
LFS_TYPE = "application/vnd.git-lfs+json"
BATCH = json.dumps({"operation": "download", "transfers": ["basic"],
                    "objects": [{"oid": "a" * 64, "size": 1}]}).encode()
UPLOAD = json.dumps({"operation": "upload", "transfers": ["basic"],
                     "objects": [{"oid": "a" * 64, "size": 1}]}).encode()

# (method, path after the model, body, headers): git, LFS, the hub API and the gating API.
ROUTES: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("GET", "{m}.git/info/refs?service=git-upload-pack", None, {}),
    ("GET", "{m}.git/info/refs?service=git-receive-pack", None, {}),
    ("POST", "{m}.git/git-upload-pack", b"0000",
     {"Content-Type": "application/x-git-upload-pack-request"}),
    ("POST", "{m}.git/info/lfs/objects/batch", BATCH,
     {"Content-Type": LFS_TYPE, "Accept": LFS_TYPE}),
    ("POST", "{m}.git/info/lfs/objects/batch", UPLOAD,
     {"Content-Type": LFS_TYPE, "Accept": LFS_TYPE}),
    ("GET", "{m}.git/info/lfs/locks", None, {"Accept": LFS_TYPE}),
    ("GET", "api/models/{m}", None, {}),
    ("GET", "api/models/{m}/revision/main", None, {}),
    ("GET", "api/models/{m}/tree/main", None, {}),
    ("GET", "{m}/resolve/main/README.md", None, {}),
    ("POST", "api/models/{m}/preupload/main", b'{"files": []}',
     {"Content-Type": "application/json"}),
    ("GET", "api/models/{m}/user-access-request/pending", None, {}),
    ("POST", "api/models/{m}/user-access-request", b"{}", {"Content-Type": "application/json"}),
    ("GET", "api/models/{m}/refs", None, {}),
    ("POST", "api/models/{m}/paths-info/main", b'{"paths": ["README.md"]}',
     {"Content-Type": "application/json"}),
    ("POST", "api/models/{m}/commit/main", b'{"key": "header", "value": {"summary": "x"}}\n',
     {"Content-Type": "application/x-ndjson"}),
    ("HEAD", "{m}/resolve/main/README.md", None, {}),
    ("GET", "api/models/{m}/user-access-report", None, {}),
    ("POST", "api/models/{m}/user-access-request/handle", b'{"user": "x", "status": "accepted"}',
     {"Content-Type": "application/json"}),
    ("POST", "{m}.git/info/lfs/locks/verify", b"{}", {"Content-Type": LFS_TYPE}),
    ("PUT", "{m}.git/info/lfs/objects/" + "a" * 64, b"x", {}),
    ("GET", "{m}.git/info/lfs/objects/" + "a" * 64, None, {}),
]


@pytest.fixture(scope="module")
def hidden(site: Site) -> str:
    return site.model(PRIVATE)


def _same(a: HttpAnswer, b: HttpAnswer) -> tuple[int, list[tuple[str, str]], bytes]:
    """The part of an answer that may differ only by chance: nothing but the Date and the
    request's own id."""
    def shape(x: HttpAnswer) -> tuple[int, list[tuple[str, str]], bytes]:
        return x.status, sorted((k.lower(), v) for k, v in x.headers.items()
                                if k.lower() not in ("date", "x-request-id")), x.body
    return shape(a) if shape(a) == shape(b) else (0, [], b"")


@pytest.mark.parametrize(("method", "path", "body", "headers"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_private_and_missing_look_the_same(site: Site, hidden: str, method: str, path: str,
                                           body: bytes | None, headers: dict[str, str]) -> None:
    private = site.http(method, "/" + path.format(m=PRIVATE), body=body, headers=headers)
    missing = site.http(method, "/" + path.format(m=MISSING), body=body, headers=headers)
    assert private.status == missing.status == 401, (private, missing)
    assert private.headers["WWW-Authenticate"] == 'Basic realm="modelgit"'
    assert _same(private, missing)[0], (
        f"anonymous answers differ:\nprivate {private.headers.items()} {private.body!r}\n"
        f"missing {missing.headers.items()} {missing.body!r}")
    assert b"secret-model" not in private.body
    assert "secret-model" not in " ".join(private.headers.values())


def test_git_prompts_for_a_key_on_a_private_model(site: Site, hidden: str) -> None:
    """The challenge is what makes git ask its credential helper: with prompts off, git says
    so, and with the owner's key the same URL answers."""
    out = git("ls-remote", f"{site.url}/{PRIVATE}.git", check=False)
    assert out.returncode != 0
    assert "could not read Username" in out.stderr
    assert git("ls-remote", site.clone_url(PRIVATE, "owner")).returncode == 0
