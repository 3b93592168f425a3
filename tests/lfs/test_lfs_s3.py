"""LFS objects in a real S3-compatible store: SeaweedFS (``weed server -s3``) from its wheel.

The site's ``config.yaml`` says ``lfs.storage: s3``; git-lfs, the batch API, the push checks
(pickles behind pointers), ``gc`` and the hub's ``/resolve`` then work on the bucket exactly
as on the data folder, and boto3 looks into the bucket to show where the bytes went.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import pickle
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelgit import config as config_mod
from modelgit.lfs.s3 import S3Storage, settings_from
from modelgit.lfs.storage import StorageError, storage_for
from tests.conftest import LFS_ENV, TEST_SETTINGS, Site, git, make_site
from tests.helpers import seaweed
from tests.helpers.lfs_api import batch, local, oid_of, upload


@pytest.fixture(scope="module")
def weed() -> seaweed.Seaweed:
    return seaweed.shared()


@pytest.fixture(scope="module")
def s3site(weed: seaweed.Seaweed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("s3site")
    settings = {**TEST_SETTINGS, "lfs": seaweed.s3_settings(weed, root)}
    site = make_site(root, settings)
    site.start()
    yield site
    site.stop()


def bucket_keys(weed: seaweed.Seaweed, site: Site) -> dict[str, int]:
    storage = storage_for(config_mod.load(site.data))
    assert isinstance(storage, S3Storage)
    prefix = storage.settings.prefix
    pages = weed.client().get_paginator("list_objects_v2").paginate(Bucket=storage.bucket,
                                                                     Prefix=prefix)
    return {item["Key"][len(prefix):]: item["Size"] for page in pages
            for item in page.get("Contents", [])}


def key_of(oid: str) -> str:
    return f"objects/{oid[:2]}/{oid[2:4]}/{oid}"


def test_git_lfs_push_and_clone_go_through_the_bucket(s3site: Site, weed: seaweed.Seaweed,
                                                      work: Path) -> None:
    model = s3site.model("s3/weights")
    repo = work / "push"
    git("clone", "-q", s3site.clone_url(model, "owner"), str(repo), env=LFS_ENV)
    git("lfs", "install", "--local", cwd=repo)
    git("lfs", "track", "*.bin", cwd=repo)
    data = os.urandom(12 * 1024 * 1024 + 5)
    (repo / "weights.bin").write_bytes(data)
    git("add", ".gitattributes", "weights.bin", cwd=repo, env=LFS_ENV)
    git("commit", "-qm", "weights", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo, env=LFS_ENV)

    oid = oid_of(data)
    assert bucket_keys(weed, s3site).get(key_of(oid)) == len(data)
    assert not (s3site.data / "lfs" / "objects").exists()  # nothing went to the data folder
    assert s3site.store().linked_size(model, oid) == len(data)

    clone = work / "clone"
    git("clone", "-q", s3site.clone_url(model, "owner"), str(clone), env=LFS_ENV)
    assert hashlib.sha256((clone / "weights.bin").read_bytes()).hexdigest() == oid
    # A range of the object through the hub API (one ranged GET on the store).
    answer = s3site.http("GET", f"/{model}/resolve/main/weights.bin", key=s3site.keys["owner"],
                         headers={"Range": "bytes=1000-1999"})
    assert answer.status == 206 and answer.body == data[1000:2000]


def test_tampered_upload_is_refused_and_never_stored(s3site: Site, weed: seaweed.Seaweed
                                                     ) -> None:
    model = s3site.model("s3/tamper")
    key = s3site.keys["owner"]
    good = os.urandom(3 * 1024 * 1024)
    oid = oid_of(good)
    answer = batch(s3site, model, "upload", [{"oid": oid, "size": len(good)}], key)
    put = json.loads(answer.body)["objects"][0]["actions"]["upload"]
    bad = bytearray(good)
    bad[-1] ^= 1  # the very last byte: everything before it has reached the store already
    sent = s3site.http("PUT", local(put["href"]), body=bytes(bad), headers=put["header"])
    assert sent.status == 422, sent.body
    assert "does not match the oid" in json.loads(sent.body)["message"]
    assert key_of(oid) not in bucket_keys(weed, s3site)
    again = json.loads(batch(s3site, model, "upload", [{"oid": oid, "size": len(good)}],
                             key).body)
    assert "upload" in again["objects"][0]["actions"]  # still wanted: nothing was linked

    sent = s3site.http("PUT", local(put["href"]), body=good, headers=put["header"])
    assert sent.status == 200, sent.body
    assert bucket_keys(weed, s3site)[key_of(oid)] == len(good)


def test_store_itself_refuses_bytes_that_do_not_match_the_checksum(s3site: Site,
                                                                   weed: seaweed.Seaweed
                                                                   ) -> None:
    """The second guard: a PUT presigned with ``x-amz-checksum-sha256`` (what modelgit sends)
    is refused by the store with BadDigest when the body does not hash to it."""
    storage = storage_for(config_mod.load(s3site.data))
    assert isinstance(storage, S3Storage)
    good = os.urandom(4096)
    oid = oid_of(good)
    checksum = base64.b64encode(bytes.fromhex(oid)).decode()
    url = storage.client.generate_presigned_url(
        "put_object", ExpiresIn=60, Params={"Bucket": storage.bucket, "Key": storage.key(oid),
                                            "ContentLength": len(good),
                                            "ChecksumSHA256": checksum})
    request = urllib.request.Request(url, data=b"x" + good[1:], method="PUT",  # noqa: S310
                                     headers={"x-amz-checksum-sha256": checksum})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback SeaweedFS
    assert refused.value.code == 400 and b"BadDigest" in refused.value.read()
    assert storage.stat(oid) is None


def test_storage_contract_on_s3(s3site: Site) -> None:
    """What the scanners, the hub and gc use: stat, seekable reads, listing in oid order,
    idempotent delete, and a wrong size refused before anything is stored."""
    storage = storage_for(config_mod.load(s3site.data))
    data = os.urandom(700_000)
    oid = oid_of(data)
    assert storage.put(oid, len(data), io.BytesIO(data)) == len(data)
    assert storage.get_size(oid) == len(data) and storage.path(oid) is None
    with storage.open(oid) as handle:
        handle.seek(650_000)
        assert handle.read(10) == data[650_000:650_010]
        handle.seek(5)
        assert handle.read(100_000) == data[5:100_005]
    with pytest.raises(StorageError) as short:
        storage.put(oid_of(b"abc"), 4, io.BytesIO(b"abc"))
    assert short.value.status == 422 and storage.stat(oid_of(b"abc")) is None
    listed = [o.oid for o in storage.iter_objects()]
    assert oid in listed and listed == sorted(listed)
    storage.delete(oid)
    storage.delete(oid)
    assert storage.stat(oid) is None
    with pytest.raises(StorageError) as missing:
        storage.open(oid)
    assert missing.value.status == 404


@pytest.mark.parametrize("size", [300_000, 17 * 1024 * 1024])  # in memory, then spooled
def test_writer_sends_an_object_named_by_its_sha256(s3site: Site, weed: seaweed.Seaweed,
                                                    size: int) -> None:
    """What the Xet CAS stores (a xorb, a rebuilt file): bytes whose sha256 the storage
    computes, sent under it; a writer that is not committed or has the wrong size sends
    nothing."""
    storage = storage_for(config_mod.load(s3site.data))
    data = os.urandom(size)
    with storage.writer(size) as out:
        out.write(data[:1000])
        out.write(memoryview(data)[1000:])
        oid = out.commit()
    assert oid == oid_of(data)
    assert bucket_keys(weed, s3site)[key_of(oid)] == size
    with storage.open(oid) as handle:
        assert handle.read() == data
    other = os.urandom(5000)
    with storage.writer(len(other)) as dropped:
        dropped.write(other)
    with pytest.raises(StorageError) as short, storage.writer(len(other) + 1) as out:
        out.write(other)
        out.commit()
    assert short.value.status == 422
    assert key_of(oid_of(other)) not in bucket_keys(weed, s3site)
    storage.delete(oid)


def test_gc_removes_only_unlinked_objects_from_the_bucket(s3site: Site,
                                                          weed: seaweed.Seaweed) -> None:
    s3site.model("s3gc/keep")
    s3site.model("s3gc/drop")
    key = s3site.keys["owner"]
    shared, only_drop, only_keep = os.urandom(500), os.urandom(700), os.urandom(300)
    for data in (shared, only_drop):
        upload(s3site, "s3gc/drop", data, key)
    for data in (shared, only_keep):
        upload(s3site, "s3gc/keep", data, key)
    s3site.cli("model", "delete", "s3gc/drop", "--yes")
    _, out, _ = s3site.cli("gc", "--json", "--yes")
    assert json.loads(out)["removed"] == []  # young objects survive the grace period
    _, out, _ = s3site.cli("--json", "gc", "--grace", "0", "--yes")
    result = json.loads(out)
    assert {"oid": oid_of(only_drop), "size": 700} in result["removed"]
    keys = bucket_keys(weed, s3site)
    assert key_of(oid_of(only_drop)) not in keys
    assert key_of(oid_of(shared)) in keys and key_of(oid_of(only_keep)) in keys


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def test_malicious_pickle_through_lfs_is_refused_on_s3(s3site: Site, work: Path) -> None:
    """The push checks read the object behind a pointer from the bucket."""
    model = s3site.model("s3/pickle")
    payload = pickle.dumps({"weights": [1.0], "hook": Evil()})
    upload(s3site, model, payload, s3site.keys["owner"])
    repo = work / "p"
    git("clone", "-q", s3site.clone_url(model, "owner"), str(repo))
    oid = oid_of(payload)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize" \
              f" {len(payload)}\n"
    (repo / "model.pkl").write_text(pointer)
    git("add", "model.pkl", cwd=repo)
    git("commit", "-qm", "weights", cwd=repo)
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0, pushed.stderr
    assert "model.pkl" in pushed.stderr and "posix.system" in pushed.stderr, pushed.stderr


def test_credentials_never_appear_in_settings_repr_or_logs(s3site: Site,
                                                           weed: seaweed.Seaweed) -> None:
    settings = settings_from(config_mod.load(s3site.data))
    assert weed.secret_key not in repr(settings) and weed.secret_key not in repr(
        storage_for(config_mod.load(s3site.data)))
    log = s3site.log_text()
    assert weed.secret_key not in log and "X-Amz-Signature" not in log


def test_credentials_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"access_key_id": "a", "secret_access_key": "b"}))
    path.chmod(0o644)
    cfg = config_mod.Config(data_dir=tmp_path, settings={"lfs": {"storage": "s3", "s3": {
        "endpoint": "http://127.0.0.1:1", "bucket": "b", "credentials_file": str(path)}}})
    with pytest.raises(PermissionError, match="chmod 600"):
        storage_for(cfg)


def test_store_out_of_reach_is_a_503_that_says_to_retry(tmp_path: Path) -> None:
    """Fail closed, and say so: no object is reported stored when the store cannot be asked."""
    from tests.helpers.site import free_port

    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"access_key_id": "a", "secret_access_key": "b"}))
    creds.chmod(0o600)
    site = make_site(tmp_path, {**TEST_SETTINGS, "lfs": {"storage": "s3", "s3": {
        "endpoint": f"http://127.0.0.1:{free_port()}", "bucket": "gone",
        "credentials_file": str(creds)}}})
    site.start()
    try:
        model = site.model("s3/down")
        data = b"weights"
        answer = batch(site, model, "upload", [{"oid": oid_of(data), "size": len(data)}],
                       site.keys["owner"])
        put = json.loads(answer.body)["objects"][0]["actions"]["upload"]
        sent = site.http("PUT", local(put["href"]), body=data, headers=put["header"])
        assert sent.status == 503, sent.body
        message = json.loads(sent.body)["message"]
        assert "object store is not available" in message and "try again" in message
    finally:
        site.stop()


def _multipart_storage(site: Site) -> S3Storage:
    """The site's bucket with multipart uploads from 6 MiB on, in parts of 5 MiB (S3's least),
    so that a small object takes the path a > 5 GiB one must."""
    storage = storage_for(config_mod.load(site.data))
    assert isinstance(storage, S3Storage)
    return S3Storage(dataclasses.replace(storage.settings, multipart_bytes=6 * MIB,
                                         part_bytes=5 * MIB))


MIB = 1024 * 1024


def _unfinished(storage: S3Storage, oid: str) -> list[object]:
    listed = storage.client.list_multipart_uploads(Bucket=storage.bucket,
                                                   Prefix=storage.key(oid))
    return list(listed.get("Uploads") or [])


def test_large_object_goes_as_a_multipart_upload_checked_part_by_part(s3site: Site) -> None:
    """Above ``multipart_bytes`` an object is sent in parts, each with its own sha256 for the
    store to check, and completed only when modelgit's sha256 of the whole equals the oid."""
    storage = _multipart_storage(s3site)
    data = os.urandom(12 * MIB + 3)  # three parts, the last one short
    oid = oid_of(data)
    assert storage.put(oid, len(data), io.BytesIO(data)) == len(data)
    assert storage.get_size(oid) == len(data)
    head = storage.client.head_object(Bucket=storage.bucket, Key=storage.key(oid),
                                      PartNumber=1)
    assert int(head.get("PartsCount") or 0) == 3
    with storage.open(oid) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == oid
    assert not _unfinished(storage, oid)


def test_multipart_upload_of_wrong_bytes_is_aborted_and_stores_nothing(s3site: Site) -> None:
    storage = _multipart_storage(s3site)
    data = os.urandom(11 * MIB)
    oid = oid_of(data)
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(StorageError) as wrong:
        storage.put(oid, len(data), io.BytesIO(tampered))
    assert wrong.value.status == 422
    with pytest.raises(StorageError) as short:
        storage.put(oid, len(data), io.BytesIO(data[:-5]))
    assert short.value.status == 422
    with pytest.raises(StorageError) as long:
        storage.put(oid, len(data), io.BytesIO(data + b"more"))
    assert long.value.status == 422
    assert storage.stat(oid) is None and not _unfinished(storage, oid)


def test_multipart_settings_are_checked() -> None:
    for bad in ({"multipart_bytes": 6 * 1024**3}, {"part_bytes": 1024}):
        cfg = config_mod.Config(Path("/nonexistent"), {"lfs": {"s3": {
            "endpoint": "http://127.0.0.1:1", "bucket": "b", **bad}}})
        with pytest.raises(ValueError, match=next(iter(bad))):
            settings_from(cfg)
