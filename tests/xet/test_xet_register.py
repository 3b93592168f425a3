"""A shard's file becomes an LFS object of the model: rebuilt from the model's xorbs, its Xet
hash checked, stored under the sha256 of its bytes, and nothing stored when it does not check
out. Through the CAS routes of a real ``modelgit serve``, with xorbs built here (with the
footer hf_xet writes, and without one, which the protocol allows)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from modelgit.config import load
from modelgit.lfs.storage import storage_for
from modelgit.xet import hashes, xorb
from tests.conftest import Site
from tests.helpers.xet import file_shard


def write_token(site: Site, model: str) -> str:
    answer = site.http("GET", f"/api/models/{model}/xet-write-token/main",
                       key=site.keys["owner"])
    assert answer.status == 200, answer.body
    return str(json.loads(answer.body)["accessToken"])


def chunks_of(seed: int, count: int) -> list[bytes]:
    """Chunks like a weights file's: random (stored uncompressed), half zeros (LZ4), and
    zeros (LZ4 and byte grouping shrink them alike)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        size = rng.randint(8_000, 60_000)
        kind = i % 3
        out.append(rng.randbytes(size) if kind == 0 else
                   rng.randbytes(size // 2) + bytes(size - size // 2) if kind == 1 else
                   bytes(size))
    return out


def upload_xorb(site: Site, token: str, data: bytes, xorb_hash: bytes) -> None:
    answer = site.http("POST", f"/api/xet/v1/xorbs/default/{hashes.to_hex(xorb_hash)}",
                       key=token, body=data)
    assert answer.status == 200, answer.body


def owner_model(site: Site, name: str) -> tuple[str, str]:
    """A model of the site's admin ``owner`` and a Xet write token for it."""
    site.user("owner", admin=True)
    model = site.model(name)
    return model, write_token(site, model)


def one_xorb(site: Site, token: str, chunks: list[bytes], *, footer: bool) -> bytes:
    """Upload ``chunks`` as one xorb; its hash."""
    data, xh = xorb.serialize(chunks, footer=footer)
    upload_xorb(site, token, data, xh)
    return xh


def stored_lfs_temporaries(site: Site) -> list[Path]:
    tmp = site.data / "lfs" / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


@pytest.mark.parametrize(("footer", "scheme"), [
    (True, xorb.SCHEME_LZ4), (False, xorb.SCHEME_LZ4), (True, xorb.SCHEME_BG4_LZ4)])
def test_a_shard_file_is_stored_under_the_sha256_of_its_bytes(
        site: Site, footer: bool, scheme: int) -> None:
    site.user("owner", admin=True)
    model = site.model(f"reg/file-{int(footer)}-{scheme}")
    token = write_token(site, model)
    parts = [chunks_of(1 + scheme + 10 * footer, 9), chunks_of(2 + scheme + 10 * footer, 5)]
    terms = []
    for chunks in parts:
        data, xh = xorb.serialize(chunks, scheme, footer=footer)
        assert xorb.index(data).hashed is footer
        upload_xorb(site, token, data, xh)
        terms.append((xh, sum(map(len, chunks)), 0, len(chunks)))
    # The second file uses chunks 2..7 of the first xorb only.
    content = b"".join(parts[0] + parts[1])
    middle = b"".join(parts[0][2:7])
    all_chunks = [(hashes.chunk_hash(c), len(c)) for c in parts[0] + parts[1]]
    mid_chunks = [(hashes.chunk_hash(c), len(c)) for c in parts[0][2:7]]
    body = file_shard([(hashes.file_hash(all_chunks), terms),
                       (hashes.file_hash(mid_chunks), [(terms[0][0], len(middle), 2, 7)])])
    answer = site.http("POST", "/api/xet/v1/shards", key=token, body=body)
    assert answer.status == 200, answer.body
    storage = storage_for(load(site.data))
    for expected in (content, middle):
        sha = hashlib.sha256(expected).hexdigest()
        with storage.open(sha) as fh:
            assert fh.read() == expected
    assert stored_lfs_temporaries(site) == []


def test_a_file_whose_chunks_do_not_hash_to_it_stores_nothing(site: Site) -> None:
    _, token = owner_model(site, "reg/wrong-hash")
    chunks = chunks_of(7, 6)
    xh = one_xorb(site, token, chunks, footer=True)
    content = b"".join(chunks)
    storage = storage_for(load(site.data))
    objects_before = {o.oid for o in storage.iter_objects()}
    # Hashes of the right chunks in the wrong order: the file the client claims is not there.
    wrong = hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in reversed(chunks)])
    answer = site.http("POST", "/api/xet/v1/shards", key=token,
                       body=file_shard([(wrong, [(xh, len(content), 0, len(chunks))])]))
    assert answer.status == 400
    assert "do not hash to it" in json.loads(answer.body)["error"]
    # A term that claims fewer bytes than its chunks hold.
    right = hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in chunks])
    answer = site.http("POST", "/api/xet/v1/shards", key=token,
                       body=file_shard([(right, [(xh, len(content) - 1, 0, len(chunks))])]))
    assert answer.status == 400
    assert "says" in json.loads(answer.body)["error"]
    assert {o.oid for o in storage.iter_objects()} == objects_before
    assert not storage.exists(hashlib.sha256(content).hexdigest())
    assert stored_lfs_temporaries(site) == []


