"""Recognise what a pushed file holds, by content, and hand every pickle in it to ``pickle_check``.

Formats are recognised by content, not by name, because loaders do not look at names either
(``torch.load("weights.safetensors")`` unpickles a pickle):

- a zip (torch's format: ``<dir>/data.pkl`` plus raw storages; ``.npz``): members named
  ``*.pkl``/``*.pickle`` are pickles, ``*.npy`` are numpy files, members with a model or archive
  suffix are sniffed like a file; any other member is checked only for the ``.npy`` magic
  (``np.load`` reads such a member by content whatever its name): torch storages are raw
  numbers that may well begin with ``\x80\x02``, so they are never taken for pickles;
- gzip, bzip2 and xz streams (any name), and for pickle-named files also zlib and raw lzma
  (joblib's compressors): the decompressed content is sniffed again; lz4 cannot be opened with
  the standard library and is refused;
- ``.npy`` (``\\x93NUMPY``): a dtype with object fields means the payload is a pickle;
- torch's legacy format (a chain of pickles) is followed by ``pickle_check``; its older tar
  format (members ``sys_info``, ``pickle``, ``storages``, ``tensors``) is refused, it
  interleaves pickles with raw bytes;
- otherwise a pickle is recognised by its first bytes: ``\\x80`` and a protocol number, or,
  for pickle-named files (``.pkl .pickle .pt .pth .ckpt .joblib``), any opcode; any other file
  is a pickle only if it reads as a complete one (``pickle_check`` says how strictly).

Python's zipfile and torch's reader could in principle disagree about a crafted zip; every
entry (duplicates included) is scanned to narrow that.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import lzma
import re
import tarfile
import tempfile
import zipfile
import zlib
from contextlib import ExitStack
from typing import IO, cast

from modelgit.scanner.pickle_check import Problem, check_pickle, message
from modelgit.scanner.pickle_opcodes import Budget, Stream, is_opcode

__all__ = ["NESTED_SUFFIXES", "PICKLE_SUFFIXES", "Over", "sniff"]

#: Names whose content is sniffed for protocol 0/1 pickles and for the weak compression magics.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib")
#: Archive members that are sniffed like a whole file (others, e.g. torch storages, are data).
NESTED_SUFFIXES = (
    *PICKLE_SUFFIXES, ".bin", ".npz", ".zip", ".gz", ".bz2", ".xz", ".lzma", ".tar", ".mar")
_HEAD = 512
_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER_MAX = 1 << 20
_LEGACY_TAR_MEMBERS = frozenset({"sys_info", "pickle", "storages", "tensors"})


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= 100 * 1024 * 1024


def _join(where: str, member: str) -> str:
    return f"{where}: {member}" if where else member


def _spool(stream: Stream, budget: Budget) -> tempfile.SpooledTemporaryFile[bytes]:
    """A seekable copy of a decompressing stream (to open a zip or tar inside it)."""
    copy = tempfile.SpooledTemporaryFile(max_size=64 << 20)
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        budget.bytes_read += len(chunk)
        if budget.bytes_read > budget.max_bytes:
            copy.close()
            raise Over(f"more than {budget.max_bytes} bytes once decompressed")
        copy.write(chunk)
    copy.seek(0)
    return copy


class Over(Exception):
    """A limit was reached while copying or listing (``pickles.analyse`` refuses the file)."""


def _npy(stream: Stream, budget: Budget, where: str, plain: bool) -> list[Problem]:
    """A .npy file: an object dtype means the payload after the header is a pickle."""
    head = stream.read(10)
    major = head[6] if len(head) > 6 else 0
    try:
        if major == 1:
            size = int.from_bytes(head[8:10], "little")
            raw = head[10:]
        elif major in (2, 3):
            size = int.from_bytes(head[8:10] + stream.read(2), "little")
            raw = b""
        else:
            raise ValueError(f"unknown .npy version {major}")
        if size > _NPY_HEADER_MAX:
            raise ValueError("the header is too long")
        raw += stream.read(size - len(raw))
        budget.bytes_read += len(raw) + 10
        header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin-1"))
        if not isinstance(header, dict) or "descr" not in header:
            raise ValueError("the header has no dtype")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        return [Problem("pickle-unreadable", message(
            "unreadable", f"a .npy file whose header cannot be read: {error}", where))]
    if not _has_objects(header["descr"]):
        return []
    return check_pickle(stream, budget, where or "the .npy object array", "required", plain)


def _has_objects(descr: object, depth: int = 0) -> bool:
    """Whether a .npy dtype description holds Python objects (anything unclear: yes)."""
    if isinstance(descr, str):
        return "O" in descr
    if isinstance(descr, list) and depth < 32:
        for field in descr:
            if not isinstance(field, tuple) or len(field) < 2:
                return True
            if _has_objects(field[1], depth + 1):
                return True
        return False
    return True


def _zip(stream: Stream, budget: Budget, where: str, depth: int) -> list[Problem]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        return [Problem("archive-unreadable", message(
            "archive", f"is a zip archive that cannot be read ({error})", where))]
    problems: list[Problem] = []
    with archive:
        infos = archive.infolist()
        budget.members += len(infos)
        if budget.members > budget.max_members:
            return [Problem("archive-too-many-members", message(
                "archive", f"has more than {budget.max_members} archive members", where))]
        for info in infos:
            lower = info.filename.lower()
            if info.is_dir():
                continue
            if lower.endswith((".pkl", ".pickle")):
                mode = "required"
            elif lower.endswith(".npy") or lower.endswith(NESTED_SUFFIXES):
                mode = ""
            else:  # np.load(npz)[key] reads any member that starts with the .npy magic
                mode = "npy-magic"
            inner = _join(where, info.filename)
            try:
                with archive.open(info) as member:
                    if mode != "npy-magic":
                        problems += sniff(member, budget, inner, info.filename, depth + 1,
                                           plain=False, mode=mode)
                    elif member.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                        member.seek(0)
                        problems += _npy(member, budget, inner, plain=False)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError,
                    ValueError, EOFError, zlib.error, lzma.LZMAError) as error:
                problems.append(Problem("archive-unreadable", message(
                    "archive", f"has a member that cannot be read ({error})", inner)))
    return problems


def _tar(stream: Stream, budget: Budget, where: str) -> list[Problem]:
    """torch's pre-1.6 tar format interleaves pickles and raw bytes: refused; other tars pass."""
    try:
        with tarfile.open(fileobj=cast("IO[bytes]", stream), mode="r:") as archive:
            for member in archive:
                budget.members += 1
                if budget.members > budget.max_members:
                    return [Problem("archive-too-many-members", message(
                        "archive", f"has more than {budget.max_members} archive members",
                        where))]
                if member.name in _LEGACY_TAR_MEMBERS:
                    return [Problem("archive-unreadable", message(
                        "archive", "is in torch's old tar format, which mixes pickles with"
                        " raw bytes", where))]
    except (tarfile.TarError, OSError, EOFError) as error:
        return [Problem("archive-unreadable", message(
            "archive", f"is a tar archive that cannot be read ({error})", where))]
    return []


