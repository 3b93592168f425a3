"""LFS object storage: the only module that reads or writes LFS object bytes.

Objects are content-addressed by their sha256 (the LFS oid), stored once for the whole site;
which model may serve which object is the store's business (a table of links), not this
module's. Everything else gets a storage from :func:`storage_for` and reaches the bytes through
:class:`ObjectStorage` only (``gc`` included): :class:`FileStorage` here, and the S3-compatible
backend in :mod:`modelgit.lfs.s3`, one entry each in :data:`BACKENDS` (docs/architecture.md).

Writes never trust the client: the bytes are hashed while they stream to a temporary file in
the store's own folder (same filesystem, so the final rename is atomic), and only a file whose
size and sha256 match the oid is fsynced and renamed into place. A reader therefore never sees
a partial or wrong object, and a crash leaves at most a temporary file that
:meth:`FileStorage.sweep_temp` removes. Bytes the server makes itself (a verified Xet xorb, a
file rebuilt from xorbs) go through :meth:`ObjectStorage.writer` instead: the same temporary
file, hashed as it is written, and renamed into place under the sha256 it turned out to have.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import mmap
import os
import queue
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from modelgit.config import Config

from modelgit.errors import ModelgitError

OID_RE = re.compile(r"^[0-9a-f]{64}$")

#: Largest object size accepted anywhere (what a signed 64-bit file offset can address).
MAX_OBJECT_SIZE = 2**63 - 1

#: Size of the reused buffers an upload is received into, and so of each piece that is hashed
#: and handed to the writer. Reading into buffers that are reused (``readinto``) rather than
#: asking for new ``bytes`` each time saves an allocation and a copy per piece; a MiB per
#: hand-off keeps thread wake-ups rare (per 256 KiB, a 1 GiB PUT ran ~13 % slower here).
DEFAULT_CHUNK = 1024 * 1024
#: Uploads from this size are written by a second thread while the next piece is read.
PIPELINE_MIN_BYTES = 8 * 1024 * 1024
#: Pieces waiting for the writer at most; with the one being filled and the one being
#: written, the memory bound of an upload (6 MiB with the default chunk).
PIPELINE_DEPTH = 4
#: Every this many bytes of an upload written through the page cache, the kernel is asked to
#: write them to disk now and to drop them from the page cache once written (see
#: :class:`_UploadFile`).
WRITE_BEHIND_BYTES = 64 * 1024 * 1024
#: What direct I/O needs buffers, sizes and file offsets to be multiples of: the largest
#: logical block size of common disks, and a page.
DIRECT_ALIGN = 4096

#: Mode of stored objects: the service user reads and writes, its group may read (a web
#: server's git user in that group can scan objects), other local users get nothing, because
#: a private model's weights are as private as its repository.
OBJECT_MODE = 0o640

# A full disk or quota is the server's condition, not a broken upload: the LFS code for it.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageError(ModelgitError):
    """A refusal or failure that the HTTP layer turns into an LFS error with ``status``.

    The message is safe to show to the client: it names what was wrong, never a path.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


@dataclass(frozen=True)
class StoredObject:
    """One stored object as a listing sees it: ``mtime`` is when it was stored (seconds since
    the epoch), what ``gc``'s grace period is measured against."""

    oid: str
    size: int
    mtime: float


def validate_oid(oid: object) -> str:
    """Return ``oid`` if it is 64 lowercase hex characters, else raise ``StorageError(422)``.

    ``fullmatch`` rather than ``match``: ``$`` also matches before a trailing newline, so
    ``OID_RE.match(oid + "\\n")`` would succeed. Every path built from an oid goes through
    here, which is what keeps ``../`` and friends out of the store.
    """
    if not isinstance(oid, str) or OID_RE.fullmatch(oid) is None:
        raise StorageError(422, "invalid oid: expected 64 lowercase hex characters (sha256)")
    return oid


