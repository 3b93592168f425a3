"""Large text in windows (finding 4): same findings and line numbers as a scan of the whole file.

A blob over ``max_blob_bytes`` used to be reported as "too large" and passed; now it is
scanned in overlapping windows. These tests put secrets where windows meet (first and last
own line, in the overlap, a pragma on the line before a window's own part, on a line cut
across windows) and compare with detect-secrets on the whole file, for every kind of line
break. LFS objects that are text are read from the store and scanned the same way.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import BinaryIO

import pytest

from modelgit.scanner.blobs import Blob
from modelgit.scanner.secrets import scan_secrets
from modelgit.scanner.windows import WINDOW_BYTES, looks_like_text, windows
from tests.helpers.secret_samples import (
    AWS_ID,
    GITHUB,
    STRIPE,
    assert_no_secret_in,
)

SIX_MB = 6 * 1024 * 1024


def filler(count: int, start: int = 0) -> list[str]:
    return [f"2026-12-05 09:{i % 60:02d}:00 INFO worker-{i % 7} processed batch {i} in"
            f" 0.{i % 97:02d}s é" for i in range(start, start + count)]


def _lines_before(data: bytes, at: int) -> int:
    text = data[:at].decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n").count("\n")


#: Another AWS key id, only ever on a line allowlisted by the line before it.
ALLOWED_AWS_ID = "AKIAQ4W7E2R9T5Y3U8I6"  # pragma: allowlist secret


def _log(eol: str, lines: int = 120_000) -> tuple[bytes, list[str]]:
    """A big log with secrets placed where its windows meet. Each replaced line keeps its
    length in bytes, so the windows of the result are the windows of the plain log."""
    body = filler(lines)
    plain = eol.join(body).encode() + eol.encode()

    def put(index: int, text: str) -> None:
        size = len(body[index].encode())
        assert len(text.encode()) <= size
        body[index] = text + " " * (size - len(text.encode()))

    for i, w in enumerate(windows(plain)):
        own = w.own_first - 1  # 0-based index of the window's first own line
        if i == 0:
            continue
        if i == 1:
            put(own, f"k {GITHUB}")                        # first own line of this window
            put(own - 1, f"export STRIPE_KEY={STRIPE}")    # last own line of the previous
            put(own + 2, f"again {GITHUB}")                # the same secret: reported once
            put(own - 3, "# pragma: allowlist nextline secret")
            put(own - 2, f"id {ALLOWED_AWS_ID}")           # allowlisted by the line before
        else:
            # The pragma is the previous window's last line, the secret this one's first.
            put(own - 1, "# pragma: allowlist nextline secret")
            put(own, f"id {ALLOWED_AWS_ID}")
            put(own + 1, f"k {GITHUB}")                    # seen before: not reported again
    put(10, f"aws_access_key_id={AWS_ID}")
    data = eol.join(body).encode() + eol.encode()
    assert windows(data) == windows(plain)
    return data, body


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_windows_cover_every_line_once_with_right_numbers(eol: str) -> None:
    data, body = _log(eol, 60_000)
    found = windows(data, size=256 * 1024, overlap=4096)
    assert len(found) > 5
    assert found[0].own_first == 1 and found[-1].own_last is None
    for before, after in itertools.pairwise(found):
        assert before.own_last is not None and before.own_last + 1 == after.own_first
    for w in found:
        assert w.first_line == _lines_before(data, w.start) + 1
        assert w.start <= w.end and data[w.start:w.end].decode("utf-8")  # whole characters
        # The window's own first line, read in the window, is the file's line.
        text = data[w.start:w.end].decode().replace("\r\n", "\n").replace("\r", "\n")
        assert text.split("\n")[w.own_first - w.first_line] == body[w.own_first - 1]


def test_a_line_longer_than_a_window_is_cut_at_blanks_and_shared() -> None:
    long_line = " ".join(f"tok{i:07d}" for i in range(100_000))  # 1.2 MB, no line break
    data = f"first\n{long_line}\nlast\n".encode()
    found = windows(data, size=128 * 1024, overlap=2048)
    assert len(found) > 5
    middle = [w for w in found if w.own_first == 2]
    assert len(middle) >= len(found) - 1  # every window but perhaps the first owns line 2
    for w in found:
        piece = data[w.start:w.end]
        assert piece[:1] in (b"f", b"t") and piece[-1:] in (b" ", b"\n")  # cut at blanks


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_windowed_scan_finds_what_a_whole_file_scan_finds(eol: str) -> None:
    data, _body = _log(eol)
    assert len(data) > SIX_MB and len(windows(data)) >= 3
    blob = Blob.from_bytes("logs/app.log", data, "c" * 40)
    windowed = scan_secrets([blob], workers=2)                            # 5 MB: windows
    whole = scan_secrets([blob], max_blob_bytes=len(data), workers=1)     # one piece
    assert [(f.path, f.line, f.rule) for f in windowed] == \
        [(f.path, f.line, f.rule) for f in whole]
    second = windows(data)[1].own_first
    assert [(f.line, f.rule) for f in windowed] == [
        (11, "AWS Access Key"), (second - 1, "Stripe Access Key"), (second, "GitHub Token")]
    assert_no_secret_in(windowed)


def test_a_secret_on_a_long_line_across_windows_is_reported_once() -> None:
    words = [f"w{i:07d}" for i in range(400_000)]
    words[len(words) // 2] = f"token={GITHUB}"
    words[len(words) // 4] = f"token={GITHUB}"
    data = ("header\n" + " ".join(words) + "\n").encode()
    assert len(data) > SIX_MB / 2
    blob = Blob.from_bytes("dump.txt", data, "c" * 40)
    found = scan_secrets([blob], max_blob_bytes=WINDOW_BYTES // 4, workers=2)
    assert [(f.line, f.rule) for f in found] == [(2, "GitHub Token")]


def test_large_binary_blob_is_skipped_not_refused() -> None:
    data = b"\x00\x01" * (SIX_MB // 2) + f"\n{AWS_ID}\n".encode()
    assert not looks_like_text(data[:8192])
    assert scan_secrets([Blob.from_bytes("weights.raw", data, "c" * 40)]) == []


def _pointer(data: bytes) -> bytes:
    import hashlib

    oid = hashlib.sha256(data).hexdigest()
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\n"
            f"size {len(data)}\n").encode()


def _store(objects: dict[str, bytes]):  # type: ignore[no-untyped-def]
    import hashlib

    by_oid = {hashlib.sha256(d).hexdigest(): d for d in objects.values()}

    def open_lfs(oid: str) -> BinaryIO | None:
        return io.BytesIO(by_oid[oid]) if oid in by_oid else None

    return open_lfs


def test_lfs_text_objects_are_scanned_by_content(tmp_path: Path) -> None:
    env = f"AWS_ACCESS_KEY_ID={AWS_ID}\nREGION=eu-west-1\n".encode()
    log, _ = _log("\n")
    weights = b"\x00" * 10_000 + f"{AWS_ID}\n".encode()
    open_lfs = _store({"env": env, "log": log, "weights": weights})
    blobs = [Blob.from_bytes(".env", _pointer(env), "1" * 40),
             Blob.from_bytes("logs/big.log", _pointer(log), "1" * 40),
             Blob.from_bytes("model.safetensors", _pointer(weights), "1" * 40),
             Blob.from_bytes("gone.env", _pointer(b"never uploaded\n"), "1" * 40)]
    found = scan_secrets(blobs, open_lfs=open_lfs, workers=2)
    got = {(f.path, f.line, f.rule) for f in found}
    assert (".env", 1, "AWS Access Key") in got
    assert ("logs/big.log", 11, "AWS Access Key") in got
    assert {f.path for f in found} == {".env", "logs/big.log"}
    # Without the store (the old behaviour) only the pointers were read: nothing found.
    assert scan_secrets(blobs) == []
    # Text over the ceiling is reported, not read.
    over = scan_secrets(blobs[:2], open_lfs=open_lfs, max_scan_bytes=len(env) + 1)
    assert [(f.scanner, f.path) for f in over if f.scanner == "limits"] == [
        ("limits", "logs/big.log")]
    assert_no_secret_in(found + over)


@pytest.mark.parametrize("seed", range(20))
def test_windows_of_hostile_bytes_cover_the_file_in_order(seed: int) -> None:
    """Random runs of line breaks, blanks, multibyte characters and stray continuation bytes:
    windows always make progress, own lines are contiguous, and line numbers are right
    wherever the text decodes."""
    import random

    rng = random.Random(seed)
    pieces = [b"\r", b"\n", b"\r\n", b" ", b"\t", "é".encode(), "€".encode(), b"\x80\x80\x80\x80",
              b"a" * 50, b"x" * 3000]
    data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 4000)))
    found = windows(data, size=rng.choice([64, 500, 4096]), overlap=rng.choice([0, 16, 300]))
    assert found[0].own_first == 1 and found[-1].own_last is None
    for before, after in itertools.pairwise(found):
        assert before.own_last is not None
        assert after.own_first in (before.own_last, before.own_last + 1)
        assert before.start <= after.start
    for w in found:
        assert 0 <= w.start <= w.end <= len(data)
    for w in rng.sample(found, min(len(found), 40)):
        plain = data[:w.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        assert w.first_line == plain.count(b"\n") + 1


# The peak is read from /proc (VmHWM): it belongs to this program's own address space, while
# getrusage's ru_maxrss survives execve and would report the pytest worker that started it.
SAME_BLOB_SCRIPT = """
import json, sys
from modelgit.scanner.blobs import tree_blobs
from modelgit.scanner.secrets import scan_secrets
found = scan_secrets(list(tree_blobs(sys.argv[1], "HEAD")), workers=2)
print(json.dumps({"findings": sorted({(f.path, f.line, f.rule) for f in found}),
                  "maxrss_kb": int(next(line.split()[1] for line in open("/proc/self/status")
                                        if line.startswith("VmHWM:")))}))
