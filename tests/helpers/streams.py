"""Upload bodies too big to hold: bytes made on the fly, and their sha256.

Used by the storage tests, also in a child process (under a file-size limit) that must not
import a test module.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any


class GeneratedStream(io.RawIOBase):
    """``size`` pseudo-random bytes made on the fly, never all in memory at once."""

    def __init__(self, size: int, block: int = 1 << 16) -> None:
        self.remaining = size
        # One fixed block, rotated by position: cheap, and not all the same byte.
        self.block = hashlib.sha256(b"seed").digest() * (block // 32)
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.remaining)
        done = 0
        while done < n:
            start = self.offset % len(self.block)
            piece = self.block[start : start + (n - done)]
            buffer[done : done + len(piece)] = piece
            done += len(piece)
            self.offset += len(piece)
        self.remaining -= n
        return n


def generated_oid(size: int) -> str:
    hasher = hashlib.sha256()
    stream = GeneratedStream(size)
    while chunk := stream.read(1 << 20):
        hasher.update(chunk)
    return hasher.hexdigest()
