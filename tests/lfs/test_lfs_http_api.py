"""The LFS HTTP endpoints driven directly: scoping, verification, concurrency, hostile input,
ranges, tokens and the locks API, against a real ``modelgit serve``."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from modelgit.lfs.tokens import load_or_create_secret, make_token
from tests.conftest import Site
from tests.helpers.lfs_api import (
    MEDIA,
    TOKEN_HEADER,
    batch,
    is_stored,
    local,
    oid_of,
    on_files,
    post_json,
    stored_path,
    stored_size,
    upload,
)


@pytest.fixture(scope="module")
def models(site: Site) -> dict[str, str]:
    """Two private models with the same owner, a reader on A and a read-only key."""
    site.model("api/a")
    site.model("api/b")
    site.user("api-reader")
    site.cli("grant", "api/a", "api-reader", "user")
    site.user("api-ro", scope="read")
    site.cli("grant", "api/a", "api-ro", "developer")
    return {"a": "api/a", "b": "api/b", "key": site.keys["owner"]}


# --------------------------------------------------------------------------- scoping
def test_oid_of_another_model_grants_nothing(site: Site, models: dict[str, str]) -> None:
    key = models["key"]
    data = os.urandom(4096)
    oid = upload(site, models["a"], data, key)
    assert is_stored(site, oid)

    # B's owner asks B for A's object: per-object 404, no download action.
    answer = batch(site, models["b"], "download", [{"oid": oid, "size": len(data)}], key)
    assert answer.status == 200
    obj = json.loads(answer.body)["objects"][0]
    assert obj["error"]["code"] == 404 and "actions" not in obj
    # Nor can the bytes be fetched from B's transfer URL, with a key or with A's token.
    assert site.http("GET", f"/{models['b']}.git/info/lfs/objects/{oid}", key=key).status == 404
    a_answer = batch(site, models["a"], "download", [{"oid": oid, "size": len(data)}], key)
    a_href = json.loads(a_answer.body)["objects"][0]["actions"]["download"]["href"]
    token = urlsplit(a_href).query.split("token=", 1)[1]
    stolen = site.http("GET", f"/{models['b']}.git/info/lfs/objects/{oid}?token={token}")
    assert stolen.status == 401

    # Uploading to B still asks for the bytes (not linked here), then B serves them.
    answer = batch(site, models["b"], "upload", [{"oid": oid, "size": len(data)}], key)
    assert "upload" in json.loads(answer.body)["objects"][0]["actions"]
    upload(site, models["b"], data, key)
    answer = batch(site, models["b"], "download", [{"oid": oid, "size": len(data)}], key)
    assert "download" in json.loads(answer.body)["objects"][0]["actions"]
    # Once linked, a second upload batch asks for nothing.
    answer = batch(site, models["b"], "upload", [{"oid": oid, "size": len(data)}], key)
    assert "actions" not in json.loads(answer.body)["objects"][0]


def test_download_streams_with_length_and_range(site: Site, models: dict[str, str]) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    oid = upload(site, models["a"], data, models["key"])
    answer = batch(site, models["a"], "download", [{"oid": oid, "size": len(data)}],
                   site.keys["api-reader"])
    assert answer.headers["Content-Type"] == MEDIA
    action = json.loads(answer.body)["objects"][0]["actions"]["download"]
    assert action["expires_in"] > 0 and TOKEN_HEADER in action["header"]
    assert "mg_" not in answer.body.decode(), "a key leaked into the batch answer"

    path = f"/{models['a']}.git/info/lfs/objects/{oid}"
    whole = site.http("GET", path, headers=action["header"])  # the header alone suffices
    assert whole.status == 200 and whole.body == data
    assert whole.headers["Content-Length"] == str(len(data))
    by_query = site.http("GET", local(action["href"]))  # and so does the href's query
    assert by_query.status == 200 and by_query.body == data

    part = site.http("GET", path, headers={**action["header"], "Range": "bytes=100-199"})
    assert part.status == 206 and part.body == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = site.http("GET", path, headers={**action["header"], "Range": f"bytes={len(data) - 5}-"})
    assert tail.status == 206 and tail.body == data[-5:]
    suffix = site.http("GET", path, headers={**action["header"], "Range": "bytes=-3"})
    assert suffix.body == data[-3:]
    for bad in (f"bytes={len(data)}-", "bytes=9-3", "bytes=abc", "items=0-1", "bytes=0-1,4-5"):
        refused = site.http("GET", path, headers={**action["header"], "Range": bad})
        assert refused.status == 416, bad
        assert refused.headers["Content-Range"] == f"bytes */{len(data)}"
    # With the reader's key instead of a token.
    assert site.http("GET", path, key=site.keys["api-reader"]).body == data
    # The object goes out with sendfile(2); the connection stays usable for the next request
    # (a keep-alive client, as git-lfs is, reads one answer after the other on it).
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    try:
        for asked, want in ((None, data), ("bytes=7-1048582", data[7:1048583]), (None, data)):
            conn.request("GET", path, headers={**action["header"],
                                               **({"Range": asked} if asked else {})})
            got = conn.getresponse()
            assert got.read() == want and not got.will_close
    finally:
        conn.close()


def test_mismatched_upload_is_refused_and_not_stored(site: Site, models: dict[str, str]) -> None:
    claimed = os.urandom(2048)
    oid = oid_of(claimed)
    answer = batch(site, models["a"], "upload", [{"oid": oid, "size": len(claimed)}],
                   models["key"])
    put = json.loads(answer.body)["objects"][0]["actions"]["upload"]
    forged = bytearray(claimed)
    forged[0] ^= 0xFF
    sent = site.http("PUT", local(put["href"]), body=bytes(forged), headers=put["header"])
    assert sent.status == 422
    assert "sha256" in json.loads(sent.body)["message"]
    short = site.http("PUT", local(put["href"]), body=claimed[:-1], headers=put["header"])
    assert short.status == 422
    assert not is_stored(site, oid)
    if on_files(site):
        assert list((site.data / "lfs" / "tmp").iterdir()) == []
    assert site.store().linked_size(models["a"], oid) is None
    verify = post_json(site, f"/{models['a']}.git/info/lfs/objects/verify",
                       {"oid": oid, "size": len(claimed)}, models["key"])
    assert verify.status == 404


def test_concurrent_uploads_of_one_object_to_two_models(site: Site,
                                                        models: dict[str, str]) -> None:
    data = os.urandom(2 * 1024 * 1024)
    oid = oid_of(data)
    results: dict[str, BaseException | str] = {}

    def run(model: str) -> None:
        try:
            results[model] = upload(site, model, data, models["key"])
        except BaseException as exc:  # reported below
            results[model] = exc

    threads = [threading.Thread(target=run, args=(m,)) for m in (models["a"], models["b"])
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {models["a"]: oid, models["b"]: oid}
    store = site.store()
    assert store.linked_size(models["a"], oid) == len(data)
    assert store.linked_size(models["b"], oid) == len(data)
    assert stored_size(site, oid) == len(data)
    if on_files(site):  # one copy, no leftovers
        copies = list((site.data / "lfs" / "objects").rglob(oid))
        assert copies == [stored_path(site, oid)]
        assert list((site.data / "lfs" / "tmp").iterdir()) == []


# --------------------------------------------------------------------------- auth
def test_auth_answers(site: Site, models: dict[str, str]) -> None:
    objects = [{"oid": "a" * 64, "size": 1}]
    anonymous = batch(site, models["a"], "download", objects, None)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="modelgit"'
    assert anonymous.headers["Content-Type"] == MEDIA
    assert "message" in json.loads(anonymous.body)
    site.user("api-stranger")
    stranger = batch(site, models["a"], "download", objects, site.keys["api-stranger"])
    assert stranger.status == 404
    reader_upload = batch(site, models["a"], "upload", objects, site.keys["api-reader"])
    assert reader_upload.status == 403
    read_key = batch(site, models["a"], "upload", objects, site.keys["api-ro"])
    assert read_key.status == 403 and "read-only" in json.loads(read_key.body)["message"]
    # A PUT with neither token nor key is challenged; a bad token without a key too.
    data = b"x"
    put_path = f"/{models['a']}.git/info/lfs/objects/{oid_of(data)}"
    assert site.http("PUT", put_path, body=data).status == 401
    refused = site.http("PUT", put_path + "?token=forged.token", body=data)
    assert refused.status == 401 and "expired" in json.loads(refused.body)["message"]


def test_tokens_are_scoped_and_expire(site: Site, models: dict[str, str]) -> None:
    secret = load_or_create_secret(site.data / "lfs" / "token.secret")
    data = os.urandom(100)
    oid = upload(site, models["a"], data, models["key"])
    path = f"/{models['a']}.git/info/lfs/objects/{oid}"

    def token(op: str, expires: int, repo: str = models["a"], obj: str = oid) -> str:
        return make_token(secret, repo=repo, oid=obj, op=op, user="owner", expires_at=expires,
                          key_id=models["key"][:11], size=len(data))

    future = int(time.time()) + 600
    assert site.http("GET", path, headers={TOKEN_HEADER: token("download", future)}).status == 200
    for wrong in (token("upload", future), token("download", int(time.time()) - 1),
                  token("download", future, repo=models["b"]),
                  token("download", future, obj="f" * 64)):
        assert site.http("GET", path, headers={TOKEN_HEADER: wrong}).status == 401
    # A download token cannot upload.
    put = site.http("PUT", path, body=data, headers={TOKEN_HEADER: token("download", future)})
    assert put.status == 401


# --------------------------------------------------------------------------- hostile input
@pytest.mark.parametrize(("oid", "size"), [
    ("../../etc/passwd", 1),
    ("A" * 64, 1),
    ("a" * 63, 1),
    ("a" * 64 + "\n", 1),
    ("a" * 64, -1),
    ("a" * 64, 2**70),
    ("a" * 64, "12"),
    ("a" * 64, True),
    (None, 1),
])
def test_bad_objects_get_per_object_422(site: Site, models: dict[str, str], oid: Any,
                                        size: Any) -> None:
    for operation in ("upload", "download"):
        answer = batch(site, models["a"], operation,
                       [{"oid": oid, "size": size}, {"oid": "b" * 64, "size": 3}], models["key"])
        assert answer.status == 200
        first, second = json.loads(answer.body)["objects"]
        assert first["error"]["code"] == 422
        assert "error" not in second or second["error"]["code"] == 404


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 400),
    (b"\xff\xfe", 400),
    (b"[]", 422),
    (b'{"operation": "delete", "objects": []}', 422),
    (b'{"operation": "download", "objects": {}}', 422),
    (b'{"operation": "download", "objects": [], "hash_algo": "md5"}', 409),
    (b'{"operation": "download", "objects": [], "transfers": ["tus"]}', 422),
    (json.dumps({"operation": "download",
                 "objects": [{"oid": "a" * 64, "size": 1}] * 5000}).encode(), 413),
    (b"[" * 100000 + b"]" * 100000, 400),
    (b'{"operation": "download", "objects": []}' + b" " * (1 << 20), 413),
    (b"[" * 50000, 400),
])
def test_bad_batch_requests_are_clear_4xx(site: Site, models: dict[str, str], body: bytes,
                                          status: int) -> None:
    answer = post_json(site, f"/{models['a']}.git/info/lfs/objects/batch", body, models["key"])
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == MEDIA
    assert json.loads(answer.body)["message"]


@pytest.mark.parametrize("path", [
    "/api/a.git/info/lfs/objects/..%2F..%2Fetc%2Fpasswd",
    "/api/a.git/info/lfs/objects/" + "A" * 64,
    "/api/a.git/info/lfs/objects/" + "a" * 63,
    "/api/a.git/info/lfs/objects/%2e%2e",
    "/api/../a.git/info/lfs/objects/" + "a" * 64,
    "/..%2Fapi/a.git/info/lfs/objects/" + "a" * 64,
])
def test_bad_transfer_paths_are_4xx(site: Site, models: dict[str, str], path: str) -> None:
    for method, body in (("GET", None), ("PUT", b"x")):
        answer = site.http(method, path, key=models["key"], body=body)
        assert 400 <= answer.status < 500, (method, path, answer.status, answer.body)
    assert not (site.data / "etc").exists()


def test_verify_and_put_hostile_bodies(site: Site, models: dict[str, str]) -> None:
    base = f"/{models['a']}.git/info/lfs/objects"
    for body, status in ((b"nope", 400), (b'{"oid": "zz", "size": 1}', 422),
                         (b'{"oid": "' + b"a" * 64 + b'", "size": -5}', 422),
                         (b"x" * (2 * 1024 * 1024), 413)):
        answer = post_json(site, f"{base}/verify", body, models["key"])
        assert answer.status == status, answer.body
    # Verify with the right oid but a wrong size.
    data = os.urandom(64)
    oid = upload(site, models["a"], data, models["key"])
    wrong = post_json(site, f"{base}/verify", {"oid": oid, "size": 65}, models["key"])
    assert wrong.status == 422


def test_server_log_has_no_keys_or_tokens(site: Site, models: dict[str, str]) -> None:
    upload(site, models["a"], os.urandom(10), models["key"])
    text = site.log_text()
    for key in site.keys.values():
        assert key not in text
    assert "token=" not in text


# --------------------------------------------------------------------------- locks API
def test_locks_api(site: Site, models: dict[str, str]) -> None:
    model = models["a"]
    site.user("lock-dev")
    site.cli("grant", model, "lock-dev", "developer")
    dev, owner = site.keys["lock-dev"], models["key"]
    base = f"/{model}.git/info/lfs/locks"
    created = post_json(site, base, {"path": "w/a.bin", "ref": {"name": "refs/heads/main"}}, dev)
    assert created.status == 201
    lock = json.loads(created.body)["lock"]
    assert lock["owner"] == {"name": "lock-dev"} and "T" in lock["locked_at"]
    again = post_json(site, base, {"path": "w/a.bin"}, owner)
    assert again.status == 409 and json.loads(again.body)["lock"]["id"] == lock["id"]

    for bad in ({"path": "../x"}, {"path": "/abs"}, {"path": ""}, {"path": 5}, {}):
        assert post_json(site, base, bad, dev).status == 422
    assert post_json(site, base, b"{", dev).status == 400
    # A read-only key, a `user` and anonymous cannot lock.
    assert post_json(site, base, {"path": "x"}, site.keys["api-ro"]).status == 403
    assert post_json(site, base, {"path": "x"}, site.keys["api-reader"]).status == 403
    assert post_json(site, base, {"path": "x"}, None).status == 401

    for i in range(3):
        post_json(site, base, {"path": f"p{i}.bin"}, dev)
    page = json.loads(site.http("GET", base + "?limit=2", key=owner).body)
    assert len(page["locks"]) == 2 and "next_cursor" in page
    rest = json.loads(site.http("GET", f"{base}?limit=2&cursor={page['next_cursor']}",
                                key=owner).body)
    assert len(rest["locks"]) == 2 and "next_cursor" not in rest
    assert site.http("GET", base + "?cursor=zz", key=owner).status == 422
    one = json.loads(site.http("GET", base + "?path=w/a.bin", key=site.keys["api-reader"]).body)
    assert [lk["id"] for lk in one["locks"]] == [lock["id"]]
    assert json.loads(site.http("GET", base + "?id=abc", key=owner).body) == {"locks": []}

    verify = json.loads(post_json(site, base + "/verify", {"limit": 100}, dev).body)
    assert len(verify["ours"]) == 4 and verify["theirs"] == []
    verify = json.loads(post_json(site, base + "/verify", {}, owner).body)
    assert verify["ours"] == [] and len(verify["theirs"]) == 4

    assert post_json(site, f"{base}/999999/unlock", {}, owner).status == 404
    assert post_json(site, f"{base}/..%2f/unlock", {}, owner).status in (404, 405)
    assert post_json(site, f"{base}/{lock['id']}/unlock", {}, owner).status == 403
    forced = post_json(site, f"{base}/{lock['id']}/unlock", {"force": True}, owner)
    assert forced.status == 200 and json.loads(forced.body)["lock"]["id"] == lock["id"]
    assert post_json(site, f"{base}/{lock['id']}/unlock", {"force": True}, owner).status == 404
