"""LFS objects in an S3-compatible object store (SeaweedFS, MinIO, Ceph RGW, AWS S3).

Chosen in ``config.yaml``::

    lfs:
      storage: s3
      s3:
        endpoint: http://10.0.0.5:8333   # the store's S3 address
        bucket: modelgit-lfs             # made beforehand by the store's admin
        region: us-east-1                # what the store signs with (SeaweedFS takes any)
        prefix: ""                       # optional key prefix, e.g. "site-a/"
        credentials_file: /etc/modelgit/s3.json   # optional, see below

The key pair comes from ``credentials_file`` (JSON ``{"access_key_id", "secret_access_key"}``,
readable by the service user only) or else from the environment as boto3 reads it
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``). It is never logged or shown: the
settings' ``repr`` leaves it out, and no URL is logged (a presigned URL is a credential).

Objects from ``lfs.s3.multipart_bytes`` on (5 GiB, S3's single-PUT limit, unless lowered) go
as multipart uploads: each part carries ``x-amz-checksum-sha256`` of its own bytes for the
store to check, and the upload is completed only when modelgit's sha256 of the whole stream
equals the oid, else aborted (see :class:`_Parts`).

Transfers stream through modelgit (docs/operations.md has the figures): the client's PUT is
hashed as it arrives and passed on in the same pieces to a PUT on the store, presigned with
``x-amz-checksum-sha256`` set to the oid. The store computes the sha256 itself and refuses a
mismatch (``BadDigest``), so an object exists in the bucket only with the bytes its name
promises; and modelgit holds back the body's last byte until its own hash matched, so a wrong
upload never completes even on a store that ignored the header. A reader sees a whole,
verified object or none (an S3 PUT is atomic), which is what the file storage's rename gives.

Bytes the server makes itself (:meth:`S3Storage.writer`: a verified Xet xorb, a file rebuilt
from xorbs) have no oid until their last byte: they are spooled and hashed, then sent as any
upload is (see :class:`_SpoolWriter`).

Keys are ``<prefix>objects/<aa>/<bb>/<oid>``, the file storage's layout, so a listing comes
back in oid order and ``gc`` treats both storages alike.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import io
import json
import logging
import os
import queue
import re
import stat
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from modelgit.lfs.storage import (
    DEFAULT_CHUNK,
    OID_RE,
    ByteSource,
    HashingWriter,
    ObjectWriter,
    StorageError,
    StoredObject,
    _copy_hashing,
    check_received,
    validate_oid,
    validate_size,
)

if TYPE_CHECKING:
    from modelgit.config import Config

#: Largest object one S3 PUT may carry (AWS's limit): anything larger must be a multipart
#: upload, so :data:`MULTIPART_BYTES` must stay below it.
MAX_PUT_BYTES = 5 * 1024**3
#: Largest object S3 stores (AWS: 5 TiB); ``lfs.s3.max_object_bytes`` may lower it.
MAX_OBJECT_BYTES = 5 * 1024**4
#: Objects from this size on go as multipart uploads (``lfs.s3.multipart_bytes``); above
#: 5 GiB S3 accepts nothing else. Not lower by default: on SeaweedFS a multipart upload was
#: no faster than one streamed PUT (the store's own CPU is the limit, docs/operations.md) and
#: it holds (:data:`PART_WORKERS` + 1) parts in memory per upload where a PUT holds 6 MiB.
MULTIPART_BYTES = MAX_PUT_BYTES
#: Size of one part (``lfs.s3.part_bytes``), raised for objects that would need more than
#: :data:`MAX_PARTS` of them. Memory per upload: (:data:`PART_WORKERS` + 1) parts.
PART_BYTES = 16 * 1024**2
MAX_PARTS = 10_000
#: Parts sent at once per upload (each on a thread of its own; sha256 and sockets release
#: the GIL). More did not help on two cores.
PART_WORKERS = 2
#: Seconds a presigned PUT that modelgit itself sends stays valid (a slow upload of the
#: largest object must still be inside it when it ends; the signature is checked at the start).
PUT_URL_SECONDS = 3600
#: An object made by :meth:`S3Storage.writer` waits in memory up to this size, beyond it in
#: a temporary file, until its sha256 (its key) is known and it can be sent.
SPOOL_IN_MEMORY = 16 * 1024**2
#: Seconds to connect to the store and to wait on one of its socket reads or writes.
TIMEOUT_SECONDS = 60.0
log = logging.getLogger("modelgit.lfs")

#: What a download reads from the store at once (and buffers for small reads: scanners).
READ_BUFFER = 256 * 1024


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is and how to sign in; hashable, so one boto3 client per process
    serves every ``storage_for`` call with the same settings."""

    endpoint: str
    bucket: str
    region: str = "us-east-1"
    prefix: str = ""
    max_object_bytes: int = MAX_OBJECT_BYTES
    multipart_bytes: int = MULTIPART_BYTES
    part_bytes: int = PART_BYTES
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    #: Where :meth:`S3Storage.writer` spools what does not fit in memory: the data folder's
    #: ``lfs/tmp`` (a 1 GiB file rebuilt from xorbs may not fit a small ``/tmp``).
    spool_dir: str | None = None