def _decompressed(stream: Stream, head: bytes, name: str) -> tuple[str, Stream] | None:
    """(format, decompressing reader) when the content is a compressed stream we open."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip", gzip.GzipFile(fileobj=stream, mode="rb")
    if head.startswith(b"BZh"):
        return "bzip2", bz2.BZ2File(stream, mode="rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz", lzma.LZMAFile(cast("IO[bytes]", stream), mode="rb")
    if not name.lower().endswith(PICKLE_SUFFIXES):
        return None
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib", _ZlibReader(stream)
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma", lzma.LZMAFile(cast("IO[bytes]", stream), mode="rb",
                                    format=lzma.FORMAT_ALONE)
    return None


class _ZlibReader(io.RawIOBase):
    """A zlib stream (joblib's "zlib" compressor) as a readable file."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._inflate = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if self._inflate.eof:
                return 0
            raw = self._inflate.unconsumed_tail or self._stream.read(1 << 16)
            if not raw:
                return 0  # truncated: the pickle walker reports where it broke
            self._pending = self._inflate.decompress(raw, 1 << 20)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def sniff(stream: Stream, budget: Budget, where: str, name: str, depth: int, *,
          plain: bool, mode: str = "") -> list[Problem]:
    """Recognise the content of one stream (a file, an archive member, decompressed data)."""
    if depth > budget.max_depth:
        return [Problem("archive-too-deep", message(
            "archive", f"is nested more than {budget.max_depth} archives deep", where))]
    head = stream.read(_HEAD)
    if not plain:
        budget.bytes_read += len(head)
    with ExitStack() as cleanup:
        if plain or stream.seekable():  # decompressors and zip members rewind 512 bytes cheaply
            stream.seek(0)
        else:
            stream = cleanup.enter_context(io.BufferedReader(_Prefixed(head, stream)))
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            if not plain:
                stream = cleanup.enter_context(_spool(stream, budget))
            return _zip(stream, budget, where, depth)
        if head.startswith(b"\x04\x22\x4d\x18") and name.lower().endswith(PICKLE_SUFFIXES):
            return [Problem("archive-unreadable", message(
                "archive", "is compressed with lz4, which modelgit cannot open", where))]
        opened = _decompressed(stream, head, name)
        if opened is not None:
            kind, inner = opened
            cleanup.callback(inner.close)
            inner_name = re.sub(r"\.(gz|bz2|xz|lzma|z)$", "", name, flags=re.IGNORECASE)
            return sniff(inner, budget, where or f"the {kind}-compressed content", inner_name,
                          depth + 1, plain=False, mode=mode if mode == "required" else "")
        if head.startswith(_NPY_MAGIC):
            return _npy(stream, budget, where, plain)
        if len(head) >= 262 and head[257:262] == b"ustar":
            if not plain:
                stream = cleanup.enter_context(_spool(stream, budget))
            return _tar(stream, budget, where)
        if not head or not is_opcode(head[0]):
            return [] if mode != "required" else check_pickle(stream, budget, where, mode, plain)
        if mode != "required":
            if _looks_like_safetensors(head):
                mode = "loose"
            elif head[0] == 0x80 and len(head) > 1 and head[1] <= 5:
                mode = "strong"
            elif name.lower().endswith(PICKLE_SUFFIXES):
                mode = "suffix"
            else:
                mode = "loose"
        return check_pickle(stream, budget, where, mode, plain)


class _Prefixed(io.RawIOBase):
    """Bytes already read from a stream that cannot seek back, then the rest of the stream."""

    def __init__(self, head: bytes, rest: Stream) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

