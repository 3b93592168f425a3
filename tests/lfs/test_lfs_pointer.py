"""modelgit.lfs.pointer: the one pointer codec agrees with the real git-lfs on every sample.

git-lfs itself is the oracle: ``git lfs pointer --check --file F`` exits 0 for what it reads
as a pointer. A reader stricter than git-lfs lets a pointer pass as text (finding 1: the
legacy ``hawser`` version line got a malicious pickle past the pickle scanner).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelgit.lfs import pointer
from modelgit.lfs.pointer import Extension, Pointer, encode, parse, parse_head

OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"  # pragma: allowlist secret
EXT = "a" * 64
CANON = encode(OID, 12345)
HAWSER = CANON.replace(b"git-lfs.github.com/spec/v1", b"hawser.github.com/spec/v1")
MEDIA = CANON.replace(b"https://git-lfs.github.com/spec/v1", b"http://git-media.io/v/2")

#: (name, bytes, what `parse` must read: a Pointer or None). `git lfs pointer --check` reads
#: a file as the smudge filter does (its first 1024 bytes), so it must agree with parse_head.
SAMPLES: list[tuple[str, bytes, Pointer | None]] = [
    ("canonical", CANON, Pointer(OID, 12345)),
    ("legacy hawser", HAWSER, Pointer(OID, 12345, version=pointer.VERSIONS[1])),
    ("alpha git-media", MEDIA, Pointer(OID, 12345, version=pointer.VERSIONS[0])),
    ("crlf", CANON.replace(b"\n", b"\r\n"), Pointer(OID, 12345)),
    ("hawser crlf", HAWSER.replace(b"\n", b"\r\n"),
     Pointer(OID, 12345, version=pointer.VERSIONS[1])),
    ("no final newline", CANON[:-1], Pointer(OID, 12345)),
    ("blank lines and padding", b"\n \t" + CANON.replace(b"\noid", b"\n\n\noid") + b"  \n\n",
     Pointer(OID, 12345)),
    ("nbsp padding", "\u00a0".encode() + CANON, Pointer(OID, 12345)),
    ("size with plus and zeros", CANON.replace(b"size 12345", b"size +0012345"),
     Pointer(OID, 12345)),
    ("extension", CANON.replace(b"\noid", f"\next-0-foo sha256:{EXT}\noid".encode()),
     Pointer(OID, 12345, (Extension(0, "foo", EXT),))),
    ("extension first", f"ext-1-bar sha256:{EXT}\n".encode() + CANON,
     Pointer(OID, 12345, (Extension(1, "bar", EXT),))),
    ("size zero", CANON.replace(b"size 12345", b"size 0"), Pointer(OID, 0)),
    ("padded to 1023 bytes", CANON + b" " * (1023 - len(CANON)), Pointer(OID, 12345)),
    # A pointer only to the smudge filter (which reads 1024 bytes of any blob), never to
    # git-lfs's scanners: parse says None, parse_head finds it (and the push gate refuses it).
    ("1024 bytes", CANON + b" " * (1024 - len(CANON)), None),
    ("pointer then 3000 bytes", CANON + b" " * 1000 + b"x" * 2000, None),
    # Not pointers, for git-lfs either.
    ("text", b"hello\n", None),
    ("upper-case oid", CANON.replace(OID.encode(), OID.upper().encode()), None),
    ("sha1 oid", CANON.replace(b"sha256:", b"sha1:"), None),
    ("short oid", CANON.replace(OID.encode(), OID[:-1].encode()), None),
    ("negative size", CANON.replace(b"size 12345", b"size -1"), None),
    ("huge size", CANON.replace(b"size 12345", b"size 9223372036854775808"), None),
    ("size with space", CANON.replace(b"size 12345", b"size 12 345"), None),
    ("unknown version", CANON.replace(b"spec/v1", b"spec/v2"), None),
    ("two spaces", CANON.replace(b"version ", b"version  "), None),
    ("keys out of order", b"version https://git-lfs.github.com/spec/v1\nsize 1\n"
                          b"oid sha256:" + OID.encode() + b"\n", None),
    ("extra line", CANON + b"x y\n", None),
    ("extension after size", CANON + f"ext-0-foo sha256:{EXT}\n".encode(), None),
    ("duplicate priority", CANON.replace(
        b"\noid", f"\next-0-a sha256:{EXT}\next-0-b sha256:{EXT}\noid".encode()), None),
    ("bad extension oid", CANON.replace(b"\noid", b"\next-0-foo sha256:abc\noid"), None),
    ("two-digit priority", CANON.replace(b"\noid", f"\next-10-foo sha256:{EXT}\noid".encode()),
     None),
    ("lone cr inside", CANON.replace(b"\nsize", b"\rsize"), None),
    ("key without value", CANON + b"x\n", None),
]


def git_lfs_reads_a_pointer(path: Path) -> bool:
    proc = subprocess.run(["git", "lfs", "pointer", "--check", "--file", str(path)],
                          capture_output=True, check=False, cwd=path.parent)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


@pytest.mark.parametrize(("name", "data", "expected"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_parse_agrees_with_git_lfs(tmp_path: Path, name: str, data: bytes,
                                   expected: Pointer | None) -> None:
    sample = tmp_path / "sample"
    sample.write_bytes(data)
    assert git_lfs_reads_a_pointer(sample) is (parse_head(data) is not None), name
    assert parse(data) == expected
    if len(data) < pointer.MAX_POINTER_BYTES:
        assert parse_head(data) == expected
    else:
        assert parse_head(data) == Pointer(OID, 12345)


def test_an_empty_file_is_empty(tmp_path: Path) -> None:
    """git-lfs calls an empty file the pointer to the empty object; there is nothing to fetch
    or scan either way, so modelgit reads it as the empty file it is."""
    (tmp_path / "empty").write_bytes(b"")
    assert git_lfs_reads_a_pointer(tmp_path / "empty")
    assert parse(b"") is None and parse_head(b"") is None


def test_encode_is_what_git_lfs_writes(tmp_path: Path) -> None:
    content = b"some weights\n" * 100
    (tmp_path / "w.bin").write_bytes(content)
    proc = subprocess.run(["git", "lfs", "pointer", "--file", "w.bin"], cwd=tmp_path,
                          capture_output=True, check=True)
    parsed = parse(proc.stdout)
    assert parsed is not None and parsed.size == len(content)
    assert encode(parsed.oid, parsed.size) == proc.stdout == parsed.encode()
    ext = Extension(0, "foo", EXT)
    assert parse(encode(OID, 7, (ext,))) == Pointer(OID, 7, (ext,))
    for oid, size in (("A" * 64, 1), ("../x", 1), (OID, -1), (OID, True), (OID, 2**63)):
        with pytest.raises(ValueError):
            encode(oid, size)  # type: ignore[arg-type]


def test_head_of_a_long_blob_is_what_the_smudge_filter_reads() -> None:
    """git-lfs's smudge filter reads 1024 bytes of any blob: a pointer padded past that is
    checked out as the object, so the push gate must see it (parse alone never does)."""
    padded = CANON + b" " * 3000 + b"anything at all"
    assert parse(padded) is None
    assert parse_head(padded) == Pointer(OID, 12345)
    assert parse_head(b"x" * 5000) is None
