"""The batch API as plain dicts: per-object errors, scoping to the model, quotas, limits."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from modelgit.lfs.batch import (
    MAX_BODY_BYTES,
    MAX_OBJECTS,
    BatchContext,
    BatchError,
    batch_response,
    parse_batch_request,
    parse_verify_request,
)

A = "a" * 64
B = "b" * 64
C = "c" * 64
D = "d" * 64
HEADER = {"Authorization": "Basic YWxpY2U6bWdfa2V5"}


def make_ctx(
    operation: str,
    *,
    linked: dict[str, int] | None = None,
    stored: dict[str, int] | None = None,
    quota_left: int | None = None,
    header: dict[str, str] | None = None,
) -> BatchContext:
    links = linked or {}
    store = dict(links) if stored is None else stored

    def tokens(oid: str, op: str, size: int) -> str:
        return f"tok-{op}-{oid[:4]}"

    return BatchContext(
        repo="space/model",
        operation=operation,
        base_url="http://127.0.0.1:8080/",
        linked=links.get,
        stored=store.get,
        quota_left=quota_left,
        quota_message="space quota exceeded: used 9 B of 10 B",
        header=HEADER if header is None else header,
        expires_in=3600,
        make_token=tokens,
    )


def request(operation: str, objects: list[Any], **extra: Any) -> dict[str, Any]:
    body = {"operation": operation, "transfers": ["basic"], "objects": objects, **extra}
    return parse_batch_request(json.dumps(body).encode())


def answer(operation: str, objects: list[Any], ctx: BatchContext) -> list[dict[str, Any]]:
    response = batch_response(request(operation, objects), ctx)
    assert response["transfer"] == "basic"
    assert response["hash_algo"] == "sha256"
    json.dumps(response)  # serializable as is
    served: list[dict[str, Any]] = response["objects"]
    return served


# --- parse_batch_request ---------------------------------------------------------------


def test_parse_fills_defaults() -> None:
    req = parse_batch_request(b'{"operation": "download", "objects": []}')
    assert req == {
        "operation": "download",
        "transfers": ["basic"],
        "ref": None,
        "objects": [],
        "hash_algo": "sha256",
    }


def test_parse_keeps_ref() -> None:
    req = request("upload", [], ref={"name": "refs/heads/main"})
    assert req["ref"] == {"name": "refs/heads/main"}


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe", b"[" * 100_000])
def test_bad_json_is_400(body: bytes) -> None:
    with pytest.raises(BatchError) as err:
        parse_batch_request(body)
    assert err.value.status == 400
    assert err.value.body() == {"message": err.value.message}


@pytest.mark.parametrize(
    "body",
    [
        [],
        "upload",
        {"objects": []},
        {"operation": "delete", "objects": []},
        {"operation": "download"},
        {"operation": "download", "objects": {}},
        {"operation": "download", "objects": ["a" * 64]},
        {"operation": "download", "objects": [None]},
        {"operation": "download", "objects": [], "transfers": "basic"},
        {"operation": "download", "objects": [], "transfers": ["multipart"]},
        {"operation": "download", "objects": [], "transfers": [1]},
        {"operation": "download", "objects": [], "ref": "refs/heads/main"},
        {"operation": "download", "objects": [], "ref": {"name": 1}},
    ],
    ids=repr,
)
def test_bad_shape_is_422(body: object) -> None:
    with pytest.raises(BatchError) as err:
        parse_batch_request(json.dumps(body).encode())
    assert err.value.status == 422


@pytest.mark.parametrize("algo", ["sha1", "SHA256", None, 256])
def test_other_hash_algo_is_refused(algo: object) -> None:
    body = {"operation": "download", "objects": [], "hash_algo": algo}
    with pytest.raises(BatchError) as err:
        parse_batch_request(json.dumps(body).encode())
    assert err.value.status == 409
    assert "sha256" in err.value.message


def test_explicit_sha256_is_fine() -> None:
    assert request("download", [], hash_algo="sha256")["hash_algo"] == "sha256"


def test_max_objects_cap() -> None:
    objects = [{"oid": A, "size": 1}] * MAX_OBJECTS
    assert len(request("download", objects)["objects"]) == MAX_OBJECTS
    with pytest.raises(BatchError) as err:
        request("download", [*objects, {"oid": B, "size": 1}])
    assert err.value.status == 413
    assert str(MAX_OBJECTS) in err.value.message


def test_oversized_body_is_413() -> None:
    with pytest.raises(BatchError) as err:
        parse_batch_request(b" " * (MAX_BODY_BYTES + 1))
    assert err.value.status == 413


# --- per-object validation --------------------------------------------------------------


@pytest.mark.parametrize("operation", ["upload", "download"])
@pytest.mark.parametrize(
    ("entry", "echo"),
    [
        ({"oid": "../etc/passwd", "size": 1}, {"oid": "../etc/passwd", "size": 1}),
        ({"oid": A.upper(), "size": 1}, {"oid": A.upper(), "size": 1}),
        ({"oid": A[:63], "size": 1}, {"oid": A[:63], "size": 1}),
        ({"oid": 12, "size": 1}, {"oid": "", "size": 1}),
        ({"size": 1}, {"oid": "", "size": 1}),
        ({"oid": A, "size": -1}, {"oid": A, "size": 0}),
        ({"oid": A, "size": True}, {"oid": A, "size": 0}),
        ({"oid": A, "size": 1.5}, {"oid": A, "size": 0}),
        ({"oid": A, "size": "1"}, {"oid": A, "size": 0}),
        ({"oid": A}, {"oid": A, "size": 0}),
    ],
    ids=repr,
)
def test_invalid_oid_or_size_is_a_per_object_422(
    operation: str, entry: dict[str, Any], echo: dict[str, Any]
) -> None:
    ctx = make_ctx(operation, linked={A: 1})
    first, second = answer(operation, [entry, {"oid": A, "size": 1}], ctx)
    assert first["error"]["code"] == 422
    assert first["oid"] == echo["oid"]
    assert first["size"] == echo["size"]
    assert "actions" not in first
    assert "error" not in second  # the valid object is still served


# --- download ---------------------------------------------------------------------------


def test_download_of_linked_object() -> None:
    ctx = make_ctx("download", linked={A: 5})
    (obj,) = answer("download", [{"oid": A, "size": 5}], ctx)
    assert obj["oid"] == A
    assert obj["size"] == 5
    assert obj["authenticated"] is True
    action = obj["actions"]["download"]
    assert action["href"] == (
        f"http://127.0.0.1:8080/space/model.git/info/lfs/objects/{A}?token=tok-download-aaaa"
    )
    assert action["header"] == HEADER
    assert action["expires_in"] == 3600
    assert set(obj["actions"]) == {"download"}


def test_download_reports_the_stored_size_not_the_claimed_one() -> None:
    (obj,) = answer("download", [{"oid": A, "size": 999}], make_ctx("download", linked={A: 5}))
    assert obj["size"] == 5


def test_download_of_unknown_object_is_404() -> None:
    (obj,) = answer("download", [{"oid": A, "size": 5}], make_ctx("download"))
    assert obj["error"]["code"] == 404
    assert "actions" not in obj


def test_download_of_another_models_object_is_404() -> None:
    """The bytes are in the store (another model uploaded them), but not linked here."""
    ctx = make_ctx("download", linked={}, stored={A: 5})
    (obj,) = answer("download", [{"oid": A, "size": 5}], ctx)
    assert obj["error"]["code"] == 404
    assert "space/model" in obj["error"]["message"]
    assert "actions" not in obj


def test_download_of_linked_object_whose_bytes_are_gone_is_404() -> None:
    ctx = make_ctx("download", linked={A: 5}, stored={})
    (obj,) = answer("download", [{"oid": A, "size": 5}], ctx)
    assert obj["error"]["code"] == 404
    assert "missing" in obj["error"]["message"]


def test_anonymous_download_has_no_header() -> None:
    ctx = make_ctx("download", linked={A: 5}, header={})
    (obj,) = answer("download", [{"oid": A, "size": 5}], ctx)
    assert "header" not in obj["actions"]["download"]


def test_hrefs_quote_the_token() -> None:
    ctx = make_ctx("download", linked={A: 5})
    ctx = dataclasses.replace(ctx, make_token=lambda oid, op, size: "a+b/c=&d")
    (obj,) = answer("download", [{"oid": A, "size": 5}], ctx)
    query = urlsplit(obj["actions"]["download"]["href"]).query
    assert parse_qs(query) == {"token": ["a+b/c=&d"]}


# --- upload -----------------------------------------------------------------------------


def test_upload_of_new_object_gets_upload_and_verify() -> None:
    (obj,) = answer("upload", [{"oid": A, "size": 5}], make_ctx("upload"))
    assert obj["authenticated"] is True
    upload, verify = obj["actions"]["upload"], obj["actions"]["verify"]
    base = "http://127.0.0.1:8080/space/model.git/info/lfs/objects"
    assert upload["href"] == f"{base}/{A}?token=tok-upload-aaaa"
    assert verify["href"] == f"{base}/verify?token=tok-verify-aaaa"
    for action in (upload, verify):
        assert action["header"] == HEADER
        assert action["expires_in"] == 3600


def test_upload_of_already_linked_object_needs_no_actions() -> None:
    (obj,) = answer("upload", [{"oid": A, "size": 5}], make_ctx("upload", linked={A: 5}))
    assert obj == {"oid": A, "size": 5}


def test_upload_with_size_disagreeing_with_linked_object_is_422() -> None:
    (obj,) = answer("upload", [{"oid": A, "size": 6}], make_ctx("upload", linked={A: 5}))
    assert obj["error"]["code"] == 422


def test_upload_of_object_another_model_holds_still_needs_upload() -> None:
    """Knowing an oid grants nothing: the uploader must send the bytes to get them linked."""
    ctx = make_ctx("upload", linked={}, stored={A: 5})
    (obj,) = answer("upload", [{"oid": A, "size": 5}], ctx)
    assert set(obj["actions"]) == {"upload", "verify"}


def test_upload_of_linked_object_whose_bytes_are_gone_asks_for_them_again() -> None:
    ctx = make_ctx("upload", linked={A: 5}, stored={}, quota_left=0)
    (obj,) = answer("upload", [{"oid": A, "size": 5}], ctx)
    assert set(obj["actions"]) == {"upload", "verify"}  # and no quota charge: already counted


# --- quota ------------------------------------------------------------------------------


def test_quota_cumulative_sizes_beyond_quota_left_get_507() -> None:
    ctx = make_ctx("upload", quota_left=10)
    objs = answer(
        "upload",
        [{"oid": A, "size": 4}, {"oid": B, "size": 6}, {"oid": C, "size": 1}],
        ctx,
    )
    assert "actions" in objs[0]
    assert "actions" in objs[1]  # 4 + 6 == 10: exactly fits
    assert objs[2]["error"] == {
        "code": 507,
        "message": "space quota exceeded: used 9 B of 10 B",
    }
    assert "actions" not in objs[2]


def test_quota_every_object_after_the_limit_fails() -> None:
    ctx = make_ctx("upload", quota_left=5)
    objs = answer(
        "upload",
        [{"oid": A, "size": 6}, {"oid": B, "size": 1}],
        ctx,
    )
    assert [o["error"]["code"] for o in objs] == [507, 507]


def test_quota_ignores_already_linked_objects() -> None:
    ctx = make_ctx("upload", linked={A: 100}, quota_left=5)
    objs = answer("upload", [{"oid": A, "size": 100}, {"oid": B, "size": 5}], ctx)
    assert objs[0] == {"oid": A, "size": 100}
    assert set(objs[1]["actions"]) == {"upload", "verify"}


def test_quota_counts_a_repeated_oid_once() -> None:
    ctx = make_ctx("upload", quota_left=5)
    objs = answer(
        "upload",
        [{"oid": A, "size": 5}, {"oid": B, "size": 1}, {"oid": A, "size": 5}],
        ctx,
    )
    assert "actions" in objs[0]
    assert objs[1]["error"]["code"] == 507
    assert "actions" in objs[2]


def test_quota_zero_left_refuses_even_empty_upload_batch_sizes_above_zero() -> None:
    ctx = make_ctx("upload", quota_left=0)
    objs = answer("upload", [{"oid": A, "size": 0}, {"oid": B, "size": 1}], ctx)
    assert "actions" in objs[0]
    assert objs[1]["error"]["code"] == 507


def test_unlimited_quota() -> None:
    ctx = make_ctx("upload", quota_left=None)
    (obj,) = answer("upload", [{"oid": A, "size": 2**50}], ctx)
    assert "actions" in obj


def test_download_is_never_charged_quota() -> None:
    ctx = make_ctx("download", linked={A: 100}, quota_left=0)
    (obj,) = answer("download", [{"oid": A, "size": 100}], ctx)
    assert "download" in obj["actions"]


# --- misc -------------------------------------------------------------------------------


def test_operation_must_match_the_authorized_one() -> None:
    with pytest.raises(ValueError, match="authorized"):
        batch_response(request("upload", []), make_ctx("download"))


def test_mixed_batch_keeps_request_order() -> None:
    ctx = make_ctx("download", linked={A: 1, C: 3})
    objs = answer(
        "download",
        [{"oid": A, "size": 1}, {"oid": B, "size": 2}, {"oid": C, "size": 3}, {"oid": "x"}],
        ctx,
    )
    assert [o["oid"] for o in objs] == [A, B, C, "x"]
    assert ["error" in o for o in objs] == [False, True, False, True]


def test_parse_verify_request() -> None:
    assert parse_verify_request(json.dumps({"oid": D, "size": 3}).encode()) == (D, 3)
    for bad in [b"nope", b"[]", json.dumps({"oid": "x", "size": 3}).encode()]:
        with pytest.raises(BatchError) as err:
            parse_verify_request(bad)
        assert err.value.status in (400, 422)
    with pytest.raises(BatchError) as err:
        parse_verify_request(json.dumps({"oid": D, "size": -3}).encode())
    assert err.value.status == 422