def test_a_xorb_without_footer_that_ends_like_one_is_read_as_its_chunks_say(
        site: Site) -> None:
    """A reconstruction reads a xorb's footer alone only where the upload's parse found one;
    a xorb without footer whose last chunk ends in bytes shaped like a footer (other chunk
    boundaries, which would hand a downloader other bytes than the scanned file's) is read
    by its chunk headers."""
    model, token = owner_model(site, "reg/fake-footer")
    rng = random.Random(11)
    head = [rng.randbytes(20_000), rng.randbytes(20_000)]
    fake_len = xorb._footer_len(3) + 4  # a footer for three chunks, with its length field
    last_len = 30_000
    real_end = sum(8 + len(c) for c in head) + 8 + last_len
    fake_at = real_end - fake_len
    fake = xorb._footer(b"\1" * 32, [(b"\2" * 32, 100), (b"\3" * 32, 100), (b"\4" * 32, 100)],
                        [108, 216, fake_at])
    assert len(fake) == fake_len
    chunks = [*head, rng.randbytes(last_len - fake_len) + fake]
    data, xh = xorb.serialize(chunks, xorb.SCHEME_NONE)
    assert len(data) == real_end and data.endswith(fake)
    upload_xorb(site, token, data, xh)
    content = b"".join(chunks)
    file_hex = hashes.to_hex(hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in chunks]))
    answer = site.http("POST", "/api/xet/v1/shards", key=token, body=file_shard(
        [(hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in chunks]),
          [(xh, len(content), 0, len(chunks))])]))
    assert answer.status == 200, answer.body
    read = site.http("GET", f"/api/models/{model}/xet-read-token/main", key=site.keys["owner"])
    assert read.status == 200, read.body
    found = site.http("GET", f"/api/xet/v1/reconstructions/{file_hex}",
                      key=str(json.loads(read.body)["accessToken"]))
    assert found.status == 200, found.body
    answer_json = json.loads(found.body)
    assert answer_json["terms"] == [{"hash": hashes.to_hex(xh), "unpacked_length": len(content),
                                     "range": {"start": 0, "end": 3}}]
    fetch = answer_json["fetch_info"][hashes.to_hex(xh)]
    assert [f["url_range"] for f in fetch] == [{"start": 0, "end": len(data) - 1}]


def test_the_v2_shard_upload_streams_progress_then_its_result_or_an_error_frame(
        site: Site) -> None:
    """``POST /v2/shards`` answers xet-core's NDJSON frames: ``validating`` per file, then
    ``result``; a file that does not check out is an ``error`` frame (the status is already
    200), not retryable, and stores nothing; a xorb the model may not use is a plain 403
    before any frame."""
    model, token = owner_model(site, "reg/v2-shards")
    chunks = chunks_of(21, 6)
    xh = one_xorb(site, token, chunks, footer=False)
    content = b"".join(chunks)
    right = hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in chunks])
    first_size = sum(map(len, chunks[:3]))
    first = [(xh, first_size, 0, 3)]
    half = hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in chunks[:3]])
    answer = site.http("POST", "/api/xet/v2/shards", key=token, body=file_shard(
        [(half, first), (right, [(xh, len(content), 0, len(chunks))])]))
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    frames = [json.loads(line) for line in answer.body.decode().splitlines()]
    assert frames == [{"type": "validating", "verified": 0, "total": 2},
                      {"type": "validating", "verified": 1, "total": 2},
                      {"type": "validating", "verified": 2, "total": 2},
                      {"type": "result"}]
    storage = storage_for(load(site.data))
    assert storage.exists(hashlib.sha256(content).hexdigest())

    other = chunks_of(22, 4)
    xh2 = one_xorb(site, token, other, footer=False)
    total = sum(map(len, other))
    wrong = hashes.file_hash([(hashes.chunk_hash(c), len(c)) for c in reversed(other)])
    answer = site.http("POST", "/api/xet/v2/shards", key=token,
                       body=file_shard([(wrong, [(xh2, total, 0, len(other))])]))
    assert answer.status == 200, answer.body
    *_, last = [json.loads(line) for line in answer.body.decode().splitlines()]
    assert last["type"] == "error" and last["retryable"] is False
    assert "do not hash to it" in last["message"]
    assert not storage.exists(hashlib.sha256(b"".join(other)).hexdigest())
    assert stored_lfs_temporaries(site) == []

    site.user("stranger")
    theirs = site.model("stranger/v2-theirs", owner="stranger")
    answer = site.http("GET", f"/api/models/{theirs}/xet-write-token/main",
                       key=site.keys["stranger"])
    stranger = str(json.loads(answer.body)["accessToken"])
    site.cli("model", "delete", model, "--yes")  # the xorbs' only model is gone
    answer = site.http("POST", "/api/xet/v2/shards", key=stranger,
                       body=file_shard([(right, [(xh, len(content), 0, len(chunks))])]))
    assert answer.status == 403, answer.body
    assert "has not uploaded" in json.loads(answer.body)["error"]


def test_the_v2_progress_stream_repeats_its_last_frame_while_a_rebuild_is_silent() -> None:
    """While a long rebuild sends no progress, the last frame goes out again every heartbeat,
    so the connection is never idle long enough for a proxy or the client to cut it."""
    import queue
    import threading
    import time

    from modelgit.http.hub.xet import progress_stream

    frames: queue.Queue[dict[str, object] | None] = queue.Queue()
    first = {"type": "validating", "verified": 0, "total": 1}

    def slow_rebuild() -> None:
        time.sleep(0.35)
        frames.put({"type": "validating", "verified": 1, "total": 1})
        frames.put({"type": "result"})
        frames.put(None)

    threading.Thread(target=slow_rebuild).start()
    lines = [json.loads(line) for line in progress_stream(frames, first, heartbeat=0.05)]
    assert lines[0] == first and lines[-2:] == [{"type": "validating", "verified": 1,
                                                 "total": 1}, {"type": "result"}]
    repeats = lines[1:-2]
    assert len(repeats) >= 3 and all(frame == first for frame in repeats)
