"""Shards: the file reconstructions and xorb listings a client uploads after its xorbs.

Layout: a 48-byte header (a 32-byte tag, u64 version 2, u64 footer size); the file section,
one record per file (48-byte header: file hash, flags, entry count; then per entry 48 bytes:
xorb hash, flags, unpacked bytes, chunk index start and end; then, with flag bit 31, one
48-byte verification entry per entry; then, with bit 30, 48 bytes whose first 32 are the
file's sha256), closed by a record whose hash is all ones; the xorb section likewise (48-byte
header: xorb hash, flags, chunk count, bytes in xorb, bytes on disk; then per chunk: hash,
byte offset, unpacked size, flags, unused), closed the same way; then lookup tables and the
footer, which the server does not need. Everything is bounded by the body's length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from modelgit.xet import hashes

TAG = bytes([72, 70, 82, 101, 112, 111, 77, 101, 116, 97, 68, 97, 116, 97, 0, 85, 105, 103,
             69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169])
HEADER_LEN = 48
ENTRY = 48
MAX_SHARD_BYTES = 64 * 1024 * 1024
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30


class ShardError(ValueError):
    """The bytes are not a valid shard; the message says what is wrong."""


@dataclass(frozen=True)
class Segment:
    xorb: bytes
    size: int  # unpacked bytes of this term
    start: int  # chunk index in the xorb
    end: int  # exclusive


@dataclass(frozen=True)
class FileInfo:
    hash: bytes
    segments: tuple[Segment, ...]
    verification: tuple[bytes, ...]  # one range hash per segment, or none
    sha256_field: bytes | None

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)


@dataclass(frozen=True)
class XorbInfo:
    hash: bytes
    chunks: tuple[tuple[bytes, int, int], ...]  # (chunk hash, byte offset, unpacked size)
    num_bytes: int


@dataclass(frozen=True)
class Shard:
    files: tuple[FileInfo, ...]
    xorbs: tuple[XorbInfo, ...]


def _entry(data: bytes | memoryview, pos: int) -> tuple[bytes, int, int, int, int]:
    if pos + ENTRY > len(data):
        raise ShardError(f"shard ends inside a record at byte {pos}")
    h = bytes(data[pos:pos + 32])
    a, b, c, d = struct.unpack_from("<4I", data, pos + 32)
    return h, a, b, c, d


def parse(data: bytes | memoryview) -> Shard:
    """Parse a shard's file and xorb sections; raises ShardError for anything malformed."""
    if len(data) > MAX_SHARD_BYTES:
        raise ShardError(f"shard is larger than {MAX_SHARD_BYTES} bytes")
    if len(data) < HEADER_LEN or bytes(data[:32]) != TAG:
        raise ShardError("this is not a Xet shard (wrong magic number)")
    version = int.from_bytes(data[32:40], "little")
    if version != 2:
        raise ShardError(f"shard version {version} is not supported")
    pos = HEADER_LEN
    files: list[FileInfo] = []
    while True:
        h, flags, count, _, _ = _entry(data, pos)
        pos += ENTRY
        if h == hashes.MARKER:
            break
        if count == 0 or pos + count * ENTRY > len(data):
            raise ShardError("a file record of the shard has no or too many entries")
        segments = []
        for _ in range(count):
            xh, _xflags, size, start, end = _entry(data, pos)
            pos += ENTRY
            if end <= start:
                raise ShardError("a file entry of the shard has an empty chunk range")
            segments.append(Segment(xh, size, start, end))
        verification: list[bytes] = []
        if flags & FLAG_VERIFICATION:
            for _ in range(count):
                vh, *_ = _entry(data, pos)
                pos += ENTRY
                verification.append(vh)
        sha = None
        if flags & FLAG_METADATA_EXT:
            sha, *_ = _entry(data, pos)
            pos += ENTRY
        files.append(FileInfo(h, tuple(segments), tuple(verification), sha))
    xorbs: list[XorbInfo] = []
    while True:
        h, _flags, count, num_bytes, _ = _entry(data, pos)
        pos += ENTRY
        if h == hashes.MARKER:
            break
        if pos + count * ENTRY > len(data):
            raise ShardError("a xorb record of the shard has too many entries")
        chunks = []
        for _ in range(count):
            ch, offset, size, _cflags, _ = _entry(data, pos)
            pos += ENTRY
            chunks.append((ch, offset, size))
        xorbs.append(XorbInfo(h, tuple(chunks), num_bytes))
    return Shard(tuple(files), tuple(xorbs))


FOOTER_LEN = 200
#: Chunks whose hash is 0 modulo this are offered to the global dedupe query (as are the first
#: chunks of files).
DEDUP_MODULUS = 1024


def dedup_eligible(chunk_hash: bytes) -> bool:
    """Whether the client may ask the dedupe query about this chunk by its hash alone."""
    return int.from_bytes(chunk_hash[24:32], "little") % DEDUP_MODULUS == 0


def _truncated(h: bytes) -> int:
    return int.from_bytes(h[:8], "little")


def serialize_xorbs(xorbs: list[tuple[bytes, list[tuple[bytes, int]], int]],
                    now: int) -> bytes:
    """A shard listing xorbs only (the dedupe query's answer), with the lookup tables and
    footer the client's shard cache reads: each xorb is (hash, [(chunk hash, size)], bytes on
    disk). Chunk hashes are not keyed (the footer's key is zero)."""
    out = bytearray(TAG + struct.pack("<QQ", 2, FOOTER_LEN))
    file_info_offset = len(out)
    out += hashes.MARKER + bytes(16)
    xorb_info_offset = len(out)
    xorb_lookup: list[tuple[int, int]] = []
    chunk_lookup: list[tuple[int, int, int]] = []
    index = 0
    stored = 0
    for xh, chunks, on_disk in sorted(xorbs, key=lambda x: x[0]):
        total = sum(size for _, size in chunks)
        xorb_lookup.append((_truncated(xh), index))
        out += xh + struct.pack("<4I", 0, len(chunks), total, on_disk)
        offset = 0
        for i, (ch, size) in enumerate(chunks):
            out += ch + struct.pack("<4I", offset, size, 0, 0)
            chunk_lookup.append((_truncated(ch), index, i))
            offset += size
        index += 1 + len(chunks)
        stored += total
    out += hashes.MARKER + bytes(16)
    file_lookup_offset = len(out)
    xorb_lookup_offset = len(out)
    for key, idx in sorted(xorb_lookup):
        out += struct.pack("<QI", key, idx)
    chunk_lookup_offset = len(out)
    for key, idx, i in sorted(chunk_lookup):
        out += struct.pack("<QII", key, idx, i)
    footer_offset = len(out)
    on_disk_total = sum(x[2] for x in xorbs)
    out += struct.pack("<9Q", 1, file_info_offset, xorb_info_offset, file_lookup_offset, 0,
                       xorb_lookup_offset, len(xorb_lookup), chunk_lookup_offset,
                       len(chunk_lookup))
    out += hashes.ZERO + struct.pack("<2Q", now, 2**64 - 1) + bytes(48)
    out += struct.pack("<4Q", on_disk_total, 0, stored, footer_offset)
    return bytes(out)
