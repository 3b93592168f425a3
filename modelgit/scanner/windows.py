"""Large text for the secret scan: windows over a big file, and the text of LFS objects.

detect-secrets reads a file whole (its lines, several copies of the text in the prefilter, a
YAML or ini parse of all of it), which is fine for ordinary files and not for a 60 MB log. A
file over ``scan.max_blob_bytes`` is therefore scanned in windows of about ``size`` bytes,
each one a piece of the file that detect-secrets scans as if it were a file of its own:

- a window's own part ends after a line break (or, on a line longer than a window, after a
  space or tab; only a line with no blank for a quarter of a window is cut anywhere, on a
  UTF-8 character boundary), never between ``\\r`` and ``\\n``;
- around its own part a window carries up to ``overlap`` bytes of the text before and after,
  starting after a line break or blank when there is one, as context: a
  ``pragma: allowlist nextline secret`` just before the own part is seen, and a token that
  crosses from one part into the next is whole in the window that owns the line it is on;
- a finding counts for a window only if its line is one of the window's own lines, so a line
  is reported by the window that owns it, and the caller keeps each (type, secret) once per
  file, at its first line, as for a file scanned whole.

Lines are counted as detect-secrets counts them (universal newlines: ``\\n``, ``\\r\\n`` and
a lone ``\\r`` each end a line), so a window's line ``k`` is line ``first_line + k - 1`` of
the file.

An LFS pointer names an object in the store; the object's bytes are what a clone shows, so a
text object is scanned by content (:func:`read_lfs_text`). "Text" is sniffed from the first
8 KiB, as git does: no NUL byte, and valid UTF-8 (a character cut at the end is allowed).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

#: Own part of a window, in bytes (a window also carries up to OVERLAP_BYTES either side).
WINDOW_BYTES = 2 * 1024 * 1024
#: Context either side of a window's own part. Longer than any secret the detect-secrets
#: plugins match in practice (the longest token formats are a few hundred bytes) and than the
#: lines of context (5) detect-secrets' filters look at, unless those lines are long.
OVERLAP_BYTES = 16 * 1024
#: How much of a file decides whether it is text.
SNIFF_BYTES = 8 * 1024

_BREAK = re.compile(rb"\r\n?|\n")
_BLANK = re.compile(rb"[ \t]")


@dataclass(frozen=True)
class Window:
    start: int          # byte offsets of the window in the file, context included
    end: int
    first_line: int     # the file's line number of the window's first line
    own_first: int      # the file's lines this window reports (inclusive)
    own_last: int | None  # None: to the end of the file


def looks_like_text(head: bytes) -> bool:
    """Text as git's and the LFS scan's sniff sees it: no NUL, valid UTF-8 so far."""
    if b"\0" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _breaks(data: bytes, start: int, end: int) -> int:
    """Line breaks in data[start:end] (universal newlines; neither end inside a CRLF)."""
    return (data.count(b"\n", start, end) + data.count(b"\r", start, end)
            - data.count(b"\r\n", start, end))


def _settle(data: bytes, at: int, forward: bool) -> int:
    """``at`` moved to a UTF-8 character boundary and out of the middle of a CRLF.

    At most three steps: a longer run of continuation bytes is not UTF-8, and the window it
    starts in fails to decode and is skipped, as detect-secrets skips such a file.
    """
    n = len(data)
    step = 1 if forward else -1
    for _ in range(3):
        if not (0 < at < n and 0x80 <= data[at] < 0xC0):
            break
        at += step
    if 0 < at < n and data[at - 1] == 0x0D and data[at] == 0x0A:
        at += 1
    return at


def _cut(data: bytes, target: int, size: int) -> int:
    """Where an own part that should end near ``target`` ends."""
    limit = min(len(data), target + max(1, size // 4))
    found = _BREAK.search(data, target, limit) or _BLANK.search(data, target, limit)
    return _settle(data, found.end() if found else target, forward=True)


def _context_start(data: bytes, own_start: int, overlap: int) -> int:
    low = own_start - overlap
    if low <= 0:
        return 0
    found = _BREAK.search(data, low, own_start) or _BLANK.search(data, low, own_start)
    return _settle(data, found.end() if found else low, forward=True)


def _context_end(data: bytes, own_end: int, overlap: int) -> int:
    high = own_end + overlap
    if high >= len(data):
        return len(data)
    last = max(data.rfind(b"\n", own_end, high), data.rfind(b"\r", own_end, high))
    if last < 0:
        last = max(data.rfind(b" ", own_end, high), data.rfind(b"\t", own_end, high))
    return own_end if last < 0 else _settle(data, last + 1, forward=True)


def windows(data: bytes, size: int = WINDOW_BYTES, overlap: int = OVERLAP_BYTES
            ) -> list[Window]:
    """The windows that cover ``data``: one when it fits in ``size``."""
    n = len(data)
    cuts = [0]
    while n - cuts[-1] > size:
        cut = _cut(data, cuts[-1] + size, size)
        if cut <= cuts[-1] or cut >= n:
            break
        cuts.append(cut)
    cuts.append(n)
    out = []
    before = 0  # line breaks before cuts[i]
    for i in range(len(cuts) - 1):
        own_start, own_end = cuts[i], cuts[i + 1]
        start = _context_start(data, own_start, overlap)
        end = _context_end(data, own_end, overlap)
        inside = _breaks(data, own_start, own_end)
        if own_end == n:
            own_last: int | None = None
        elif data[own_end - 1] in b"\r\n":
            own_last = before + inside          # the own part ends with its last line
        else:
            own_last = before + inside + 1      # the line goes on into the next part
        out.append(Window(start=start, end=end,
                          first_line=before - _breaks(data, start, own_start) + 1,
                          own_first=before + 1, own_last=own_last))
        before += inside
    return out


@dataclass(frozen=True)
class LfsText:
    """What an LFS object holds for the secret scan: ``kind`` is ``text`` (``data`` set),
    ``binary``, ``missing`` (not in the store) or ``oversize`` (text over the ceiling)."""

    kind: str
    size: int = 0
    data: bytes = b""


def read_lfs_text(open_lfs: Callable[[str], BinaryIO | None], oid: str, ceiling: int
                  ) -> LfsText:
    """Sniff a stored LFS object and read it whole if it is text of at most ``ceiling``
    bytes. Only the first 8 KiB of a binary object (weights) are read."""
    stored = open_lfs(oid)
    if stored is None:
        return LfsText("missing")
    with stored:
        head = stored.read(SNIFF_BYTES)
        if not looks_like_text(head):
            return LfsText("binary")
        size = stored.seek(0, 2)
        if size > ceiling:
            return LfsText("oversize", size)
        stored.seek(0)
        data = stored.read(ceiling + 1)
    if len(data) > ceiling:  # grew while read: the store is append-free, so never; but refuse
        return LfsText("oversize", len(data))
    return LfsText("text", len(data), data)
