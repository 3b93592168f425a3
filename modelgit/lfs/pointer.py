"""The one Git LFS pointer codec: what git-lfs reads as a pointer, and the pointer it writes.

Every module that asks "is this blob a pointer, and to which object?" asks here (the
scanners, the push gate, the hub API, sync, the hub commit), because a reader that is
stricter than git-lfs is a bypass: a blob that git-lfs checks out as an LFS object but a
scanner reads as text gets the text scanned and the object never.

So :func:`parse` accepts exactly what git-lfs 3.x accepts (``lfs/pointer.go``,
``DecodeFrom``): the three version lines it knows (``git-lfs.github.com/spec/v1`` and the
older ``hawser.github.com/spec/v1`` and ``git-media.io/v/2``), leading and trailing white
space (Go's ``unicode.IsSpace``), blank lines, a ``\\r`` before each ``\\n``, a size with a
sign or leading zeros, and ``ext-<digit>-<name>`` lines before ``size``. git-lfs's scanners
(pre-push, ``ls-files``) only look at blobs under :data:`MAX_POINTER_BYTES` bytes, but its
smudge filter reads the first :data:`MAX_POINTER_BYTES` bytes of a blob of any size and
checks the object out when they parse: :func:`parse_head` says that, and the push gate
refuses such oversized blobs so that everything else can keep to :func:`parse`.

:func:`encode` writes the canonical form, byte for byte what git-lfs writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: git-lfs's ``BlobSizeCutoff``: only blobs smaller than this are pointers to its scanners,
#: and its smudge filter reads this many bytes of any blob.
MAX_POINTER_BYTES = 1024

#: The version line written; the others are read only.
SPEC_V1 = "https://git-lfs.github.com/spec/v1"
VERSIONS = ("http://git-media.io/v/2", "https://hawser.github.com/spec/v1", SPEC_V1)

#: Largest size git-lfs accepts (``strconv.ParseInt(value, 10, 64)``).
MAX_SIZE = 2**63 - 1

_KEYS = ("version", "oid", "size")
_OID = re.compile(r"[0-9a-f]{64}")
_SIZE = re.compile(r"[+-]?[0-9]+")
# Go's `\Aext-\d{1}-\w+`, a prefix match with ASCII classes: the rest of the key is free.
_EXT_KEY = re.compile(r"ext-[0-9]-[0-9A-Za-z_]")
# Go's unicode.IsSpace: ASCII white space, NEL, NBSP and the Unicode White_Space others.
_GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
             "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@dataclass(frozen=True)
class Extension:
    """An ``ext-<priority>-<name> sha256:<oid>`` line: a filter git-lfs ran before storing."""

    priority: int
    name: str
    oid: str


@dataclass(frozen=True)
class Pointer:
    """A parsed pointer: the object's sha256 ``oid`` and ``size`` in bytes."""

    oid: str
    size: int
    extensions: tuple[Extension, ...] = ()
    version: str = SPEC_V1

    def encode(self) -> bytes:
        return encode(self.oid, self.size, self.extensions)


def encode(oid: str, size: int, extensions: tuple[Extension, ...] = ()) -> bytes:
    """The canonical pointer text git-lfs writes (``Pointer.Encoded``), as bytes.

    Raises ``ValueError`` for an oid or size that no pointer may carry.
    """
    if not isinstance(oid, str) or _OID.fullmatch(oid) is None:
        raise ValueError("oid must be 64 lowercase hex characters")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
        raise ValueError("size must be a non-negative 64-bit integer")
    lines = [f"version {SPEC_V1}"]
    lines += [f"ext-{e.priority}-{e.name} sha256:{e.oid}"
              for e in sorted(extensions, key=lambda e: e.priority)]
    lines += [f"oid sha256:{oid}", f"size {size}"]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def parse(data: bytes) -> Pointer | None:
    """The pointer a whole blob is, as git-lfs's scanners see it, or None.

    Blobs of :data:`MAX_POINTER_BYTES` bytes or more are never pointers here (see
    :func:`parse_head` for what the smudge filter does with them).
    """
    if len(data) >= MAX_POINTER_BYTES:
        return None
    return _decode(data)


def parse_head(head: bytes) -> Pointer | None:
    """The pointer git-lfs's smudge filter finds in a blob whose first bytes are ``head``.

    Only the first :data:`MAX_POINTER_BYTES` bytes count, whatever follows: git-lfs checks
    out a blob of any size as the object when they parse.
    """
    return _decode(head[:MAX_POINTER_BYTES])


def _decode(data: bytes) -> Pointer | None:
    if not data:
        return None  # an empty file is empty, whatever git-lfs calls it
    text = data.decode("utf-8", "surrogateescape").strip(_GO_SPACE)
    values: dict[str, str] = {}
    extensions: dict[str, str] = {}
    index = 0
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        if not line:
            continue
        key, sep, value = line.partition(" ")
        if not sep or index >= len(_KEYS):
            return None
        if key != _KEYS[index]:
            if _EXT_KEY.match(key) is None:
                return None
            extensions[key] = value
            continue
        values[key] = value
        index += 1
    if values.get("version") not in VERSIONS:
        return None
    oid = _oid(values.get("oid"))
    size_text = values.get("size")
    if oid is None or size_text is None or _SIZE.fullmatch(size_text) is None:
        return None
    size = int(size_text)
    if not 0 <= size <= MAX_SIZE:
        return None
    parsed: list[Extension] = []
    for key, value in extensions.items():
        _ext, priority, name = key.split("-", 2)
        ext_oid = _oid(value)
        if ext_oid is None:
            return None
        parsed.append(Extension(int(priority), name, ext_oid))
    if len({e.priority for e in parsed}) != len(parsed):
        return None
    return Pointer(oid, size, tuple(sorted(parsed, key=lambda e: e.priority)),
                   values["version"])


def _oid(value: str | None) -> str | None:
    if value is None:
        return None
    kind, sep, oid = value.partition(":")
    if not sep or kind != "sha256" or _OID.fullmatch(oid) is None:
        return None
    return oid
