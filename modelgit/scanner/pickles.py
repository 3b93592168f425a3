"""Pickles in a push: every file whose content is (or holds) a pickle passes only on the allowlist.

Loading a pickle runs whatever callables it names, so a model file is dangerous before anyone
calls it. The scan reads the opcodes without executing them (``pickle_opcodes``) and refuses
the file unless every global it imports is on the allowlist of data-only constructors
(``pickle_globals``): an unknown callable such as ``multiprocessing.util.spawnv_passfds`` is
refused, not "suspicious". An import that cannot be named (STACK_GLOBAL on computed operands,
the copyreg extension registry) and a pickle that cannot be read to its end are refused too:
the loader executes opcodes as it reads them, so a broken tail can hide nothing but also proves
nothing about what came before.

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
- torch's legacy format: a pickle holding the magic number, then four more pickles (protocol,
  system info, the data, the storage keys), then raw storage bytes that are not read;
- torch's older tar format (members ``sys_info``, ``pickle``, ``storages``, ``tensors``):
  refused, it interleaves pickles with raw bytes;
- otherwise a pickle is recognised by its first bytes: ``\\x80`` and a protocol number, or,
  for pickle-named files (``.pkl .pickle .pt .pth .ckpt .joblib``), any opcode; any other file
  is a pickle only if it reads as a complete one that imports a name or has a few opcodes. A
  stream that breaks within its first few opcodes before importing anything is not a pickle:
  loading it would fail before anything ran. That keeps random weights, safetensors headers
  and text from being refused (1 random 600-byte file in 20,000 ended `\x83??.`, EXT2 + STOP,
  before the "few opcodes" rule; none after).

Limits (``Limits``) bound the bytes read (decompressed bytes count), the opcodes walked, the
archive members listed and the nesting depth; over a limit the file is refused with the reason.
Python's zipfile and torch's reader could in principle disagree about a crafted zip; every
entry (duplicates included) is scanned to narrow that.

Weights normally arrive through Git LFS, so the git blob is only a pointer; the caller resolves
the pointer (`modelgit.lfs.pointer`: git-lfs's own rules) to the stored object (`open_lfs`,
which opens only objects linked to the model). A pointer whose object cannot be opened is
reported ("lfs-object-missing") rather than passed, so an upload that never reached the store
cannot hide a file from the scan.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import logging
import lzma
import re
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from modelgit.lfs.pointer import MAX_POINTER_BYTES
from modelgit.lfs.pointer import parse as parse_pointer
from modelgit.scanner.advice import pickle_meaning
from modelgit.scanner.findings import Finding
from modelgit.scanner.pickle_globals import is_safe
from modelgit.scanner.pickle_opcodes import (
    TORCH_LEGACY_MAGIC,
    Budget,
    Reader,
    Stream,
    Walk,
    walk,
)

if TYPE_CHECKING:
    from modelgit.scanner.blobs import Blob

#: Names whose content is sniffed for protocol 0/1 pickles and for the weak compression magics.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib")
#: Archive members that are sniffed like a whole file (others, e.g. torch storages, are data).
NESTED_SUFFIXES = (
    *PICKLE_SUFFIXES, ".bin", ".npz", ".zip", ".gz", ".bz2", ".xz", ".lzma", ".tar", ".mar")
log = logging.getLogger(__name__)
_HEAD = 512
#: A stream that breaks within this many opcodes, importing nothing, is not taken for a pickle.
_PROBE_OPS = 5
_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER_MAX = 1 << 20
_LEGACY_TAR_MEMBERS = frozenset({"sys_info", "pickle", "storages", "tensors"})
_TORCH_LEGACY_PICKLES = 5


@dataclass(frozen=True)
class Limits:
    """Per pushed file: bytes read (decompressed), opcodes, archive members, nesting depth."""

    max_bytes: int = 1 << 30
    max_ops: int = 2_000_000
    max_members: int = 100_000
    max_depth: int = 3

    def budget(self) -> Budget:
        return Budget(self.max_bytes, self.max_ops, self.max_members, self.max_depth)


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused: a rule id and the sentence for the person who pushed."""

    rule: str
    message: str


# --------------------------------------------------------------------------------- messages
def message(kind: str, subject: str = "", where: str = "") -> str:
    """Every sentence the pickle scan says, in one place (kind: what was found; subject: the
    global or the reason; where: the archive member or decompressed stream it was found in)."""
    inside = f" (in {where})" if where else ""
    if kind == "global":
        module, _, name = subject.rpartition(":")
        return f"{module}.{name}{inside} {pickle_meaning(f'{module}.{name}')}"
    if kind == "unnamed":
        return f"{subject}{inside}; loading the file would import it"
    if kind == "unreadable":
        return (f"{where or 'the file'} cannot be read as a pickle ({subject}); the loader runs "
                "what it reads before the break, so the file cannot be checked")
    if kind == "too-large":
        return f"{where or 'the file'} is {subject}; refused unchecked"
    if kind == "archive":
        return f"{where or 'the file'} {subject}, so the pickles in it cannot be checked"
    raise ValueError(kind)


