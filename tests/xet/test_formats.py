"""The pure Xet formats: hashes checked against hf_xet itself, refusals of broken input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelgit.xet import hashes, shard, tokens, xorb

SECRET = b"s" * 32  # pragma: allowlist secret


def test_file_hash_matches_hf_xet_for_a_one_chunk_file(tmp_path: Path) -> None:
    import hf_xet

    data = os.urandom(5000)  # under the smallest chunk: one chunk
    (tmp_path / "f").write_bytes(data)
    [info] = hf_xet.hash_files([str(tmp_path / "f")])
    assert hashes.to_hex(hashes.file_hash([(hashes.chunk_hash(data), len(data))])) == info.hash


def test_hex_round_trip_and_hostile_hex() -> None:
    h = hashes.chunk_hash(b"x")
    assert hashes.from_hex(hashes.to_hex(h)) == h
    for bad in ("", "g" * 64, "A" * 64, "0" * 63, "0" * 65):
        assert hashes.from_hex(bad) is None


@pytest.mark.parametrize("scheme", [xorb.SCHEME_NONE, xorb.SCHEME_LZ4, xorb.SCHEME_BG4_LZ4])
def test_xorb_round_trip(scheme: int) -> None:
    chunks = [os.urandom(3000), b"\0" * 60000, bytes(range(256)) * 100]
    data, h = xorb.serialize(chunks, scheme)
    parsed = xorb.parse(data, h)
    assert [xorb.read_chunk(data, c.start)[0] for c in parsed.chunks] == chunks


def test_xorb_refusals_say_what_is_wrong() -> None:
    data, h = xorb.serialize([os.urandom(2000), b"a" * 9000])
    with pytest.raises(xorb.XorbError, match="hash mismatch"):
        xorb.parse(data, hashes.chunk_hash(b"other"))
    with pytest.raises(xorb.XorbError, match="ends inside"):
        xorb.parse(data[:-3], h)
    bad_version = b"\x07" + data[1:]
    with pytest.raises(xorb.XorbError, match="version"):
        xorb.parse(bad_version, h)
    lying = bytearray(data)
    lying[5:8] = (999).to_bytes(3, "little")  # the first chunk claims another size
    with pytest.raises(xorb.XorbError):
        xorb.parse(bytes(lying), h)
    with pytest.raises(xorb.XorbError, match="no chunks"):
        xorb.parse(b"", h)


def test_dedupe_shard_parses_back() -> None:
    chunks = [(hashes.chunk_hash(bytes([i])), 1000 + i) for i in range(5)]
    xh = hashes.xorb_hash(chunks)
    raw = shard.serialize_xorbs([(xh, chunks, 4242)], now=1)
    parsed = shard.parse(raw)
    assert parsed.files == ()
    [info] = parsed.xorbs
    assert info.hash == xh and [c[0] for c in info.chunks] == [c[0] for c in chunks]
    assert [c[1] for c in info.chunks] == [0, 1000, 2001, 3003, 4006]


def test_shard_refusals() -> None:
    with pytest.raises(shard.ShardError, match="magic"):
        shard.parse(b"x" * 100)
    raw = shard.serialize_xorbs([], now=1)
    with pytest.raises(shard.ShardError):
        shard.parse(raw[:60])


def test_tokens_are_bound_to_their_claims_and_expire() -> None:
    claims = tokens.Claims("a/b", "write", "alice", "mg_abc", 1000)
    token = tokens.make(SECRET, claims)
    assert tokens.check(SECRET, token, now=999) == claims
    assert tokens.check(SECRET, token, now=1000) is None  # expired
    assert tokens.check(b"t" * 32, token, now=1) is None  # another site's secret
    payload, mac = token.split(".")
    forged = tokens.make(SECRET, tokens.Claims("a/c", "write", "alice", "mg_abc", 1000))
    assert tokens.check(SECRET, forged.split(".")[0] + "." + mac, now=1) is None
    assert tokens.check(SECRET, payload + "." + mac[:-1] + "A", now=1) is None
    assert tokens.check(SECRET, "mgxet_" + "A" * 3000, now=1) is None


def test_index_of_a_stored_xorb_gives_the_layout_parse_gives() -> None:
    chunks = [os.urandom(3000), b"\0" * 60000, bytes(range(256)) * 100]
    data, h = xorb.serialize(chunks)
    parsed, layout = xorb.parse(data, h), xorb.index(data)
    assert [(c.start, c.end, c.size) for c in layout.chunks] == \
        [(c.start, c.end, c.size) for c in parsed.chunks]
    assert layout.content_end == parsed.content_end
    with pytest.raises(xorb.XorbError, match="ends inside"):
        xorb.index(data[:-3])


def test_a_footer_gives_the_chunk_hashes_parse_checked() -> None:
    chunks = [os.urandom(3000), b"\0" * 60000, bytes(range(256)) * 100]
    data, h = xorb.serialize(chunks, footer=True)
    parsed, layout = xorb.parse(data, h), xorb.index(data)
    assert layout.hashed and layout.hash == h == parsed.hash
    assert [c.hash for c in layout.chunks] == [c.hash for c in parsed.chunks] == \
        [hashes.chunk_hash(c) for c in chunks]
    assert layout.content_end == parsed.content_end < len(data)
    bare, _ = xorb.serialize(chunks)
    assert not xorb.index(bare).hashed


def test_a_footer_that_disagrees_with_its_chunks_is_refused() -> None:
    chunks = [os.urandom(3000), os.urandom(5000)]
    data, h = xorb.serialize(chunks, footer=True)
    end = xorb.parse(data).content_end
    first_hash = end + 52  # after the ident, version, xorb hash and the section's header
    forged = bytearray(data)
    forged[first_hash] ^= 1  # a chunk hash the chunks do not give
    with pytest.raises(xorb.XorbError, match="chunk hashes do not match"):
        xorb.parse(bytes(forged), h)
    with pytest.raises(xorb.XorbError, match="footer"):
        xorb.parse(data[:-1], h)


def test_the_footer_alone_gives_the_layout_parse_gives() -> None:
    chunks = [os.urandom(3000), b"\0" * 60000, bytes(range(256)) * 100]
    data, h = xorb.serialize(chunks, footer=True)
    parsed = xorb.parse(data, h)
    end = parsed.content_end
    layout = xorb.from_footer(data[end:], end)
    assert layout.hash == h and layout.content_end == end
    assert layout.chunks == parsed.chunks
    with pytest.raises(xorb.XorbError, match="do not end where the footer begins"):
        xorb.from_footer(data[end:], end - 1)
    with pytest.raises(xorb.XorbError, match="wrong length"):
        xorb.from_footer(data[end:-1], end)
    with pytest.raises(xorb.XorbError, match="not where its record says"):
        xorb.from_footer(data[end - 8:], end - 8)
