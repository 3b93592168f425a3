"""The storage contract every LFS backend must pass, run here against FileStorage.

A new backend (S3-compatible, docs/architecture.md) adds one subclass of :class:`StorageContract`
with a ``storage`` fixture and a ``leftovers`` method; no test here may assume a filesystem except
through ``leftovers``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelgit import config as config_mod
from modelgit.lfs.storage import (
    OID_RE,
    PIPELINE_MIN_BYTES,
    FileStorage,
    ObjectStorage,
    StorageError,
    storage_for,
    validate_oid,
    validate_size,
    verify_object,
)
from tests.conftest import sha256_file
from tests.helpers.streams import GeneratedStream, generated_oid

REPO = Path(__file__).resolve().parents[2]


def oid_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_and_read_back(storage: ObjectStorage, pieces: list[Any]) -> tuple[bytes, str]:
    """Write ``pieces`` through ``writer()``; check the oid and the stored bytes."""
    data = b"".join(bytes(piece) for piece in pieces)
    with storage.writer(len(data)) as out:
        for piece in pieces:
            assert out.write(piece) == len(piece)
        oid = out.commit()
    assert oid == oid_of(data)
    with storage.open(oid) as handle:
        assert handle.read() == data
    return data, oid


class FailingStream(io.RawIOBase):
    """Gives some bytes, then fails like a client that hangs up mid-upload."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.data:
            n = min(len(buffer), len(self.data))
            buffer[:n], self.data = self.data[:n], self.data[n:]
            return n
        raise ConnectionResetError("client went away")


HOSTILE_OIDS: list[object] = [
    "../x",
    "../" + "a" * 61,
    "A" * 64,
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "a" * 63 + "\n",
    "a" * 64 + "\n",
    "/" + "a" * 63,
    "aa/" + "a" * 61,
    " " + "a" * 63,
    "",
    None,
    123,
    b"a" * 64,
]


