"""Xorbs: parse a client's xorb, verify every chunk and the xorb hash, read chunks back.

Layout: chunks, each an 8-byte header (version 0; compressed length, 3 bytes LE; scheme;
uncompressed length, 3 bytes LE) and its payload; then, optionally, the footer that begins
with ``XETBLOB`` and ends with its own length as a u32. Schemes: 0 none, 1 an LZ4 frame,
2 byte-grouping by 4 then an LZ4 frame. Nothing of a client's xorb is trusted: each chunk is
decompressed (never past its declared size), hashed, and the tree of those hashes must be the
hash the URL names; a footer, when present, must agree with the chunks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import lz4.frame

from modelgit.xet import hashes

HEADER_LEN = 8
MAX_CHUNK_SIZE = 128 * 1024
#: Largest xorb accepted (the client aims at 64 MiB of chunk data, plus headers and footer).
MAX_XORB_BYTES = 80 * 1024 * 1024
MAX_CHUNKS = 8 * 1024
FOOTER_IDENT = b"XETBLOB"
_HASHES_IDENT = b"XBLBHSH"
_BOUNDS_IDENT = b"XBLBBND"

SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4 = 0, 1, 2

#: Bytes as the xorb code reads and returns them: a chunk may be a view of its xorb.
Buffer = bytes | bytearray | memoryview


class XorbError(ValueError):
    """The bytes are not a valid xorb; the message says what is wrong, for the client."""


@dataclass(frozen=True)
class Chunk:
    hash: bytes
    start: int  # offset of its header in the xorb
    end: int  # end of its payload
    size: int  # uncompressed length


@dataclass(frozen=True)
class Xorb:
    hash: bytes
    chunks: tuple[Chunk, ...]
    content_end: int  # where the chunks end (the footer, if any, starts here)

    @property
    def unpacked_size(self) -> int:
        return sum(c.size for c in self.chunks)

    @property
    def hashed(self) -> bool:
        """Whether the chunk hashes are known (``index`` of a xorb without footer: not)."""
        return bool(self.hash)


def bg4_regroup(data: Buffer) -> bytearray:
    """Undo byte grouping: the four groups (sizes n/4, rounded up for the first n%4) interleave.

    Four strided slice assignments from views of ``data`` (no copy of a group first); the
    result stays a ``bytearray``, which every reader of a chunk takes as it is.
    """
    n = len(data)
    split, rem = divmod(n, 4)
    out = bytearray(n)
    source = memoryview(data)
    pos = 0
    for k in range(4):
        size = split + (1 if rem > k else 0)
        out[k::4] = source[pos:pos + size]
        pos += size
    return out


def bg4_split(data: bytes) -> bytes:
    """Byte grouping by 4 (for writing test xorbs): every fourth byte, four times."""
    return b"".join(data[k::4] for k in range(4))


def decompress(scheme: int, payload: Buffer, size: int) -> Buffer:
    """A chunk's bytes; raises XorbError unless they come out exactly ``size`` long.

    An uncompressed chunk is returned as ``payload`` itself, not copied: the callers hash it
    and write it, and a copy per chunk cost as much as a pass of hashing (a fresh 64 KiB
    buffer each time). A ``payload`` that is a view of a buffer stays valid only as long as
    the buffer's content does.
    """
    out: Buffer
    if scheme == SCHEME_NONE:
        out = payload
    elif scheme in (SCHEME_LZ4, SCHEME_BG4_LZ4):
        try:
            decoder = lz4.frame.LZ4FrameDecompressor()
            out = decoder.decompress(payload, max_length=size + 1)
            if not decoder.eof:
                raise XorbError("a chunk's LZ4 frame is truncated or longer than its header says")
        except RuntimeError as exc:
            raise XorbError(f"a chunk's LZ4 data does not decompress ({exc})") from None
        if scheme == SCHEME_BG4_LZ4:
            out = bg4_regroup(out)
    else:
        raise XorbError(f"unknown chunk compression scheme {scheme}")
    if len(out) != size:
        raise XorbError(f"a chunk decompresses to {len(out)} bytes but its header says {size}")
    return out


def _header(data: Buffer, pos: int) -> tuple[int, int, int]:
    if pos + HEADER_LEN > len(data):
        raise XorbError(f"xorb ends inside a chunk header at byte {pos}")
    version = data[pos]
    compressed = int.from_bytes(data[pos + 1:pos + 4], "little")
    scheme = data[pos + 4]
    size = int.from_bytes(data[pos + 5:pos + 8], "little")
    if version != 0:
        raise XorbError(f"chunk header version {version} at byte {pos} is not supported")
    if size > MAX_CHUNK_SIZE or compressed > 2 * MAX_CHUNK_SIZE:
        raise XorbError(f"chunk at byte {pos} is larger than {MAX_CHUNK_SIZE} bytes")
    if pos + HEADER_LEN + compressed > len(data):
        raise XorbError(f"xorb ends inside the chunk at byte {pos}")
    return compressed, scheme, size


def read_chunk(data: Buffer, start: int) -> tuple[Buffer, int]:
    """The uncompressed bytes of the chunk whose header is at ``start``, and where it ends.

    For an uncompressed chunk, a view of ``data`` (see :func:`decompress`).
    """
    compressed, scheme, size = _header(data, start)
    body = start + HEADER_LEN
    view = memoryview(data)[body:body + compressed]
    return decompress(scheme, view, size), body + compressed


def parse(data: Buffer, expected: bytes | None = None) -> Xorb:
    """Parse and verify a xorb; ``expected`` is the hash it must have (the URL's)."""
    if len(data) > MAX_XORB_BYTES:
        raise XorbError(f"xorb is larger than {MAX_XORB_BYTES} bytes")
    data = memoryview(data).cast("B")
    chunks: list[Chunk] = []
    pos = 0
    while pos < len(data) and data[pos:pos + len(FOOTER_IDENT)] != FOOTER_IDENT:
        if len(chunks) >= MAX_CHUNKS:
            raise XorbError(f"xorb has more than {MAX_CHUNKS} chunks")
        raw, end = read_chunk(data, pos)
        chunks.append(Chunk(hashes.chunk_hash(raw), pos, end, len(raw)))
        pos = end
    if not chunks:
        raise XorbError("xorb has no chunks")
    xorb = Xorb(hashes.xorb_hash([(c.hash, c.size) for c in chunks]), tuple(chunks), pos)
    if pos < len(data):
        _check_footer(memoryview(data)[pos:], xorb)
    if expected is not None and xorb.hash != expected:
        raise XorbError(f"xorb hash mismatch: its chunks hash to {hashes.to_hex(xorb.hash)},"
                        f" not {hashes.to_hex(expected)} as the URL says")
    return xorb


def index(data: Buffer) -> Xorb:
    """The chunk layout of a xorb this server stored: offsets and sizes from the headers, chunk
    hashes from its footer.

    A stored xorb was verified in full when it arrived (:func:`parse`: every chunk
    decompressed and hashed, the footer's xorb hash, chunk hashes and boundaries compared
    with them) and is kept under the sha256 of its bytes, so reading it back (a
    reconstruction, a shard's file, a dedupe answer) need not decompress and hash every chunk
    again: that doubled the server's work per byte. The footer (hf_xet always writes one)
    holds the chunk hashes parse checked. Without a footer the hashes (and the xorb hash) are
    left empty (``Xorb.hashed`` is False): whoever needs one hashes the chunk it reads.
    """
    data = memoryview(data).cast("B")
    chunks: list[Chunk] = []
    pos = 0
    while pos < len(data) and data[pos:pos + len(FOOTER_IDENT)] != FOOTER_IDENT:
        compressed, _, size = _header(data, pos)
        end = pos + HEADER_LEN + compressed
        chunks.append(Chunk(b"", pos, end, size))
        pos = end
    if not chunks:
        raise XorbError("xorb has no chunks")
    if pos == len(data):
        return Xorb(b"", tuple(chunks), pos)
    footer = data[pos:]
    n = len(chunks)
    if (len(footer) != _footer_len(n) + 4 or bytes(footer[40:48]) != _HASHES_IDENT + b"\x00"
            or int.from_bytes(footer[48:52], "little") != n):
        # parse() refuses such a xorb, so a stored one never looks like this.
        raise XorbError("xorb footer does not match its chunks")
    listed = bytes(footer[52:52 + 32 * n])
    hashed = tuple(Chunk(listed[32 * i:32 * i + 32], c.start, c.end, c.size)
                   for i, c in enumerate(chunks))
    return Xorb(bytes(footer[8:40]), hashed, pos)


def from_footer(footer: Buffer, footer_at: int) -> Xorb:
    """The chunk layout of a stored xorb from its footer alone (``footer``: the bytes from
    ``footer_at``, where :func:`parse` found and verified it at upload, to the end).

    A reconstruction needs only each chunk's place and size and a dedupe answer its hashes,
    all of which the footer lists; reading it instead of the whole xorb is 40 KB instead of
    64 MB. The caller must know ``footer_at`` from the upload's parse, never guess it from the
    bytes: a xorb without footer may end in bytes shaped like one. The footer is still
    checked against itself (a disk that changed a stored byte is a fault, not a layout).
    """
    view = memoryview(footer).cast("B")
    if len(view) < 56 or bytes(view[:8]) != FOOTER_IDENT + b"\x01":
        raise XorbError("stored xorb footer is not where its record says")
    if bytes(view[40:48]) != _HASHES_IDENT + b"\x00":
        raise XorbError("stored xorb footer hash section is malformed")
    n = int.from_bytes(view[48:52], "little")
    if not 0 < n <= MAX_CHUNKS or len(view) != _footer_len(n) + 4 \
            or int.from_bytes(view[-4:], "little") != _footer_len(n):
        raise XorbError("stored xorb footer has the wrong length for its chunk count")
    pos = 52 + 32 * n
    if bytes(view[pos:pos + 8]) != _BOUNDS_IDENT + b"\x01" \
            or int.from_bytes(view[pos + 8:pos + 12], "little") != n:
        raise XorbError("stored xorb footer boundary section is malformed")
    ends = struct.unpack_from(f"<{n}I", view, pos + 12)
    unpacked = struct.unpack_from(f"<{n}I", view, pos + 12 + 4 * n)
    listed = bytes(view[52:52 + 32 * n])
    chunks: list[Chunk] = []
    start = total = 0
    for i in range(n):
        size = unpacked[i] - total
        if ends[i] <= start + HEADER_LEN or not 0 < size <= MAX_CHUNK_SIZE:
            raise XorbError("stored xorb footer chunk boundaries are out of order")
        chunks.append(Chunk(listed[32 * i:32 * i + 32], start, ends[i], size))
        start, total = ends[i], unpacked[i]
    if start != footer_at:
        raise XorbError("stored xorb footer boundaries do not end where the footer begins")
    return Xorb(bytes(view[8:40]), tuple(chunks), footer_at)


def _footer_len(n: int) -> int:
    """The length a footer gives itself (all but its last 4 bytes) for ``n`` chunks."""
    return 7 + 1 + 32 + (7 + 1 + 4 + 32 * n) + (7 + 1 + 4 + 8 * n) + 12 + 16


def _check_footer(footer: memoryview, xorb: Xorb) -> None:
    """The footer must name the same hash, chunk hashes and boundaries as the chunks."""
    n = len(xorb.chunks)
    expected_len = _footer_len(n)
    if len(footer) != expected_len + 4:
        raise XorbError("xorb footer has the wrong length for its chunks")
    if int.from_bytes(footer[-4:], "little") != expected_len:
        raise XorbError("xorb footer length field is wrong")
    if bytes(footer[7:8]) != b"\x01":
        raise XorbError("xorb footer version is not supported")
    if bytes(footer[8:40]) != xorb.hash:
        raise XorbError("xorb footer names another xorb hash than its chunks give")
    pos = 40
    if bytes(footer[pos:pos + 8]) != _HASHES_IDENT + b"\x00":
        raise XorbError("xorb footer hash section is malformed")
    pos += 8
    if int.from_bytes(footer[pos:pos + 4], "little") != n:
        raise XorbError("xorb footer chunk count does not match its chunks")
    pos += 4
    for c in xorb.chunks:
        if bytes(footer[pos:pos + 32]) != c.hash:
            raise XorbError("xorb footer chunk hashes do not match its chunks")
        pos += 32
    if bytes(footer[pos:pos + 8]) != _BOUNDS_IDENT + b"\x01":
        raise XorbError("xorb footer boundary section is malformed")
    pos += 12
    ends = struct.unpack_from(f"<{n}I", footer, pos)
    unpacked = struct.unpack_from(f"<{n}I", footer, pos + 4 * n)
    total = 0
    for c, end, up in zip(xorb.chunks, ends, unpacked, strict=True):
        total += c.size
        if end != c.end or up != total:
            raise XorbError("xorb footer chunk boundaries do not match its chunks")


def serialize(chunks: list[bytes], scheme: int = SCHEME_LZ4, *, footer: bool = False
              ) -> tuple[bytes, bytes]:
    """A xorb of the given chunks and its hash, with the footer hf_xet writes when ``footer``:
    for tests and tools."""
    out = bytearray()
    ends: list[int] = []
    entries = []
    for raw in chunks:
        payload: bytes
        if scheme == SCHEME_NONE:
            payload = raw
        else:
            grouped = bg4_split(raw) if scheme == SCHEME_BG4_LZ4 else raw
            payload = lz4.frame.compress(grouped)
        used = scheme
        if len(payload) >= len(raw):
            payload, used = raw, SCHEME_NONE
        out += bytes([0]) + len(payload).to_bytes(3, "little") + bytes([used])
        out += len(raw).to_bytes(3, "little") + payload
        entries.append((hashes.chunk_hash(raw), len(raw)))
        ends.append(len(out))
    xorb_hash = hashes.xorb_hash(entries)
    if footer:
        out += _footer(xorb_hash, entries, ends)
    return bytes(out), xorb_hash


def footer_of(parsed: Xorb) -> bytes:
    """The footer xet-core writes, for a xorb :func:`parse` verified (its chunk hashes are
    the ones parse computed): the server adds it to a xorb the client sent without one, so
    that every stored xorb's layout and chunk hashes can be read without its chunks."""
    return _footer(parsed.hash, [(c.hash, c.size) for c in parsed.chunks],
                   [c.end for c in parsed.chunks])


def _footer(xorb_hash: bytes, entries: list[tuple[bytes, int]], ends: list[int]) -> bytes:
    """The ``XETBLOB`` footer (version 1) of xet-core: the xorb hash, the chunk hashes, the
    chunk boundaries (end in the xorb, unpacked end), a chunk count, two section offsets from
    the end and 16 reserved bytes, then its own length."""
    n = len(entries)
    unpacked: list[int] = []
    total = 0
    for _, size in entries:
        total += size
        unpacked.append(total)
    out = bytearray(FOOTER_IDENT + b"\x01" + xorb_hash)
    hashes_at = len(out)
    out += _HASHES_IDENT + b"\x00" + struct.pack("<I", n) + b"".join(h for h, _ in entries)
    bounds_at = len(out)
    out += _BOUNDS_IDENT + b"\x01" + struct.pack(f"<I{n}I{n}I", n, *ends, *unpacked)
    whole = _footer_len(n) + 4
    out += struct.pack("<3I", n, whole - hashes_at, whole - bounds_at) + bytes(16)
    out += struct.pack("<I", len(out))
    return bytes(out)
