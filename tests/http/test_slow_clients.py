"""Slow clients hold no thread (issue 18, finding 8): a request head has one deadline in all,
connections per client address are bounded, and a probe answers at once during an attack
with more slow connections than the server has threads (32). Loopback only: 127.0.0.x
addresses stand for different clients."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_SETTINGS, Site, make_site
from tests.helpers.wait import wait_for

HEAD_SECONDS = 3
PER_ADDRESS = 16
HEAD = b"GET /-/health HTTP/1.1\r\nHost: modelgit\r\n"


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("slow"), settings={
        **TEST_SETTINGS,
        "http": {"head_seconds": HEAD_SECONDS, "max_connections_per_address": PER_ADDRESS}})
    site.start()
    yield site
    site.stop()


def _connect(site: Site, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", site.port), timeout=5,
                                    source_address=(source, 0))


def _probe(site: Site, source: str, timeout: float = 10) -> float:
    """Seconds for a whole GET /-/health from ``source`` (raises if it does not answer 200)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        conn.request("GET", "/-/health")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"ok\n"
    finally:
        conn.close()
    return time.monotonic() - started


def _closed_by_server(sock: socket.socket, wait: float) -> bytes | None:
    """What the server sent before closing within ``wait`` seconds; None if still open."""
    sock.settimeout(wait)
    got = b""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return got
            got += data
    except TimeoutError:
        return None
    except OSError:
        return got


def test_probe_answers_during_a_slow_header_attack(slow: Site) -> None:
    attackers = [f"127.0.0.{n}" for n in (21, 22, 23)]
    socks: list[socket.socket] = []
    try:
        for source in attackers:  # 3 x 20 connections: 48 served (> 32 threads), 12 waiting
            for _ in range(PER_ADDRESS + 4):
                sock = _connect(slow, source)
                sock.sendall(HEAD)
                socks.append(sock)
        started = time.monotonic()
        slowest = 0.0
        line = 0
        while time.monotonic() - started < 2 * HEAD_SECONDS - 0.5:
            line += 1
            for sock in socks:  # a header line each, well within any per-recv timeout
                try:
                    sock.sendall(b"X-Slow-%d: 1\r\n" % line)
                except OSError:
                    pass
            slowest = max(slowest, _probe(slow, "127.0.0.30"))
            time.sleep(0.4)  # the attack's pace: a header line every 0.4 s, never the end
        assert slowest < 1.0, f"a probe took {slowest:.2f} s during the attack"
        # The server closes every slow connection at its head deadline: the served ones
        # HEAD_SECONDS after their accept, the waiting ones HEAD_SECONDS after they got a
        # place; none was answered (there was never a whole head to answer).
        until = started + 2 * HEAD_SECONDS + 3
        answers = [_closed_by_server(s, max(0.1, until - time.monotonic())) for s in socks]
        assert None not in answers, "a slow connection outlived the head deadline"
        assert set(answers) == {b""}
    finally:
        for sock in socks:
            sock.close()
    assert _probe(slow, attackers[0]) < 1.0  # their places are free again


def test_connections_per_address(slow: Site) -> None:
    """Idle connections count too: 16 served, 16 more wait (and are served when a place
    frees), the next is refused with a 429 at once; other addresses are not concerned."""
    source = "127.0.0.40"
    started = time.monotonic()
    held = [_connect(slow, source) for _ in range(PER_ADDRESS)]
    waiting = [_connect(slow, source) for _ in range(PER_ADDRESS)]
    try:
        extra = _connect(slow, source)
        answer = _closed_by_server(extra, 1)
        assert answer is not None and answer.startswith(b"HTTP/1.1 429"), answer
        assert b"too many connections" in answer
        extra.close()
        assert _probe(slow, "127.0.0.41") < 1.0
        waiting[0].sendall(HEAD + b"Connection: close\r\n\r\n")
        assert _closed_by_server(waiting[0], 0.5) is None, "answered before it had a place"
        held[0].close()
        answer = _closed_by_server(waiting[0], 2)
        assert answer is not None and answer.startswith(b"HTTP/1.1 200"), answer
        assert time.monotonic() - started < HEAD_SECONDS, "too slow to tell: rerun"
    finally:
        for sock in held + waiting:
            sock.close()

    def served_again() -> bool:  # _probe raises until then
        _probe(slow, source, timeout=2)
        return True

    # The server notices the closes on its next look at the sockets.
    wait_for(served_again, 5, "the places to be given back", ignore=(AssertionError, OSError))


def test_slow_steady_body_is_not_cut_by_the_head_deadline(slow: Site) -> None:
    """An LFS upload whose body takes twice the head deadline goes through: the deadline
    covers the head only."""
    key = slow.user("uploader")
    model = slow.model("slow/m")
    slow.cli("grant", model, "uploader", "developer")
    data = bytes(range(256)) * 4096  # 1 MiB
    oid = hashlib.sha256(data).hexdigest()
    media = "application/vnd.git-lfs+json"
    batch = slow.http("POST", f"/{model}.git/info/lfs/objects/batch", key=key, user="uploader",
                      body=json.dumps({"operation": "upload", "objects": [
                          {"oid": oid, "size": len(data)}]}).encode(),
                      headers={"Content-Type": media, "Accept": media})
    assert batch.status == 200, batch.body
    put = json.loads(batch.body)["objects"][0]["actions"]["upload"]
    href = urlsplit(put["href"])
    conn = http.client.HTTPConnection("127.0.0.1", slow.port, timeout=30)
    conn.putrequest("PUT", href.path + (f"?{href.query}" if href.query else ""))
    for name, value in {**put["header"], "Content-Length": str(len(data)),
                        "Content-Type": "application/octet-stream"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    started = time.monotonic()
    pieces = 16
    step = len(data) // pieces
    for i in range(pieces):  # 2 x HEAD_SECONDS in all, steadily
        conn.send(data[i * step:(i + 1) * step])
        time.sleep(2 * HEAD_SECONDS / pieces)  # the slow, steady sender under test
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert time.monotonic() - started > HEAD_SECONDS
    assert resp.status == 200, body


def test_server_stops_with_connections_waiting(tmp_path_factory: pytest.TempPathFactory
                                               ) -> None:
    """Stopping closes served and waiting connections alike, and does not hang."""
    site = make_site(tmp_path_factory.mktemp("stop"), settings={
        **TEST_SETTINGS, "http": {"max_connections_per_address": 2}})
    site.start()
    socks = [_connect(site, "127.0.0.50") for _ in range(4)]
    try:
        _probe(site, "127.0.0.51")
        assert site.proc is not None
        started = time.monotonic()
        site.proc.terminate()
        site.proc.wait(timeout=15)
        assert time.monotonic() - started < 12
    finally:
        for sock in socks:
            sock.close()
        site.stop()
