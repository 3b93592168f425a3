"""What the server layer promises: bodies reach the app as they arrive (an LFS upload is
written into the store while the client still sends it, not spooled first), chunked bodies
are read to their end within their limit, and proxy headers count only on the unix socket."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, Site, make_site
from tests.helpers.wait import wait_for

MEDIA = "application/vnd.git-lfs+json"


@pytest.fixture(scope="module")
def lfs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = make_site(tmp_path_factory.mktemp("stream"))
    s.start()
    s.user("owner", admin=True)
    s.model("acme/stream", owner="owner")
    yield s
    s.stop()


def _batch_upload(site: Site, oid: str, size: int) -> dict[str, object]:
    body = json.dumps({"operation": "upload", "transfers": ["basic"],
                       "objects": [{"oid": oid, "size": size}]}).encode()
    answer = site.http("POST", "/acme/stream.git/info/lfs/objects/batch", key=site.keys["owner"],
                       user="owner", body=body, headers={"Content-Type": MEDIA, "Accept": MEDIA})
    assert answer.status == 200, answer.body
    obj = json.loads(answer.body)["objects"][0]
    return obj["actions"]["upload"]  # type: ignore[no-any-return]


def test_upload_is_written_to_the_store_while_it_arrives(lfs_site: Site) -> None:
    """Half of a 24 MB PUT is sent, then the client pauses: the half is already in the store's
    temporary file (a server that spools bodies would not have called the app yet). The rest
    follows and the object is stored whole and verified."""
    data = os.urandom(24 * 1024 * 1024)
    oid = hashlib.sha256(data).hexdigest()
    action = _batch_upload(lfs_site, oid, len(data))
    href = urllib.parse.urlsplit(str(action["href"]))
    conn = http.client.HTTPConnection("127.0.0.1", lfs_site.port, timeout=60)
    conn.putrequest("PUT", href.path + (f"?{href.query}" if href.query else ""))
    for name, value in dict(action.get("header") or {}).items():  # type: ignore[call-overload]
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(data)))
    conn.putheader("Content-Type", "application/octet-stream")
    conn.endheaders()
    half = len(data) // 2
    conn.send(data[:half])
    tmp = lfs_site.data / "lfs" / "tmp"
    seen = 0

    def in_the_store() -> bool:
        nonlocal seen
        parts = list(tmp.glob(f"{oid}.*.part")) if tmp.is_dir() else []
        seen = max((p.stat().st_size for p in parts), default=0)
        return seen >= half - (2 << 20)

    wait_for(in_the_store, 20, lambda: f"the first {half} bytes in the store (only {seen})")
    conn.send(data[half:])
    answer = conn.getresponse()
    assert answer.status == 200, answer.read()
    conn.close()
    stored = lfs_site.data / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    assert stored.stat().st_size == len(data)
    assert not list(tmp.glob(f"{oid}.*.part"))


def _chunked_post(port: int, path: str, body: bytes, headers: dict[str, str]
                  ) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, body=iter([body[:10], body[10:]]), headers=headers,
                 encode_chunked=True)
    answer = conn.getresponse()
    out = answer.status, answer.read()
    conn.close()
    return out


def test_chunked_json_body_is_read_whole(lfs_site: Site) -> None:
    """A batch request sent chunked (no Content-Length) is answered like any other."""
    body = json.dumps({"operation": "download", "objects": [{"oid": "0" * 64, "size": 1}]})
    token = base64.b64encode(f"owner:{lfs_site.keys['owner']}".encode()).decode()
    status, answer = _chunked_post(
        lfs_site.port, "/acme/stream.git/info/lfs/objects/batch", body.encode(),
        {"Content-Type": MEDIA, "Accept": MEDIA, "Authorization": f"Basic {token}"})
    assert status == 200, answer
    assert json.loads(answer)["objects"][0]["error"]["code"] == 404


def test_chunked_json_body_over_the_limit_is_refused(lfs_site: Site) -> None:
    huge = b'{"operation": "download", "objects": [' + b" " * (11 * 1024 * 1024) + b"]}"
    token = base64.b64encode(f"owner:{lfs_site.keys['owner']}".encode()).decode()
    status, answer = _chunked_post(
        lfs_site.port, "/acme/stream.git/info/lfs/objects/batch", huge,
        {"Content-Type": MEDIA, "Accept": MEDIA, "Authorization": f"Basic {token}"})
    assert status == 413, answer
    assert b"larger than" in answer


def _unix_get(path: str, sock_path: Path, headers: dict[str, str]) -> tuple[int, bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(sock_path))
        lines = [f"GET {path} HTTP/1.1", "Host: localhost", "Connection: close",
                 *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        sock.sendall("\r\n".join(lines).encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_auth_endpoint_answers_only_on_the_unix_socket(tmp_path: Path) -> None:
    """``/-/auth`` decides for the local web server on the socket; over TCP, even with the
    headers a proxy would add, it does not exist. The socket is not world-writable."""
    site = make_site(tmp_path)
    sock_path = tmp_path / "run" / "modelgit.sock"
    log = open(tmp_path / "serve.log", "ab")  # closed in the finally below
    proc = subprocess.Popen(
        [str(BIN / "modelgit"), "--data", str(site.data), "serve", "--socket", str(sock_path),
         "--port", str(site.port)], stdout=log, stderr=log)
    try:
        def answering() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            return _unix_get("/-/health", sock_path, {})[0] == 200

        # An answer means the server is past its setup, the socket's chmod included.
        wait_for(answering, 20, "modelgit serve to answer on its socket", ignore=(OSError,))
        assert sock_path.stat().st_mode & 0o777 == 0o660
        status, body = _unix_get("/-/auth", sock_path, {
            "X-Original-URI": "/acme/none.git/info/refs?service=git-upload-pack",
            "X-Forwarded-For": "198.51.100.7"})
        assert status == 401, body  # asked for credentials: the socket peer is trusted
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    site.start()
    try:
        answer = site.http("GET", "/-/auth", headers={
            "X-Original-URI": "/acme/none.git/info/refs?service=git-upload-pack",
            "X-Forwarded-For": "198.51.100.7"})
        assert answer.status == 404
    finally:
        site.stop()


# The server receives a Content-Length body straight into the store's buffers (readinto on the
# socket, after what cheroot buffered with the headers). These pin what that must not break:
# the bytes that came with the headers, a second request pipelined behind the body, and a
# client that stops early.

def _raw_put(site: Site, data: bytes) -> bytes:
    """One PUT request (head and body) for ``data``, as bytes, with a fresh upload token."""
    oid = hashlib.sha256(data).hexdigest()
    action = _batch_upload(site, oid, len(data))
    href = urllib.parse.urlsplit(str(action["href"]))
    target = href.path + (f"?{href.query}" if href.query else "")
    headers = {**dict(action.get("header") or {}),  # type: ignore[call-overload]
               "Host": f"127.0.0.1:{site.port}", "Content-Length": str(len(data)),
               "Content-Type": "application/octet-stream"}
    head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + data


def _read_responses(sock: socket.socket, count: int) -> list[int]:
    """Status codes of ``count`` responses read from ``sock`` (bodies skipped by length)."""
    stream = sock.makefile("rb")
    codes = []
    for _ in range(count):
        status = stream.readline()
        length = 0
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        stream.read(length)
        codes.append(int(status.split()[1]))
    return codes


def _stored(site: Site, data: bytes) -> bytes | None:
    oid = hashlib.sha256(data).hexdigest()
    path = site.data / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    return path.read_bytes() if path.exists() else None


def test_pipelined_uploads_on_one_connection_are_each_stored_whole(lfs_site: Site) -> None:
    """Three PUTs sent back to back in one write: each body ends exactly at its
    Content-Length, so the second and third requests are read intact behind it."""
    bodies = [os.urandom(n) for n in (3 * 1024 * 1024 + 17, 100, 9 * 1024 * 1024 + 1)]
    wire = b"".join(_raw_put(lfs_site, body) for body in bodies)
    with socket.create_connection(("127.0.0.1", lfs_site.port), timeout=60) as sock:
        sock.sendall(wire)
        assert _read_responses(sock, 3) == [200, 200, 200]
    assert [_stored(lfs_site, body) for body in bodies] == bodies


def test_body_bytes_sent_with_the_headers_are_kept(lfs_site: Site) -> None:
    """Head and the first bytes in one packet, the rest after a pause: the first bytes,
    which the server read together with the headers, are part of the stored object."""
    data = os.urandom(2 * 1024 * 1024)
    wire = _raw_put(lfs_site, data)
    split = len(wire) - len(data) + 1000
    with socket.create_connection(("127.0.0.1", lfs_site.port), timeout=60) as sock:
        sock.sendall(wire[:split])
        time.sleep(0.3)  # the pause under test: the rest comes in a later packet
        sock.sendall(wire[split:])
        assert _read_responses(sock, 1) == [200]
    assert _stored(lfs_site, data) == data


def test_client_that_stops_early_gets_422_and_nothing_is_kept(lfs_site: Site) -> None:
    """Half a body, then the client closes its sending side: the server sees the end of the
    stream, answers that the size is wrong, and keeps neither object nor temporary file."""
    data = os.urandom(12 * 1024 * 1024)
    wire = _raw_put(lfs_site, data)
    oid = hashlib.sha256(data).hexdigest()
    with socket.create_connection(("127.0.0.1", lfs_site.port), timeout=60) as sock:
        sock.sendall(wire[: len(wire) - len(data) // 2])
        sock.shutdown(socket.SHUT_WR)
        assert _read_responses(sock, 1) == [422]
    assert _stored(lfs_site, data) is None
    assert not list((lfs_site.data / "lfs" / "tmp").glob(f"{oid}.*.part"))


def test_git_request_with_a_malformed_length_is_400(lfs_site: Site) -> None:
    """cheroot takes ``Content-Length: 1_0`` as 10 (Python's ``int``); the git endpoint checks
    the header itself and refuses it before git http-backend starts."""
    token = base64.b64encode(f"owner:{lfs_site.keys['owner']}".encode()).decode()
    head = ("POST /acme/stream.git/git-receive-pack HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{lfs_site.port}\r\nAuthorization: Basic {token}\r\n"
            "Content-Type: application/x-git-receive-pack-request\r\n"
            "Content-Length: 1_0\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", lfs_site.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"0000000000")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"invalid Content-Length" in answer