def _global(module: str, name: str, where: str) -> Problem:
    return Problem(f"{module}.{name}", message("global", f"{module}:{name}", where))


# --------------------------------------------------------------------------------- pickles
def _legacy_chain(reader: Reader, first: Walk) -> Walk:
    """torch's legacy format: four more pickles follow the magic number; raw bytes after."""
    for _ in range(_TORCH_LEGACY_PICKLES - 1):
        if first.error is not None:
            break
        walk(reader, first)
    return first


def _walk_problems(found: Walk, where: str) -> list[Problem]:
    problems = []
    seen: set[tuple[str, str]] = set()
    for module, name in found.imports:
        if (module, name) in seen or is_safe(module, name):
            continue
        seen.add((module, name))
        problems.append(_global(module, name, where))
    for reason in dict.fromkeys(found.unnamed):
        problems.append(Problem("pickle-unnamed-import", message("unnamed", reason, where)))
    if found.too_large:
        problems.append(Problem("pickle-too-large", message("too-large", found.error or "",
                                                            where)))
    elif found.error is not None:
        problems.append(Problem("pickle-unreadable", message("unreadable", found.error, where)))
    return problems


def _pickle(stream: Stream, budget: Budget, where: str, mode: str, plain: bool
            ) -> list[Problem]:
    """mode: "required" (a pickle by its place), "strong"/"suffix" (by its first bytes or its
    name: broken early and importing nothing means not a pickle), "loose" (any file: a pickle
    only if it reads as a complete one with an import or a few opcodes)."""
    reader = Reader(stream, budget, seekable=plain)
    found = walk(reader)
    if found.complete and found.result == TORCH_LEGACY_MAGIC:
        found = _legacy_chain(reader, found)
    # Random bytes end in STOP now and then (`\x83??.` is EXT2, STOP), so a few opcodes or a
    # named import are needed; a shorter stream can import only through EXT, whose registry
    # is empty unless the loading program fills it.
    if mode == "loose":
        is_pickle = (found.complete and (found.evidence or found.ops >= _PROBE_OPS)) \
            or (found.too_large and found.evidence)
    elif mode in ("strong", "suffix"):
        is_pickle = found.evidence or found.too_large or found.ops >= _PROBE_OPS
    else:
        is_pickle = True
    return _walk_problems(found, where) if is_pickle else []


# --------------------------------------------------------------------------------- formats
def _is_opcode(byte: int) -> bool:
    from modelgit.scanner.pickle_opcodes import _OPS

    return byte in _OPS


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
            raise _Over(f"more than {budget.max_bytes} bytes once decompressed")
        copy.write(chunk)
    copy.seek(0)
    return copy


class _Over(Exception):
    """A limit was reached while copying or listing."""


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
    return _pickle(stream, budget, where or "the .npy object array", "required", plain)


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
                        problems += _sniff(member, budget, inner, info.filename, depth + 1,
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


def _sniff(stream: Stream, budget: Budget, where: str, name: str, depth: int, *,
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
            return _sniff(inner, budget, where or f"the {kind}-compressed content", inner_name,
                          depth + 1, plain=False, mode=mode if mode == "required" else "")
        if head.startswith(_NPY_MAGIC):
            return _npy(stream, budget, where, plain)
        if len(head) >= 262 and head[257:262] == b"ustar":
            if not plain:
                stream = cleanup.enter_context(_spool(stream, budget))
            return _tar(stream, budget, where)
        if not head or not _is_opcode(head[0]):
            return [] if mode != "required" else _pickle(stream, budget, where, mode, plain)
        if mode != "required":
            if _looks_like_safetensors(head):
                mode = "loose"
            elif head[0] == 0x80 and len(head) > 1 and head[1] <= 5:
                mode = "strong"
            elif name.lower().endswith(PICKLE_SUFFIXES):
                mode = "suffix"
            else:
                mode = "loose"
        return _pickle(stream, budget, where, mode, plain)


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


def analyse(path: str, stream: Stream, limits: Limits | None = None) -> list[Problem]:
    """Why the file at `path` (its content in `stream`) must be refused; [] when it passes."""
    budget = (limits or Limits()).budget()
    with ExitStack() as cleanup:
        plain = _plain(stream)
        if not plain:
            stream = cleanup.enter_context(io.BufferedReader(_Wrapped(stream)))
        try:
            problems = _sniff(stream, budget, "", path, 0, plain=plain)
        except _Over as error:
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


# --------------------------------------------------------------------------------- findings
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