def validate_size(size: object) -> int:
    """Return ``size`` if it is a non-negative int (not a bool), else raise ``StorageError(422)``.

    ``bool`` is a subclass of ``int`` in Python, and JSON ``true`` must not pass as size 1.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_OBJECT_SIZE:
        raise StorageError(422, "invalid size: expected a non-negative integer")
    return size


class ByteSource(Protocol):
    """What ``put`` reads an upload from: a ``readinto`` that fills the caller's buffer and
    returns the count, 0 at the end, like a raw file (``io.BytesIO``, an open file, or the LFS
    endpoint's reader bounded by Content-Length). The caller owns the buffer, so receiving an
    upload allocates nothing per piece."""

    def readinto(self, buffer: memoryview, /) -> int: ...


@runtime_checkable
class ObjectStorage(Protocol):
    """What the LFS endpoints, the hooks and ``gc`` may do with object bytes.

    Every method validates the oid first (``StorageError(422)`` for a bad one), so callers
    cannot turn an oid into a path or key outside the store.
    """

    def exists(self, oid: str) -> bool:
        """Whether the bytes of ``oid`` are stored (says nothing about who may read them)."""
        ...

    def get_size(self, oid: str) -> int | None:
        """Size in bytes of a stored object, or None when it is not stored."""
        ...

    def open(self, oid: str) -> BinaryIO:
        """A binary reader for a stored object (the caller seeks for ``Range``); 404 if absent."""
        ...

    def put(self, oid: str, size: int, stream: ByteSource, chunk: int = DEFAULT_CHUNK) -> int:
        """Store exactly ``size`` bytes read from ``stream`` whose sha256 is ``oid``.

        Reads at most ``size + 1`` bytes (to notice a body that is too long), ``chunk`` at a
        time at most; ``stream.readinto`` must report the end of data with 0 (``wsgi.input``
        bounded by ``CONTENT_LENGTH``).
        Wrong size or hash: ``StorageError(422)`` and nothing is kept. Returns bytes written.
        Storing an object that already exists verifies the new bytes and keeps one copy;
        concurrent puts of the same object all succeed.
        """
        ...

    def writer(self, size: int) -> ObjectWriter:
        """A new object of exactly ``size`` bytes whose sha256 nobody knows yet: bytes the
        server made itself (a verified xorb, a file rebuilt from xorbs).

        The storage names the object by the sha256 of the bytes it was given, computed as
        they are written, so the caller hashes nothing and the bytes are written once (with
        :meth:`put` the caller had to hash them first, and ``put`` hashed them again). Use it
        as a context manager; :meth:`ObjectWriter.commit` stores the object and returns its
        oid, and leaving the block without a commit (or with an exception) keeps nothing.
        ``StorageError(422)`` when more or fewer than ``size`` bytes were written.
        """
        ...

    def delete(self, oid: str) -> None:
        """Remove a stored object; no error when it is already gone (``gc`` may race)."""
        ...

    def path(self, oid: str) -> Path | None:
        """A local file path for a stored object when the backend has one (scanners), else None."""
        ...

    def stat(self, oid: str) -> StoredObject | None:
        """Size and store time of a stored object, or None when it is not stored."""
        ...

    def iter_objects(self) -> Iterator[StoredObject]:
        """Every stored object (in oid order), for ``gc``; things that are not objects of this
        store (foreign files, temporaries) are never listed."""
        ...

    def sweep_temp(self, older_than: float = 24 * 3600) -> int:
        """Remove upload leftovers older than ``older_than`` seconds (a crash's); their count."""
        ...


class ObjectWriter(Protocol):
    """An object being written by :meth:`ObjectStorage.writer`; see there.

    Nobody names the object but the storage, from the sha256 of the bytes written, so no
    caller (and no client) can store bytes under a name they do not hash to.
    """

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Add bytes at the end; ``StorageError(422)`` past the announced size."""
        ...

    def commit(self) -> str:
        """Store the object (atomically: a reader sees it whole or not at all) and return its
        oid, the sha256 of the bytes written. Storing bytes already stored keeps one copy."""
        ...

    def __enter__(self) -> ObjectWriter: ...

    def __exit__(self, *exc: object) -> None:
        """Throw away an object that was not committed."""
        ...


def verify_object(storage: ObjectStorage, oid: str, size: int) -> bool:
    """The LFS ``verify`` action: the object is stored and has the size the client claims.

    The hash needs no re-check here: :meth:`ObjectStorage.put` never keeps a mismatch.
    """
    return storage.get_size(validate_oid(oid)) == validate_size(size)


class FileStorage:
    """:class:`ObjectStorage` on a local (or shared, POSIX) filesystem.

    Layout under ``root`` (``<data>/lfs``): ``objects/<aa>/<bb>/<oid>`` for objects, like
    git-lfs's own client cache, so no directory grows past 256 entries per level; ``tmp/`` for
    uploads in progress, on the same filesystem so that the final ``os.replace`` is atomic.
    The instance holds no state but its root: any number of threads, processes or front ends
    may share one store.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"

    def __repr__(self) -> str:
        return f"FileStorage({str(self.root)!r})"

    def _object_path(self, oid: str) -> Path:
        oid = validate_oid(oid)
        return self.objects_dir / oid[0:2] / oid[2:4] / oid

    def exists(self, oid: str) -> bool:
        return self.get_size(oid) is not None

    def get_size(self, oid: str) -> int | None:
        try:
            return self._object_path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def open(self, oid: str) -> BinaryIO:
        try:
            return self._object_path(oid).open("rb")
        except FileNotFoundError:
            raise StorageError(404, "object not found") from None

    def path(self, oid: str) -> Path | None:
        target = self._object_path(oid)
        return target if target.is_file() else None

    def stat(self, oid: str) -> StoredObject | None:
        try:
            info = self._object_path(oid).stat()
        except FileNotFoundError:
            return None
        return StoredObject(oid, info.st_size, info.st_mtime)

    def iter_objects(self) -> Iterator[StoredObject]:
        """Files named by their oid under ``objects/<aa>/<bb>/``; other names are left alone."""
        root = self.objects_dir
        if not root.is_dir():
            return
        for first in sorted(root.iterdir()):
            if not first.is_dir() or len(first.name) != 2:
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir() or len(second.name) != 2:
                    continue
                for entry in sorted(second.iterdir()):
                    name = entry.name
                    if not (OID_RE.fullmatch(name) and name[0:2] == first.name
                            and name[2:4] == second.name):
                        continue
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        info = entry.lstat()
                        if stat.S_ISREG(info.st_mode):
                            yield StoredObject(name, info.st_size, info.st_mtime)

    def delete(self, oid: str) -> None:
        # Empty <aa>/<bb> folders stay: removing them could race with a concurrent put's
        # rename into the same folder, and there are at most 65,536 of them.
        self._object_path(oid).unlink(missing_ok=True)

    def writer(self, size: int) -> ObjectWriter:
        return _FileWriter(self, validate_size(size))

    def put(self, oid: str, size: int, stream: ByteSource, chunk: int = DEFAULT_CHUNK) -> int:
        target = self._object_path(oid)
        size = validate_size(size)
        if chunk < 1:
            raise ValueError("chunk must be positive")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{oid}.", suffix=".part", dir=self.tmp_dir)
        tmp = Path(tmp_name)
        try:
            try:
                out = _UploadFile(fd, direct=size >= PIPELINE_MIN_BYTES)
                written, digest = _copy_hashing(stream, out, size, chunk)
                check_received(written, digest, size, oid)
            except BaseException:
                os.close(fd)
                raise
            _place(fd, tmp, target)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            _refuse_if_full(err)
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return written

    def sweep_temp(self, older_than: float = 24 * 3600) -> int:
        """Remove upload temporaries older than ``older_than`` seconds (left by a crash).

        For ``modelgit gc``; an age limit keeps it from removing uploads still in progress.
        Returns the number of files removed.
        """
        if not self.tmp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in self.tmp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed


class HashingWriter:
    """What every :class:`ObjectWriter` does alike: bound the bytes by the announced size,
    hash them as they are handed on (from the very buffer handed on, so the name is the
    sha256 of what the backend got), name the object by that hash at :meth:`commit`, and
    keep nothing on any failure (a full disk is a 507). A backend supplies where the bytes
    go (:meth:`_take`), how a named object is stored (:meth:`_store`) and how a half-written
    one is thrown away (:meth:`_release`).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._hasher = hashlib.sha256()
        self._written = 0
        self._open = True

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._discard()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        view = memoryview(data).cast("B")
        if not self._open:
            raise ValueError("this object was already committed or thrown away")
        if self._written + len(view) > self._size:
            raise StorageError(422, f"size mismatch: expected {self._size} bytes,"
                                    " received more")
        self._hasher.update(view)
        try:
            self._take(view)
        except OSError as err:
            self._discard()
            _refuse_if_full(err)
            raise
        self._written += len(view)
        return len(view)

    def commit(self) -> str:
        if not self._open:
            raise ValueError("this object was already committed or thrown away")
        oid = self._hasher.hexdigest()
        try:
            check_received(self._written, oid, self._size, oid)
            self._store(oid)
        except OSError as err:
            self._discard()
            _refuse_if_full(err)
            raise
        except BaseException:
            self._discard()
            raise
        self._discard()
        return oid

    def _discard(self) -> None:
        if self._open:
            self._open = False
            self._release()

    def _take(self, view: memoryview) -> None:
        raise NotImplementedError

    def _store(self, oid: str) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


class _FileWriter(HashingWriter):
    """:class:`ObjectWriter` of the file storage: a temporary file in the store's ``tmp/``,
    fsynced and renamed into place under its sha256 by :meth:`commit`.

    Large objects are written as uploads are (:class:`_UploadFile`): a piece in page-aligned
    memory (a whole xorb, received into an ``mmap`` buffer) goes to disk with direct I/O
    for its aligned part, which took about a third off the server's CPU for a Xet upload
    (1 GiB: 4.6-4.8 s against 2.7-3.4 s); unaligned pieces (the chunks of a rebuilt
    file) go through the page cache with write-behind.
    """

    def __init__(self, storage: FileStorage, size: int) -> None:
        super().__init__(size)
        self._storage = storage
        storage.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._fd: int | None
        self._fd, name = tempfile.mkstemp(prefix="new.", suffix=".part", dir=storage.tmp_dir)
        self._tmp: Path | None = Path(name)
        self._out = _UploadFile(self._fd, direct=size >= PIPELINE_MIN_BYTES)

    def _take(self, view: memoryview) -> None:
        self._out.write(view)

    def _store(self, oid: str) -> None:
        fd, tmp = self._fd, self._tmp
        assert fd is not None and tmp is not None  # open until _release
        self._fd = None  # _place closes it
        _place(fd, tmp, self._storage._object_path(oid))
        self._tmp = None

    def _release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def _place(fd: int, tmp: Path, target: Path) -> None:
    """A temporary file, fully written and verified, becomes the object at ``target``: its
    mode set, its bytes on disk, renamed into place (atomic: a reader sees it whole or not
    at all) and the rename on disk too. Replacing an existing copy is harmless (the same
    verified bytes; open readers keep the old inode) and heals a copy damaged on disk; two
    writers of one object both succeed and leave one file. ``fd`` is closed whatever
    happens; ``tmp`` is the caller's to remove on failure."""
    try:
        os.fchmod(fd, OBJECT_MODE)
        os.fsync(fd)
    finally:
        os.close(fd)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def _refuse_if_full(err: OSError) -> None:
    """A full disk or quota is the server's condition, raised as a 507 for the client; the
    caller raises any other failure as it is."""
    if err.errno in _NO_SPACE:
        raise StorageError(507, "insufficient storage on the server") from err


#: Storage backends by the name ``config.yaml`` gives in ``lfs.storage`` (default ``files``).
BACKENDS: dict[str, Callable[[Config], ObjectStorage]] = {
    "files": lambda cfg: FileStorage(cfg.lfs_dir),
    "s3": lambda cfg: _s3(cfg),
}


def _s3(cfg: Config) -> ObjectStorage:
    """The S3 backend, imported only by a site that uses it (boto3 takes ~0.2 s to load)."""
    from modelgit.lfs.s3 import s3_storage

    return s3_storage(cfg)


def object_size(handle: BinaryIO) -> int:
    """Size of an object opened with :meth:`ObjectStorage.open` (a file or a store's reader),
    found by seeking to its end; the position is left at the start."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    return size


def storage_for(cfg: Config) -> ObjectStorage:
    """The site's LFS object storage: every caller gets it here, never by building a class."""
    name = (cfg.settings.get("lfs") or {}).get("storage") or "files"
    try:
        backend = BACKENDS[str(name)]
    except KeyError:
        raise ValueError(f"lfs.storage: unknown storage {name!r} (known:"
                         f" {', '.join(sorted(BACKENDS))})") from None
    return backend(cfg)


#: What an upload is received into: a reused buffer the caller owns.
_Buffer = bytearray | mmap.mmap


class _Sink(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...


class _UploadFile:
    """The upload's temporary file, written so that the kernel does the least work for it.

    A large upload is written with direct I/O (``O_DIRECT``): the pieces go from the
    storage's page-aligned buffers to the disk without being copied into the page cache,
    which a GiB of weights would only flood. Against buffered writes with write-behind, one
    server alternating per request, 6 PUTs of 1 GiB each: 1.06-1.18 s against 1.32-2.80 s
    (medians 1.14 and 1.48), 1.0 s of server CPU against 1.3; every direct one was faster.
    Direct I/O needs aligned buffers, sizes and offsets (:data:`DIRECT_ALIGN`): of a piece
    whose length is not aligned (the last one) the aligned part still goes direct; its
    rest, a filesystem that refuses ``O_DIRECT``, or a write the kernel refuses as
    unaligned (memory that is not page-aligned) turns it off for the rest of the file, and
    the bytes are written through the page cache.

    Buffered writes are written back as the file grows instead of all at fsync. Without that
    the kernel keeps a whole upload dirty in the page cache (background writeback starts at
    10 % of memory) and the final fsync waits for all of it: ≈ 0.5 s per GiB here, spent idle
    after the last byte arrived. ``POSIX_FADV_DONTNEED`` on a stretch just written starts its
    writeback at once; advised again one stretch later, when it is on disk, its pages are
    dropped, so the fsync finds almost nothing left and the next pieces reuse the pages.
    """

    def __init__(self, fd: int, *, direct: bool) -> None:
        self._fd = fd
        self._written = 0
        self._stretch = 0   # where the stretch now being written started
        self._previous = 0  # where the one before it started (written back by now, mostly)
        self._direct = direct and _set_direct(fd, on=True)

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        view = memoryview(data).cast("B")
        if self._direct and len(view) % DIRECT_ALIGN:
            head = len(view) - len(view) % DIRECT_ALIGN
            if head:  # the aligned part still goes direct; the rest through the page cache
                self.write(view[:head])
                self.write(view[head:])
                return len(view)
            self._end_direct()
        done = 0
        while done < len(view):
            try:
                count = os.write(self._fd, view[done:])
            except OSError as err:
                if self._direct and err.errno == errno.EINVAL:
                    self._end_direct()  # an alignment the device wants and we cannot see
                    continue
                raise
            done += count
            self._written += count
            if self._direct and self._written % DIRECT_ALIGN:
                self._end_direct()
        if not self._direct and self._written - self._stretch >= WRITE_BEHIND_BYTES:
            with contextlib.suppress(AttributeError, OSError):
                os.posix_fadvise(self._fd, self._previous, self._written - self._previous,
                                 os.POSIX_FADV_DONTNEED)
            self._previous, self._stretch = self._stretch, self._written
        return done

    def _end_direct(self) -> None:
        _set_direct(self._fd, on=False)
        self._direct = False
        self._previous = self._stretch = self._written


def _set_direct(fd: int, *, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; whether it is now on. Turning it on may fail
    (a filesystem without direct I/O): then the file stays buffered. Turning it off must not
    fail silently: the next unaligned write would be refused."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        if on:
            return False
        raise
    return on


class _InlinePieces:
    """Pieces written as soon as they are read, through one buffer, on the reading thread: for
    small uploads, where a second thread would cost more than it saves."""

    def __init__(self, out: _Sink, piece: int) -> None:
        self._out = out
        self._buffer = bytearray(piece)

    def take(self) -> _Buffer:
        return self._buffer

    def give(self, buffer: _Buffer, count: int) -> None:
        self._out.write(memoryview(buffer)[:count])

    def finish(self) -> None:
        pass

    def stop(self) -> None:
        pass


class _WriterThread:
    """Pieces written by a second thread, so that the caller can receive and hash the next
    one meanwhile (socket reads, sha256 and file writes all release the GIL, so on two cores
    an upload costs the slowest of them rather than their sum).

    The buffers go round: the caller takes a free one, fills it and gives it with its count;
    the thread writes it and puts it back. There are :data:`PIPELINE_DEPTH` + 2 of them, so
    memory stays at a few MB whatever the size, and a caller ahead of the disk waits in
    :meth:`take`. A failed write is raised by the next :meth:`take` or by :meth:`finish`, so
    the upload stops there; the thread keeps returning buffers, so nothing blocks.
    """

    def __init__(self, out: _Sink, piece: int) -> None:
        self._out = out
        # Anonymous maps: page-aligned, as direct I/O wants of a buffer.
        self._free: queue.SimpleQueue[_Buffer] = queue.SimpleQueue()
        for _ in range(PIPELINE_DEPTH + 2):
            self._free.put(mmap.mmap(-1, piece))
        self._full: queue.Queue[tuple[_Buffer, int] | None] = queue.Queue(
            maxsize=PIPELINE_DEPTH)
        self._failed: list[BaseException] = []
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="modelgit-lfs-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            buffer, count = item
            if not self._failed:
                try:
                    self._out.write(memoryview(buffer)[:count])
                except BaseException as exc:  # handed to the reader, raised there
                    self._failed.append(exc)
            self._free.put(buffer)

    def take(self) -> _Buffer:
        if self._failed:
            raise self._failed[0]
        return self._free.get()

    def give(self, buffer: _Buffer, count: int) -> None:
        self._full.put((buffer, count))

    def finish(self) -> None:
        """Wait until every piece given is written; raise a write's failure."""
        self.stop()
        if self._failed:
            raise self._failed[0]

    def stop(self) -> None:
        """End the thread (also after a failed read: what is queued is written, then it ends)."""
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
            self._thread = None


def check_received(written: int, digest: str, size: int, oid: str) -> None:
    """Refuse an upload whose bytes are not what the batch request announced: the same
    422 answers on every storage."""
    if written != size:
        got = f"received {written}" if written < size else "received more"
        raise StorageError(422, f"size mismatch: expected {size} bytes, {got}")
    if digest != oid:
        raise StorageError(422, "sha256 of the received bytes does not match the oid")


def _copy_hashing(stream: ByteSource, out: _Sink, size: int, chunk: int) -> tuple[int, str]:
    """Copy up to ``size + 1`` bytes from ``stream`` to ``out``; return (count, sha256 hex).

    The one extra byte is how a body longer than announced is noticed without reading an
    unbounded amount from a hostile client. Each piece of up to ``chunk`` bytes is read into a
    reused buffer, hashed there and written from there; objects from
    :data:`PIPELINE_MIN_BYTES` on are written by a :class:`_WriterThread` while this thread
    receives and hashes the next piece.
    """
    limit = size + 1
    piece = min(chunk, limit)
    pieces: _InlinePieces | _WriterThread = (
        _WriterThread(out, piece) if size >= PIPELINE_MIN_BYTES else _InlinePieces(out, piece))
    hasher = hashlib.sha256()
    written = 0
    try:
        while written < limit:
            buffer = pieces.take()
            view = memoryview(buffer)[: min(piece, limit - written)]
            filled = 0
            while filled < len(view):
                count = stream.readinto(view[filled:])
                if not count:
                    break
                filled += count
            if filled:
                hasher.update(view[:filled])
                pieces.give(buffer, filled)
                written += filled
            if filled < len(view):
                break
        pieces.finish()
    finally:
        pieces.stop()
    return written, hasher.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
