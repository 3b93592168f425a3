"""Pickles in a push: every file whose content is (or holds) a pickle passes only on the allowlist.

``pickle_formats`` finds the pickles in a file whatever its format (zip, torch, ``.npy``,
compressed streams) and ``pickle_check`` decides about each; this module bounds the work per
file (``Limits``: bytes read, decompressed bytes included, opcodes walked, archive members
listed, nesting depth; over a limit the file is refused with the reason) and turns the
verdicts into findings.

Weights normally arrive through Git LFS, so the git blob is only a pointer; the caller resolves
the pointer (`modelgit.lfs.pointer`: git-lfs's own rules) to the stored object (`open_lfs`,
which opens only objects linked to the model). A pointer whose object cannot be opened is
reported ("lfs-object-missing") rather than passed, so an upload that never reached the store
cannot hide a file from the scan.
"""

from __future__ import annotations

import io
import logging
import lzma
import zlib
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from modelgit.lfs.pointer import MAX_POINTER_BYTES
from modelgit.lfs.pointer import parse as parse_pointer
from modelgit.scanner.findings import Finding
from modelgit.scanner.pickle_check import Problem, message
from modelgit.scanner.pickle_formats import Over, sniff
from modelgit.scanner.pickle_opcodes import Budget, Stream

if TYPE_CHECKING:
    from modelgit.scanner.blobs import Blob

__all__ = ["Limits", "Problem", "analyse", "scan_pickle_bytes", "scan_pickle_file", "scan_pickles"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Per pushed file: bytes read (decompressed), opcodes, archive members, nesting depth."""

    max_bytes: int = 1 << 30
    max_ops: int = 2_000_000
    max_members: int = 100_000
    max_depth: int = 3

    def budget(self) -> Budget:
        return Budget(self.max_bytes, self.max_ops, self.max_members, self.max_depth)


def analyse(path: str, stream: Stream, limits: Limits | None = None) -> list[Problem]:
    """Why the file at `path` (its content in `stream`) must be refused; [] when it passes."""
    budget = (limits or Limits()).budget()
    with ExitStack() as cleanup:
        plain = _plain(stream)
        if not plain:
            stream = cleanup.enter_context(io.BufferedReader(_Wrapped(stream)))
        try:
            problems = sniff(stream, budget, "", path, 0, plain=plain)
        except Over as error:
            return [Problem("pickle-too-large", message("too-large", str(error)))]
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
            return [Problem("archive-unreadable", message(
                "archive", f"cannot be decompressed ({error})"))]
        except Exception as error:  # fail closed: a file the scan cannot finish is refused
            log.exception("pickle scan of %s failed", path)
            return [Problem("pickle-unreadable", message(
                "unreadable", f"the scan stopped: {type(error).__name__}"))]
    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.rule, problem.message), problem)
    return list(unique.values())


def _plain(stream: Stream) -> bool:
    """In-memory bytes and regular files: seeking is free, so long arguments are skipped."""
    if isinstance(stream, io.BytesIO):
        return True
    try:
        return stream.seekable() and hasattr(stream, "fileno") and stream.fileno() >= 0
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


class _Wrapped(io.RawIOBase):
    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _findings(path: str, commit: str, fileobj: Stream) -> list[Finding]:
    return [Finding(scanner="pickles", path=path, line=None, rule=p.rule, severity="HIGH",
                    confidence="HIGH", message=p.message, commit=commit)
            for p in analyse(path, fileobj)]


def scan_pickle_bytes(path: str, data: bytes, commit: str) -> list[Finding]:
    """Why a file's bytes must be refused as (or as holding) a pickle; [] when they pass."""
    return _findings(path, commit, io.BytesIO(data))


def scan_pickle_file(path: str, fileobj: BinaryIO, commit: str) -> list[Finding]:
    """The same for a file on disk (an LFS object), read as a stream: memory stays flat."""
    return _findings(path, commit, fileobj)


def _lfs_missing(blob: Blob, oid: str) -> Finding:
    return Finding(
        scanner="pickles",
        path=blob.path,
        line=None,
        rule="lfs-object-missing",
        severity="LOW",
        confidence="HIGH",
        message=f"LFS object {oid[:12]} is not in the store; the file was not scanned",
        commit=blob.commit,
    )


def scan_pickles(
    blobs: Iterable[Blob],
    *,
    open_lfs: Callable[[str], BinaryIO | None] | None = None,
) -> list[Finding]:
    """Pickle findings for every blob (content decides, not the name), LFS pointers resolved.

    `open_lfs(oid)` opens the stored LFS object (the caller closes nothing: the file is closed
    here), or returns None when the store does not have it.
    """
    findings: list[Finding] = []
    for blob in blobs:
        data = blob.data()
        pointer = parse_pointer(data) if blob.size <= MAX_POINTER_BYTES else None
        if pointer is None:
            findings += scan_pickle_bytes(blob.path, data, blob.commit)
            continue
        oid = pointer.oid
        stored = open_lfs(oid) if open_lfs is not None else None
        if stored is None:
            findings.append(_lfs_missing(blob, oid))
            continue
        with stored:
            findings += scan_pickle_file(blob.path, stored, blob.commit)
    return findings