class StorageContract:
    """Behaviour required of every :class:`ObjectStorage`."""

    @pytest.fixture
    def storage(self) -> ObjectStorage:
        raise NotImplementedError

    def leftovers(self, storage: ObjectStorage) -> list[str]:
        """Every stored thing (objects, temporaries) by name, to prove nothing is left."""
        raise NotImplementedError

    def put_bytes(self, storage: ObjectStorage, data: bytes) -> str:
        oid = oid_of(data)
        assert storage.put(oid, len(data), io.BytesIO(data)) == len(data)
        return oid

    def test_is_an_object_storage(self, storage: ObjectStorage) -> None:
        assert isinstance(storage, ObjectStorage)

    def test_round_trip(self, storage: ObjectStorage) -> None:
        data = os.urandom(3 * 1024 + 7)
        oid = oid_of(data)
        assert not storage.exists(oid)
        assert storage.get_size(oid) is None
        assert storage.put(oid, len(data), io.BytesIO(data), chunk=1000) == len(data)
        assert storage.exists(oid)
        assert storage.get_size(oid) == len(data)
        with storage.open(oid) as handle:
            assert handle.read() == data
        assert verify_object(storage, oid, len(data))
        assert not verify_object(storage, oid, len(data) + 1)

    def test_open_is_seekable_for_range(self, storage: ObjectStorage) -> None:
        data = bytes(range(256)) * 10
        oid = self.put_bytes(storage, data)
        with storage.open(oid) as handle:
            handle.seek(1000)
            assert handle.read(10) == data[1000:1010]

    def test_empty_object(self, storage: ObjectStorage) -> None:
        oid = self.put_bytes(storage, b"")
        assert storage.get_size(oid) == 0
        with storage.open(oid) as handle:
            assert handle.read() == b""

    def test_open_missing_is_404(self, storage: ObjectStorage) -> None:
        with pytest.raises(StorageError) as err:
            storage.open(oid_of(b"never stored"))
        assert err.value.status == 404

    def test_delete(self, storage: ObjectStorage) -> None:
        oid = self.put_bytes(storage, b"to be deleted")
        storage.delete(oid)
        assert not storage.exists(oid)
        assert storage.path(oid) is None
        storage.delete(oid)  # already gone: no error
        assert self.leftovers(storage) == []

    def test_stat_and_listing(self, storage: ObjectStorage) -> None:
        assert list(storage.iter_objects()) == []
        before = time.time() - 5
        oids = sorted(self.put_bytes(storage, data) for data in (b"one", b"three", b""))
        listed = list(storage.iter_objects())
        assert [item.oid for item in listed] == oids
        for item in listed:
            assert storage.stat(item.oid) == item
            assert item.size == storage.get_size(item.oid)
            assert before <= item.mtime <= time.time() + 5
        assert storage.stat(oid_of(b"never stored")) is None

    def test_deleted_object_leaves_the_listing(self, storage: ObjectStorage) -> None:
        keep = self.put_bytes(storage, b"keep")
        gone = self.put_bytes(storage, b"gone")
        storage.delete(gone)
        assert [item.oid for item in storage.iter_objects()] == [keep]
        assert storage.stat(gone) is None

    def test_upload_in_progress_is_not_listed(self, storage: ObjectStorage) -> None:
        class Stalled(io.RawIOBase):
            """Gives a few bytes, then looks at the listing mid-upload, then fails."""

            def __init__(self) -> None:
                self.calls = 0
                self.seen: list[str] | None = None

            def readinto(self, buffer: Any) -> int:
                self.calls += 1
                if self.calls == 1:
                    buffer[:3] = b"abc"
                    return 3
                self.seen = [item.oid for item in storage.iter_objects()]
                raise OSError("client went away")

        stream = Stalled()
        with pytest.raises(OSError):
            storage.put(oid_of(b"abcdef"), 6, stream)  # type: ignore[arg-type]
        assert stream.seen == []
        assert list(storage.iter_objects()) == []

    def test_sweep_temp_counts_what_it_removed(self, storage: ObjectStorage) -> None:
        self.put_bytes(storage, b"an object is never swept")
        assert storage.sweep_temp(older_than=0) == 0
        assert len(list(storage.iter_objects())) == 1

    @pytest.mark.parametrize(
        ("claimed_size", "why"), [(9, "too short"), (11, "too long"), (0, "empty claim")]
    )
    def test_wrong_size_is_422_and_nothing_kept(
        self, storage: ObjectStorage, claimed_size: int, why: str
    ) -> None:
        data = b"0123456789"
        with pytest.raises(StorageError) as err:
            storage.put(oid_of(data), claimed_size, io.BytesIO(data))
        assert err.value.status == 422, why
        assert "size" in err.value.message
        assert not storage.exists(oid_of(data))
        assert self.leftovers(storage) == []

    def test_stream_shorter_than_size_is_422(self, storage: ObjectStorage) -> None:
        data = b"0123456789"
        with pytest.raises(StorageError) as err:
            storage.put(oid_of(data + b"x"), 11, io.BytesIO(data))
        assert err.value.status == 422
        assert self.leftovers(storage) == []

    def test_wrong_hash_is_422_and_nothing_kept(self, storage: ObjectStorage) -> None:
        data = b"the real bytes"
        claimed = oid_of(b"other bytes")
        with pytest.raises(StorageError) as err:
            storage.put(claimed, len(data), io.BytesIO(data))
        assert err.value.status == 422
        assert "sha256" in err.value.message
        assert not storage.exists(claimed)
        assert not storage.exists(oid_of(data))
        assert self.leftovers(storage) == []

    def test_wrong_bytes_for_existing_object_keep_the_good_copy(
        self, storage: ObjectStorage
    ) -> None:
        data = b"good bytes"
        oid = self.put_bytes(storage, data)
        with pytest.raises(StorageError):
            storage.put(oid, len(data), io.BytesIO(b"evil bytes"))
        with storage.open(oid) as handle:
            assert handle.read() == data
        assert len(self.leftovers(storage)) == 1

    def test_put_existing_object_verifies_and_keeps_one(self, storage: ObjectStorage) -> None:
        data = b"same bytes twice"
        oid = self.put_bytes(storage, data)
        assert self.put_bytes(storage, data) == oid
        assert len(self.leftovers(storage)) == 1

    # writer(): bytes the server makes itself, named by the storage from what it wrote.
    def test_writer_names_the_object_by_the_sha256_of_its_bytes(
        self, storage: ObjectStorage
    ) -> None:
        pieces = [os.urandom(1000), b"", bytearray(os.urandom(70_000)),
                  memoryview(os.urandom(3000))[7:2007]]
        data, oid = write_and_read_back(storage, pieces)
        assert len(self.leftovers(storage)) == 1
        with storage.writer(len(data)) as again:  # the same bytes again: one copy
            again.write(data)
            assert again.commit() == oid
        assert len(self.leftovers(storage)) == 1

    def test_writer_of_page_aligned_pieces_of_any_length_keeps_every_byte(
        self, storage: ObjectStorage
    ) -> None:
        """A large object written from page-aligned memory (a received xorb) goes to disk
        with direct I/O for the aligned part of each piece and through the page cache for
        the rest; whatever the lengths, the object holds exactly the bytes given."""
        import mmap

        lengths = [9 * 1024 * 1024 + 123, 4096 * 3, 777, 2 * 1024 * 1024, 5]
        pieces = []
        for length in lengths:
            buffer = mmap.mmap(-1, length + 4096)  # page-aligned, as received xorbs are
            buffer[:length] = os.urandom(length)
            pieces.append(memoryview(buffer)[:length])
        write_and_read_back(storage, pieces)

    def test_writer_not_committed_keeps_nothing(self, storage: ObjectStorage) -> None:
        data = os.urandom(5000)
        with storage.writer(len(data)) as out:
            out.write(data)
        with pytest.raises(RuntimeError), storage.writer(len(data)) as failing:
            failing.write(data[:100])
            raise RuntimeError("the caller gave up")
        assert not storage.exists(oid_of(data))
        assert self.leftovers(storage) == []

    def test_writer_of_the_wrong_size_is_422_and_keeps_nothing(
        self, storage: ObjectStorage
    ) -> None:
        data = b"0123456789"
        with pytest.raises(StorageError) as short, storage.writer(11) as out:
            out.write(data)
            out.commit()
        assert short.value.status == 422 and "size" in short.value.message
        with pytest.raises(StorageError) as long, storage.writer(9) as out:
            out.write(data)
        assert long.value.status == 422
        with pytest.raises(StorageError) as bad:
            storage.writer(-1)
        assert bad.value.status == 422
        assert not storage.exists(oid_of(data))
        assert self.leftovers(storage) == []

    def test_failing_stream_leaves_nothing(self, storage: ObjectStorage) -> None:
        data = os.urandom(5000)
        with pytest.raises(ConnectionResetError):
            storage.put(oid_of(data), len(data), FailingStream(data[:2000]), chunk=500)  # type: ignore[arg-type]
        assert not storage.exists(oid_of(data))
        assert self.leftovers(storage) == []

    @pytest.mark.parametrize("size", [-1, True, False, 1.0, "10", None, 2**64])
    def test_invalid_size_refused(self, storage: ObjectStorage, size: object) -> None:
        with pytest.raises(StorageError) as err:
            storage.put(oid_of(b""), size, io.BytesIO(b""))  # type: ignore[arg-type]
        assert err.value.status == 422
        assert self.leftovers(storage) == []

    @pytest.mark.parametrize("oid", HOSTILE_OIDS, ids=repr)
    def test_hostile_oids_refused_everywhere(self, storage: ObjectStorage, oid: object) -> None:
        bad: Any = oid  # deliberately the wrong type for some cases
        calls: list[Callable[[], object]] = [
            lambda: storage.exists(bad),
            lambda: storage.get_size(bad),
            lambda: storage.open(bad),
            lambda: storage.delete(bad),
            lambda: storage.path(bad),
            lambda: storage.stat(bad),
            lambda: storage.put(bad, 1, io.BytesIO(b"x")),
        ]
        for call in calls:
            with pytest.raises(StorageError) as err:
                call()
            assert err.value.status == 422
        assert self.leftovers(storage) == []

    def test_concurrent_puts_of_one_object_all_succeed(self, storage: ObjectStorage) -> None:
        data = os.urandom(4 * 1024 * 1024)
        oid = oid_of(data)
        workers = 6
        barrier = threading.Barrier(workers)
        results: list[int] = []
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                barrier.wait()
                results.append(storage.put(oid, len(data), io.BytesIO(data), chunk=64 * 1024))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=upload) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert results == [len(data)] * workers
        assert len(self.leftovers(storage)) == 1
        with storage.open(oid) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == oid

    def test_streaming_memory_is_flat(self, storage: ObjectStorage) -> None:
        size = 300 * 1024 * 1024
        oid = generated_oid(size)
        tracemalloc.start()
        try:
            written = storage.put(oid, size, GeneratedStream(size))  # type: ignore[arg-type]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert written == size
        assert storage.get_size(oid) == size
        assert peak < 20 * 1024 * 1024, f"peak Python allocations {peak / 2**20:.1f} MiB"


class TestFileStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> FileStorage:
        return FileStorage(tmp_path / "lfs")

    def leftovers(self, storage: ObjectStorage) -> list[str]:
        assert isinstance(storage, FileStorage)
        if not storage.root.exists():
            return []
        return sorted(
            str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if not p.is_dir()
        )

    def test_layout_and_mode(self, storage: FileStorage) -> None:
        data = b"layout"
        oid = self.put_bytes(storage, data)
        expected = storage.root / "objects" / oid[:2] / oid[2:4] / oid
        assert storage.path(oid) == expected
        assert expected.read_bytes() == data
        assert stat.S_IMODE(expected.stat().st_mode) == 0o640

    def test_temporaries_live_in_the_store(self, storage: FileStorage) -> None:
        """The temporary file sits under the store's root, so the rename cannot cross devices."""
        data = os.urandom(4096)
        oid = oid_of(data)
        seen: list[Path] = []

        class Spy(io.BytesIO):
            def readinto(self, buffer: Any) -> int:
                seen.extend(storage.tmp_dir.iterdir())
                return super().readinto(buffer)

        storage.put(oid, len(data), Spy(data), chunk=1024)
        assert seen and all(p.parent == storage.tmp_dir for p in seen)
        assert self.leftovers(storage) == [f"objects/{oid[:2]}/{oid[2:4]}/{oid}"]

    def test_full_disk_is_507_and_nothing_kept(
        self, storage: FileStorage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)
        data = b"does not fit"
        with pytest.raises(StorageError) as err:
            storage.put(oid_of(data), len(data), io.BytesIO(data))
        assert err.value.status == 507
        assert self.leftovers(storage) == []

    def test_writer_on_a_full_disk_is_507_and_keeps_nothing(
        self, storage: FileStorage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)
        with pytest.raises(StorageError) as err, storage.writer(12) as out:
            out.write(b"does not fit")
            out.commit()
        assert err.value.status == 507
        assert self.leftovers(storage) == []

    def test_writer_temporaries_live_in_the_store(self, storage: FileStorage) -> None:
        """Written in the store's own tmp/ and renamed into place: never copied."""
        with storage.writer(6) as out:
            out.write(b"abc")
            assert [p.parent for p in storage.tmp_dir.iterdir()] == [storage.tmp_dir]
            out.write(b"def")
            oid = out.commit()
        assert self.leftovers(storage) == [f"objects/{oid[:2]}/{oid[2:4]}/{oid}"]
        assert stat.S_IMODE(storage.root.joinpath(self.leftovers(storage)[0]).stat().st_mode) \
            == 0o640

    # Objects from PIPELINE_MIN_BYTES on are written by a second thread while the next
    # piece is read: the same promises must hold there.
    def test_big_object_round_trip(self, storage: FileStorage) -> None:
        size = PIPELINE_MIN_BYTES * 2 + 12345
        oid = generated_oid(size)
        assert storage.put(oid, size, GeneratedStream(size)) == size  # type: ignore[arg-type]
        assert sha256_file(storage.root / "objects" / oid[:2] / oid[2:4] / oid) == oid

    def test_big_object_in_unaligned_pieces_round_trip(self, storage: FileStorage) -> None:
        """Pieces that direct I/O cannot take (not a multiple of a block) are written through
        the page cache instead, from the first one on."""
        size = PIPELINE_MIN_BYTES + 4096 * 3
        oid = generated_oid(size)
        assert storage.put(oid, size, GeneratedStream(size), chunk=100_003) == size  # type: ignore[arg-type]
        assert sha256_file(storage.root / "objects" / oid[:2] / oid[2:4] / oid) == oid

    def test_big_upload_does_not_fill_the_page_cache(self, storage: FileStorage) -> None:
        """A large upload goes to disk with direct I/O: afterwards at most its unaligned tail
        is in the page cache, not the tens of MiB a buffered write leaves there (a GiB of
        weights would push the repositories out)."""
        probe = storage.root / "probe"
        storage.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        except OSError:
            pytest.skip(f"the filesystem of {storage.root} has no direct I/O")
        finally:
            os.close(fd)
            probe.unlink()
        size = 5 * PIPELINE_MIN_BYTES + 777
        oid = generated_oid(size)
        storage.put(oid, size, GeneratedStream(size))  # type: ignore[arg-type]
        path = storage.root / "objects" / oid[:2] / oid[2:4] / oid
        resident = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES",
                                   str(path)], capture_output=True, text=True, check=True)
        assert int(resident.stdout.strip()) <= 1024 * 1024, resident.stdout

    def test_direct_io_refused_midway_falls_back_to_buffered(
        self, storage: FileStorage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A device that refuses our alignment (EINVAL on a direct write, after O_DIRECT was
        accepted at open) costs speed, not the upload."""
        real_write = os.write
        refused: list[int] = []

        def picky_write(fd: int, data: Any) -> int:
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
                refused.append(fd)
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", picky_write)
        size = 2 * PIPELINE_MIN_BYTES
        oid = generated_oid(size)
        assert storage.put(oid, size, GeneratedStream(size)) == size  # type: ignore[arg-type]
        monkeypatch.undo()
        assert refused, "the upload never tried direct I/O"
        assert sha256_file(storage.root / "objects" / oid[:2] / oid[2:4] / oid) == oid

    def test_big_object_wrong_hash_or_size_keeps_nothing(self, storage: FileStorage) -> None:
        size = PIPELINE_MIN_BYTES * 2
        with pytest.raises(StorageError) as err:
            storage.put("ab" * 32, size, GeneratedStream(size))  # type: ignore[arg-type]
        assert err.value.status == 422 and "sha256" in err.value.message
        with pytest.raises(StorageError) as err:
            storage.put(generated_oid(size), size - 1, GeneratedStream(size))  # type: ignore[arg-type]
        assert err.value.status == 422 and "size" in err.value.message
        assert self.leftovers(storage) == []

    def test_big_object_client_hangs_up_keeps_nothing(self, storage: FileStorage) -> None:
        data = os.urandom(PIPELINE_MIN_BYTES * 2)
        with pytest.raises(ConnectionResetError):
            storage.put(oid_of(data), len(data), FailingStream(data[: len(data) // 2]))  # type: ignore[arg-type]
        assert self.leftovers(storage) == []
        assert not any(t.name == "modelgit-lfs-write" for t in threading.enumerate())

    def test_big_object_write_failure_is_raised_and_keeps_nothing(self, tmp_path: Path) -> None:
        """A write that fails in the writer thread (here the file-size limit, a real EFBIG
        from the kernel, in a child process) stops the upload: the error reaches the caller,
        nothing hangs, and no file is left."""
        script = textwrap.dedent(f"""
            import errno, resource, signal, sys
            sys.path.insert(0, {str(REPO)!r})
            from tests.helpers.streams import GeneratedStream, generated_oid
            from modelgit.lfs.storage import FileStorage, PIPELINE_MIN_BYTES
            size = PIPELINE_MIN_BYTES * 3
            oid = generated_oid(size)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (PIPELINE_MIN_BYTES, PIPELINE_MIN_BYTES))
            try:
                FileStorage({str(tmp_path / "lfs")!r}).put(oid, size, GeneratedStream(size))
            except OSError as exc:
                sys.exit(0 if exc.errno == errno.EFBIG else 3)
            sys.exit(2)
        """)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert [p for p in (tmp_path / "lfs").rglob("*") if p.is_file()] == []

    def test_sweep_temp_removes_only_old_files(self, storage: FileStorage) -> None:
        storage.tmp_dir.mkdir(parents=True)
        old = storage.tmp_dir / "old.part"
        new = storage.tmp_dir / "new.part"
        old.write_bytes(b"x")
        new.write_bytes(b"y")
        os.utime(old, (1, 1))
        assert storage.sweep_temp(older_than=3600) == 1
        assert not old.exists()
        assert new.exists()

    def test_sweep_temp_without_folder(self, storage: FileStorage) -> None:
        assert storage.sweep_temp() == 0

    def test_listing_leaves_foreign_files_alone(self, storage: FileStorage) -> None:
        oid = self.put_bytes(storage, b"real")
        folder = storage.objects_dir / oid[:2] / oid[2:4]
        (folder / "README").write_text("not an object")
        misplaced = oid_of(b"misplaced")
        (folder / misplaced).write_bytes(b"misplaced")  # an oid in the wrong folder
        (folder / oid_of(b"a folder")).mkdir()
        (storage.objects_dir / "zz").write_text("a file where a folder belongs")
        assert [item.oid for item in storage.iter_objects()] == [oid]

    def test_storage_for_gives_the_site_storage(self, tmp_path: Path) -> None:
        cfg = config_mod.Config(data_dir=tmp_path)
        storage = storage_for(cfg)
        assert isinstance(storage, ObjectStorage)
        assert isinstance(storage, FileStorage) and storage.root == cfg.lfs_dir
        odd = config_mod.Config(data_dir=tmp_path, settings={"lfs": {"storage": "tape"}})
        with pytest.raises(ValueError, match="tape"):
            storage_for(odd)

    def test_delete_does_not_follow_oid_outside_root(self, tmp_path: Path) -> None:
        victim = tmp_path / "victim"
        victim.write_bytes(b"keep me")
        storage = FileStorage(tmp_path / "lfs")
        with pytest.raises(StorageError):
            storage.delete("../../../victim")
        assert victim.read_bytes() == b"keep me"


def test_validate_oid_accepts_exactly_lowercase_sha256_hex() -> None:
    good = oid_of(b"x")
    assert validate_oid(good) == good
    assert OID_RE.match(good)
    for bad in HOSTILE_OIDS:
        with pytest.raises(StorageError):
            validate_oid(bad)


def test_validate_size() -> None:
    assert validate_size(0) == 0
    assert validate_size(2**40) == 2**40
    for bad in (-1, True, 1.5, "1", None):
        with pytest.raises(StorageError) as err:
            validate_size(bad)
        assert err.value.status == 422
