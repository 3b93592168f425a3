"""Xet hashes: keyed BLAKE3 over chunk bytes, and the aggregated merkle hash of a chunk list.

A chunk's hash is BLAKE3 keyed with the data key. A xorb's hash (and, keyed once more with a
salt of zeros, a file's hash) is the root of a tree whose nodes join 2 to 9 children: a run of
children ends after a child whose hash is 0 modulo 4 (at the third child or later), or at the
ninth, or at the end. A node hashes the text ``"<hex> : <size>\\n"`` of its children with the
internal-node key. The hex form of a hash is the one the protocol prints everywhere: each of
its four 8-byte words as a little-endian u64 in 16 hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import blake3

DATA_KEY = bytes([
    102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
    157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41])
NODE_KEY = bytes([
    1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
    93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63])
VERIFICATION_KEY = bytes([
    127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
    164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195])

HASH_LEN = 32
ZERO = bytes(HASH_LEN)
#: The "bookend" marker of shard sections: all bits set.
MARKER = b"\xff" * HASH_LEN
HEX_RE = re.compile(r"^[0-9a-f]{64}$")

_MAX_GROUP = 9
_BRANCHING = 4


def chunk_hash(data: bytes | bytearray | memoryview) -> bytes:
    """The hash of one chunk's uncompressed bytes."""
    return blake3.blake3(data, key=DATA_KEY).digest()


def to_hex(h: bytes) -> str:
    """The protocol's hex spelling of a 32-byte hash (per 8-byte word, little-endian)."""
    return "".join(h[i:i + 8][::-1].hex() for i in range(0, HASH_LEN, 8))


def from_hex(text: str) -> bytes | None:
    """The raw hash of a protocol hex spelling, or None if it is not 64 lowercase hex digits."""
    if not isinstance(text, str) or HEX_RE.fullmatch(text) is None:
        return None
    raw = bytes.fromhex(text)
    return b"".join(raw[i:i + 8][::-1] for i in range(0, HASH_LEN, 8))


def _cut(entries: Sequence[tuple[bytes, int]], start: int) -> int:
    """Where the run of children starting at ``start`` ends (exclusive)."""
    left = len(entries) - start
    if left <= 2:
        return len(entries)
    end = min(_MAX_GROUP, left)
    for i in range(2, end):
        h = entries[start + i][0]
        if int.from_bytes(h[24:32], "little") % _BRANCHING == 0:
            return start + i + 1
    return start + end


def _merge(entries: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{to_hex(h)} : {size}\n" for h, size in entries)
    digest = blake3.blake3(text.encode("ascii"), key=NODE_KEY).digest()
    return digest, sum(size for _, size in entries)


def aggregate(entries: Sequence[tuple[bytes, int]]) -> bytes:
    """The merkle root of (hash, size) pairs; all zeros for none."""
    level = list(entries)
    if not level:
        return ZERO
    while len(level) > 1:
        nxt: list[tuple[bytes, int]] = []
        i = 0
        while i < len(level):
            j = _cut(level, i)
            nxt.append(_merge(level[i:j]))
            i = j
        level = nxt
    return level[0][0]


def xorb_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """A xorb's hash from its chunks' (hash, uncompressed size)."""
    return aggregate(chunks)


def file_hash(chunks: Sequence[tuple[bytes, int]], salt: bytes = ZERO) -> bytes:
    """A file's hash from its chunks' (hash, size), in file order."""
    if not chunks:
        return ZERO
    return blake3.blake3(aggregate(chunks), key=salt).digest()


def range_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """The verification hash of a run of chunk hashes (a shard's proof it knows the chunks)."""
    return blake3.blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()
