"""HTTP to the target region: plain ``http.client`` (no extra dependency), a new connection
per request, the key only in the ``Authorization`` header of the calls that need it.

Any network failure becomes a :class:`SyncFailure` that names the region, never the key.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from modelgit.sync.failure import SyncFailure, one_line

if TYPE_CHECKING:
    from modelgit.sync.regions import Region

#: Piece size of an LFS upload: the only object memory a transfer holds.
CHUNK = 1 << 20
CONNECT_TIMEOUT = 15.0
IO_TIMEOUT = 300.0
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def message(self) -> str:
        """The target's own words: an LFS/JSON ``message`` or a text body, as one line."""
        text = self.body[:4096].decode("utf-8", "replace")
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                value = json.loads(text)
                if isinstance(value, dict) and value.get("message"):
                    return one_line(str(value["message"]))
            except ValueError:
                pass
        return one_line(text) or f"HTTP {self.status}"


class Target:
    """One region, with the key its calls carry."""

    def __init__(self, region: Region, key: str) -> None:
        self.region = region
        self._key = key

    def url(self, model_id: str, suffix: str) -> str:
        return f"{self.region.url}/{model_id}.git{suffix}"

    def _connect(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SyncFailure(f"region {self.region.name} sent an unusable URL")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            import ssl

            conn = http.client.HTTPSConnection(parts.hostname, parts.port,
                                               timeout=CONNECT_TIMEOUT,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                              timeout=CONNECT_TIMEOUT)
        return conn, path

    def _unreachable(self, exc: BaseException) -> SyncFailure:
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                  else str(exc) or type(exc).__name__)
        return SyncFailure(f"region {self.region.name} ({self.region.url}) is unreachable:"
                           f" {reason}; is its modelgit serve running?")

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None, auth: bool = True,
                limit: int = 1 << 20) -> Answer:
        conn, path = self._connect(url)
        hdrs = dict(headers or {})
        if auth:
            hdrs["Authorization"] = f"Bearer {self._key}"
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(IO_TIMEOUT)
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read(limit))
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()

    def put_stream(self, url: str, headers: dict[str, str], stream: Any, size: int,
                   sent: Callable[[int], None]) -> Answer:
        """PUT ``size`` bytes read from ``stream`` in :data:`CHUNK` pieces."""
        conn, path = self._connect(url)
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(IO_TIMEOUT)
            conn.putrequest("PUT", path, skip_accept_encoding=True)
            for name, value in {**headers, "Content-Type": "application/octet-stream",
                                "Content-Length": str(size)}.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                while True:
                    data = stream.read(CHUNK)
                    if not data:
                        break
                    conn.send(data)
                    sent(len(data))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (a refusal): read what it said
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read(1 << 16))
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()