def settings_from(cfg: Config) -> S3Settings:
    """``lfs.s3`` of ``config.yaml``, checked; the key pair from its file when one is named."""
    raw = (cfg.settings.get("lfs") or {}).get("s3") or {}
    if not isinstance(raw, dict):
        raise ValueError("lfs.s3: expected a mapping (endpoint, bucket, region, ...)")
    endpoint = str(raw.get("endpoint") or "").rstrip("/")
    bucket = str(raw.get("bucket") or "")
    if urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError("lfs.s3.endpoint: expected the store's http:// or https:// address")
    if not bucket:
        raise ValueError("lfs.s3.bucket: name the bucket the LFS objects go to")
    prefix = str(raw.get("prefix") or "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    multipart = int(raw.get("multipart_bytes") or MULTIPART_BYTES)
    part = int(raw.get("part_bytes") or PART_BYTES)
    if not 0 < multipart <= MAX_PUT_BYTES:
        raise ValueError("lfs.s3.multipart_bytes: expected a size from 1 byte to 5 GiB (one S3"
                         " PUT carries at most 5 GiB)")
    if not 5 * 1024**2 <= part <= MAX_PUT_BYTES:
        raise ValueError("lfs.s3.part_bytes: expected 5 MiB to 5 GiB (S3's part sizes)")
    access_key = secret_key = None
    if raw.get("credentials_file"):
        access_key, secret_key = read_credentials(Path(str(raw["credentials_file"])))
    return S3Settings(endpoint=endpoint, bucket=bucket, region=str(raw.get("region") or
                                                                    "us-east-1"),
                      prefix=prefix, spool_dir=str(cfg.lfs_dir / "tmp"),
                      max_object_bytes=int(raw.get("max_object_bytes") or MAX_OBJECT_BYTES),
                      multipart_bytes=multipart, part_bytes=part,
                      access_key=access_key, secret_key=secret_key)


def read_credentials(path: Path) -> tuple[str, str]:
    """The key pair from a JSON file that only the service user may read (as the LFS token
    secret: anyone holding it reads and writes every model's objects)."""
    with path.open("rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & 0o077 or not stat.S_ISREG(mode):
            raise PermissionError(f"{path}: the S3 credentials file must be a regular file"
                                  f" only its owner may read; run: chmod 600 {path}")
        try:
            data = json.loads(handle.read(64 * 1024))
            return str(data["access_key_id"]), str(data["secret_access_key"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: expected JSON with access_key_id and"
                             " secret_access_key") from None


_clients: dict[S3Settings, Any] = {}
_clients_lock = threading.Lock()


def _client(settings: S3Settings) -> Any:
    """One boto3 client per settings per process (clients are thread-safe; making one costs
    tens of milliseconds, and ``storage_for`` runs on every LFS request)."""
    with _clients_lock:
        found = _clients.get(settings)
        if found is None:
            import boto3
            from botocore.config import Config as BotoConfig

            found = boto3.session.Session().client(
                "s3", endpoint_url=settings.endpoint, region_name=settings.region,
                aws_access_key_id=settings.access_key,
                aws_secret_access_key=settings.secret_key,
                config=BotoConfig(
                    signature_version="s3v4", s3={"addressing_style": "path"},
                    connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS,
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=64,
                    # Only the checksums we set: stores other than AWS may not know CRC32.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required"))
            _clients[settings] = found
        return found


def _status_of(err: Exception) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a botocore failure; (0, "") for a connection failure."""
    response = getattr(err, "response", None) or {}
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return status, str((response.get("Error") or {}).get("Code") or "")


def _unavailable(err: Exception) -> StorageError:
    """The store failed or refused us: the client is told to retry, the log says why (the
    error's code and status only: never a URL, which may carry a signature)."""
    status, code = _status_of(err)
    detail = f"{code or type(err).__name__} ({status})" if status else type(err).__name__
    log.warning("object store: %s", detail)
    return StorageError(503, f"the object store is not available right now ({detail});"
                             " try again in a moment, and tell the site admin if it lasts")


class S3Storage:
    """:class:`~modelgit.lfs.storage.ObjectStorage` on an S3 bucket; holds no state but its
    settings and the process's client, so any number of front ends may share a bucket."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket

    def __repr__(self) -> str:
        return f"S3Storage({self.settings.endpoint!r}, {self.bucket!r})"

    @property
    def client(self) -> Any:
        return _client(self.settings)

    def key(self, oid: str) -> str:
        oid = validate_oid(oid)
        return f"{self.settings.prefix}objects/{oid[0:2]}/{oid[2:4]}/{oid}"

    # -- reading ------------------------------------------------------------------
    def stat(self, oid: str) -> StoredObject | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(oid))
        except Exception as err:
            if _status_of(err)[0] == 404:
                return None
            raise _unavailable(err) from err
        return StoredObject(oid, int(head["ContentLength"]), head["LastModified"].timestamp())

    def get_size(self, oid: str) -> int | None:
        found = self.stat(oid)
        return None if found is None else found.size

    def exists(self, oid: str) -> bool:
        return self.stat(oid) is not None

    def path(self, oid: str) -> Path | None:
        validate_oid(oid)
        return None

    def open(self, oid: str) -> BinaryIO:
        found = self.stat(oid)
        if found is None:
            raise StorageError(404, "object not found")
        raw = _ObjectReader(self.client, self.bucket, self.key(oid), found.size)
        return io.BufferedReader(raw, READ_BUFFER)

    def iter_objects(self) -> Iterator[StoredObject]:
        """Keys shaped ``objects/<aa>/<bb>/<oid>`` under the prefix; anything else is left
        alone (another tool's keys in a shared bucket)."""
        start = f"{self.settings.prefix}objects/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start)
        try:
            for page in pages:
                for item in page.get("Contents") or ():
                    rest = str(item["Key"])[len(start):]
                    first, _, tail = rest.partition("/")
                    second, _, name = tail.partition("/")
                    if OID_RE.fullmatch(name) and name[0:2] == first and name[2:4] == second:
                        yield StoredObject(name, int(item["Size"]),
                                           item["LastModified"].timestamp())
        except StorageError:
            raise
        except Exception as err:
            raise _unavailable(err) from err

    # -- writing ------------------------------------------------------------------
    def delete(self, oid: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))
        except Exception as err:
            if _status_of(err)[0] != 404:
                raise _unavailable(err) from err

    def sweep_temp(self, older_than: float = 24 * 3600) -> int:
        """Nothing to sweep: an S3 PUT that does not complete leaves nothing behind."""
        return 0

    def writer(self, size: int) -> ObjectWriter:
        size = validate_size(size)
        self._check_size(size)
        return _SpoolWriter(self, size)

    def _check_size(self, size: int) -> None:
        if size > self.settings.max_object_bytes:
            raise StorageError(413, f"object too large for this site's object store: at most"
                                    f" {self.settings.max_object_bytes} bytes per object")

    def put(self, oid: str, size: int, stream: ByteSource, chunk: int = DEFAULT_CHUNK) -> int:
        key = self.key(oid)
        size = validate_size(size)
        if chunk < 1:
            raise ValueError("chunk must be positive")
        self._check_size(size)
        if size >= self.settings.multipart_bytes:
            return self._put_multipart(oid, key, size, stream, chunk)
        checksum = base64.b64encode(bytes.fromhex(oid)).decode("ascii")
        try:
            url = self.client.generate_presigned_url(
                "put_object", ExpiresIn=PUT_URL_SECONDS,
                Params={"Bucket": self.bucket, "Key": key, "ContentLength": size,
                        "ChecksumSHA256": checksum})
        except Exception as err:
            raise _unavailable(err) from err
        upload = _Upload(url, size, checksum)
        try:
            written, digest = _copy_hashing(stream, upload, size, chunk)
            check_received(written, digest, size, oid)
            upload.finish()
        finally:
            upload.close()
        return written

    def _put_multipart(self, oid: str, key: str, size: int, stream: ByteSource,
                       chunk: int) -> int:
        """A multipart upload, completed only once modelgit's own sha256 of every byte it
        received equals the oid; any failure aborts it, and the store keeps nothing."""
        part = max(self.settings.part_bytes, -(-size // MAX_PARTS))
        part = -(-part // (1024 * 1024)) * 1024 * 1024  # whole MiB
        try:
            started = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256")
        except Exception as err:
            raise _unavailable(err) from err
        upload = _Parts(self.client, self.bucket, key, str(started["UploadId"]), size, part)
        try:
            written, digest = _copy_hashing(stream, upload, size, chunk)
            check_received(written, digest, size, oid)
            upload.complete()
        except BaseException:
            upload.abort()
            raise
        return written


class _SpoolWriter(HashingWriter):
    """:class:`~modelgit.lfs.storage.ObjectWriter` of the S3 storage.

    A PUT names its key (the oid) before its first byte, and the oid of bytes the server
    makes is known only after the last one: so the bytes wait in a spool (memory up to
    :data:`SPOOL_IN_MEMORY`, then a private temporary file) and are hashed as they arrive.
    :meth:`commit` sends them with :meth:`S3Storage.put`, which hashes them once more on the
    way out and sends the sha256 as ``x-amz-checksum-sha256``: spooled bytes that changed
    before being sent are refused by modelgit even on a store that ignored the header. On
    this backend the bytes are thus hashed twice (the file storage hashes them once).
    """

    def __init__(self, storage: S3Storage, size: int) -> None:
        super().__init__(size)
        self._storage = storage
        spool_dir = storage.settings.spool_dir
        if spool_dir is not None:
            Path(spool_dir).mkdir(parents=True, exist_ok=True)
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=spool_dir)

    def _take(self, view: memoryview) -> None:
        self._spool.write(view)

    def _store(self, oid: str) -> None:
        self._spool.seek(0)
        self._storage.put(oid, self._size, self._spool)

    def _release(self) -> None:
        self._spool.close()


class _Parts:
    """The sink of a multipart upload: received bytes fill a part buffer; a full one goes to
    the store on a worker thread (:data:`PART_WORKERS` at once) while the next fills.

    Each part is sent with ``x-amz-checksum-sha256`` of its own bytes, so the store refuses a
    part damaged on the way (``BadDigest``); the object's own sha256 (its oid) is modelgit's
    to check, over the whole stream, before :meth:`complete`: S3 has no whole-object sha256
    for multipart uploads, only a sha256 of the parts' sha256s.
    """

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str, size: int,
                 part: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._client = client
        self._where = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        self._size = size
        self._part = part
        self._received = 0
        self._pool = ThreadPoolExecutor(PART_WORKERS, thread_name_prefix="modelgit-s3-part")
        # Buffers go round: one filling, the others being sent; take() waits for a free one.
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(min(PART_WORKERS + 1, -(-size // part))):
            self._free.put(bytearray(part))
        self._buffer: bytearray | None = None
        self._filled = 0
        self._futures: list[Future[dict[str, Any]]] = []

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        view = memoryview(data).cast("B")
        if self._received + len(view) > self._size:
            raise StorageError(422, f"size mismatch: expected {self._size} bytes,"
                                    " received more")
        done = 0
        while done < len(view):
            self._raise_failed()
            if self._buffer is None:
                self._buffer = self._free.get()
                self._filled = 0
            count = min(len(view) - done, self._part - self._filled)
            self._buffer[self._filled:self._filled + count] = view[done:done + count]
            self._filled += count
            done += count
            if self._filled == self._part:
                self._send()
        self._received += len(view)
        return len(view)

    def _raise_failed(self) -> None:
        for future in self._futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def _send(self) -> None:
        buffer, count, number = self._buffer, self._filled, len(self._futures) + 1
        if buffer is None:
            return
        self._buffer, self._filled = None, 0
        self._futures.append(self._pool.submit(self._upload, buffer, count, number))

    def _upload(self, buffer: bytearray, count: int, number: int) -> dict[str, Any]:
        try:
            body = memoryview(buffer)[:count]
            checksum = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
            try:
                answer = self._client.upload_part(
                    **self._where, PartNumber=number, Body=bytes(body) if count < len(buffer)
                    else buffer, ContentLength=count, ChecksumSHA256=checksum)
            except Exception as err:
                raise _unavailable(err) from err
            return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}
        finally:
            self._free.put(buffer)

    def complete(self) -> None:
        if self._filled or not self._futures:
            if self._buffer is None:
                self._buffer, self._filled = self._free.get(), 0
            self._send()
        parts = [future.result() for future in self._futures]
        self._pool.shutdown()
        try:
            self._client.complete_multipart_upload(**self._where,
                                                   MultipartUpload={"Parts": parts})
        except Exception as err:
            raise _unavailable(err) from err

    def abort(self) -> None:
        """Stop the parts and tell the store to drop the ones it has (a store that misses
        this, e.g. down, keeps them until its incomplete-upload lifecycle rule runs)."""
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)
        try:
            self._client.abort_multipart_upload(**self._where)
        except Exception as err:
            log.warning("object store: could not abort a multipart upload: %s",
                        _status_of(err)[1] or type(err).__name__)


class _Upload:
    """One presigned PUT to the store, sent as the client's bytes arrive, except the last
    byte: it goes only in :meth:`finish`, after the hash was checked, so a wrong or short
    body leaves the store's request incomplete, and an incomplete PUT stores nothing."""

    def __init__(self, url: str, size: int, checksum: str) -> None:
        self._url = urllib.parse.urlsplit(url)
        self._size = size
        self._checksum = checksum
        self._sent = 0
        self._held = b""
        self._conn: http.client.HTTPConnection | None = None

    def _start(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = (http.client.HTTPSConnection if self._url.scheme == "https"
                    else http.client.HTTPConnection)
            conn = kind(self._url.netloc, timeout=TIMEOUT_SECONDS)
            try:
                conn.putrequest("PUT", f"{self._url.path}?{self._url.query}",
                                skip_accept_encoding=True)
                conn.putheader("Content-Length", str(self._size))
                conn.putheader("x-amz-checksum-sha256", self._checksum)
                conn.endheaders()
            except OSError as err:
                conn.close()
                raise _unavailable(err) from err
            self._conn = conn
        return self._conn

    def write(self, data: bytes | memoryview, /) -> int:
        view = memoryview(data).cast("B")
        room = self._size - 1 - self._sent  # all but the last byte may go now
        if len(view) > room + 1:
            raise StorageError(422, f"size mismatch: expected {self._size} bytes,"
                                    " received more")
        now = view[:max(room, 0)]
        if len(now):
            try:
                self._start().sock.sendall(now)
            except OSError as err:
                raise _unavailable(err) from err
            self._sent += len(now)
        if len(view) > len(now):
            self._held = bytes(view[len(now):])
        return len(view)

    def finish(self) -> None:
        """Send the held byte and read the store's answer; anything but 200 is a failure."""
        conn = self._start()
        try:
            if self._held:
                conn.send(self._held)
            answer = conn.getresponse()
            body = answer.read(64 * 1024)
        except OSError as err:
            raise _unavailable(err) from err
        if answer.status == 200:
            return
        if answer.status == 400 and b"BadDigest" in body:
            raise StorageError(422, "sha256 of the received bytes does not match the oid")
        found = re.search(rb"<Code>([A-Za-z]{1,64})</Code>", body)
        log.warning("object store refused a PUT: %s (%d)",
                    found.group(1).decode() if found else "no error code", answer.status)
        raise StorageError(503, f"the object store refused the object ({answer.status});"
                                " try again in a moment, and tell the site admin if it lasts")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None


class _ObjectReader(io.RawIOBase):
    """A stored object as a seekable raw file: one ranged GET from the current position,
    read on while the reads are sequential (a download: one request in all), started again
    after a seek (a scanner jumping in a zip)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self.size = size
        self._pos = 0
        self._body: Any = None
        self._body_pos = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.size - self._pos)
        if want <= 0:
            return 0
        if self._body is None or self._body_pos != self._pos:
            self._drop()
            try:
                answer = self._client.get_object(Bucket=self._bucket, Key=self._key,
                                                 Range=f"bytes={self._pos}-")
            except Exception as err:
                raise _unavailable(err) from err
            self._body = answer["Body"]
            self._body_pos = self._pos
        raw = getattr(self._body, "_raw_stream", None)
        try:
            if raw is not None and hasattr(raw, "readinto"):
                count = int(raw.readinto(view[:want]) or 0)
            else:
                data = self._body.read(want)
                count = len(data)
                view[:count] = data
        except Exception as err:
            self._drop()
            raise _unavailable(err) from err
        if count == 0:
            self._drop()
            raise StorageError(503, "the object store ended an object early; try again")
        self._pos += count
        self._body_pos = self._pos
        return count

    def _drop(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
        self._body = None
        self._body_pos = -1

    def close(self) -> None:
        self._drop()
        super().close()


def s3_storage(cfg: Config) -> S3Storage:
    return S3Storage(settings_from(cfg))
