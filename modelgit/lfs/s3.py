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

Transfers stream through modelgit (docs/operations.md has the figures): the client's PUT is
hashed as it arrives and passed on in the same pieces to a PUT on the store, presigned with
``x-amz-checksum-sha256`` set to the oid. The store computes the sha256 itself and refuses a
mismatch (``BadDigest``), so an object exists in the bucket only with the bytes its name
promises; and modelgit holds back the body's last byte until its own hash matched, so a wrong
upload never completes even on a store that ignored the header. A reader sees a whole,
verified object or none (an S3 PUT is atomic), which is what the file storage's rename gives.

Keys are ``<prefix>objects/<aa>/<bb>/<oid>``, the file storage's layout, so a listing comes
back in oid order and ``gc`` treats both storages alike.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import logging
import os
import re
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from modelgit.lfs.storage import (
    DEFAULT_CHUNK,
    OID_RE,
    ByteSource,
    StorageError,
    StoredObject,
    _copy_hashing,
    validate_oid,
    validate_size,
)

if TYPE_CHECKING:
    from modelgit.config import Config

#: Largest object one S3 PUT may carry (AWS's limit; a larger one needs a multipart upload,
#: which this backend does not do). ``lfs.s3.max_object_bytes`` may lower or raise it for a
#: store that allows more.
MAX_PUT_BYTES = 5 * 1024**3
#: Seconds a presigned PUT that modelgit itself sends stays valid (a slow upload of the
#: largest object must still be inside it when it ends; the signature is checked at the start).
PUT_URL_SECONDS = 3600
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
    max_object_bytes: int = MAX_PUT_BYTES
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)


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
    access_key = secret_key = None
    if raw.get("credentials_file"):
        access_key, secret_key = read_credentials(Path(str(raw["credentials_file"])))
    return S3Settings(endpoint=endpoint, bucket=bucket, region=str(raw.get("region") or
                                                                    "us-east-1"),
                      prefix=prefix,
                      max_object_bytes=int(raw.get("max_object_bytes") or MAX_PUT_BYTES),
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

    def put(self, oid: str, size: int, stream: ByteSource, chunk: int = DEFAULT_CHUNK) -> int:
        key = self.key(oid)
        size = validate_size(size)
        if chunk < 1:
            raise ValueError("chunk must be positive")
        if size > self.settings.max_object_bytes:
            raise StorageError(413, f"object too large for this site's object store: at most"
                                    f" {self.settings.max_object_bytes} bytes per object")
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
            if written != size:
                got = f"received {written}" if written < size else "received more"
                raise StorageError(422, f"size mismatch: expected {size} bytes, {got}")
            if digest != oid:
                raise StorageError(422, "sha256 of the received bytes does not match the oid")
            upload.finish()
        finally:
            upload.close()
        return written


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