"""


def test_one_blob_at_many_paths_is_read_and_scanned_once(tmp_path: Path) -> None:
    """Cost follows the bytes a push adds: a tree naming one 2 MB text at 300 paths adds
    2 MB, but every path was read and scanned again (600 MB in memory at once)."""
    import json
    import subprocess
    import sys

    from tests.conftest import git

    repo = tmp_path / "r.git"
    git("init", "-q", "--bare", str(repo))
    lines = filler(32_000)
    lines[4] = f"token {GITHUB}"
    text = ("\n".join(lines) + "\n").encode()
    assert len(text) > 2_000_000
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=text).stdout.strip()
    entries = "".join(f"100644 blob {blob}\tf{i}.log\n" for i in range(300))
    tree = git("mktree", cwd=repo, input=entries.encode()).stdout.strip()
    commit = git("commit-tree", tree, "-m", "many", cwd=repo).stdout.strip()
    git("update-ref", "HEAD", commit, cwd=repo)
    proc = subprocess.run([sys.executable, "-c", SAME_BLOB_SCRIPT, str(repo)],
                          capture_output=True, text=True, check=True, timeout=300)
    out = json.loads(proc.stdout)
    assert out["findings"] == sorted([f"f{i}.log", 5, "GitHub Token"] for i in range(300))
    assert out["maxrss_kb"] < 300_000, out["maxrss_kb"]
