"""The fast ``wsgi.input`` on real cheroot readers over a real socket pair: it gives exactly
the body's bytes (what cheroot buffered first), never a byte of what follows the body, and
keeps cheroot's count so that the next request on the connection starts in the right place."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from cheroot import makefile
from cheroot import server as chserver

from modelgit.http.receive import SocketBody


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(10)
    yield ours, theirs
    ours.close()
    theirs.close()


Parts = tuple[SocketBody, chserver.KnownLengthRFile, makefile.StreamReader]


def _body(sock: socket.socket, length: int, head: bytes) -> Parts:
    """Read ``head`` through cheroot's reader, as cheroot reads request headers (which
    buffers whatever arrived after them), then wrap the body of ``length`` bytes."""
    reader = makefile.StreamReader(sock, "rb", 8192)
    assert reader.read(len(head)) == head
    known = chserver.KnownLengthRFile(reader, length)
    return SocketBody(known, reader, sock), known, reader


def _drain(body: SocketBody, piece: int) -> bytes:
    out = bytearray()
    buffer = bytearray(piece)
    while count := body.readinto(memoryview(buffer)):
        out += buffer[:count]
    return bytes(out)


def test_reads_buffered_bytes_then_the_socket_and_stops_at_the_length(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    body = bytes(range(256)) * 400  # 102,400 bytes: some buffered with the head, most not
    theirs.sendall(b"HEAD\r\n" + body[:3000])
    stream, known, reader = _body(ours, len(body), b"HEAD\r\n")
    theirs.sendall(body[3000:] + b"NEXT REQUEST")
    assert _drain(stream, 1 << 20) == body
    assert known.remaining == 0
    assert reader.read(len(b"NEXT REQUEST")) == b"NEXT REQUEST"


def test_a_body_shorter_than_the_buffer_never_takes_what_follows(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Body and next request arrive in one write: neither the buffered path nor the socket
    path may hand out a byte past Content-Length."""
    ours, theirs = pair
    theirs.sendall(b"H\r\n" + b"x" * 10 + b"GET / HTTP/1.1\r\n")
    stream, _, reader = _body(ours, 10, b"H\r\n")
    assert _drain(stream, 4096) == b"x" * 10
    assert reader.readline() == b"GET / HTTP/1.1\r\n"

    # Now with nothing buffered: the whole body comes from recv_into.
    theirs.sendall(b"y" * 7 + b"NEXT")
    known2 = chserver.KnownLengthRFile(reader, 7)
    stream2 = SocketBody(known2, reader, ours)
    assert _drain(stream2, 4096) == b"y" * 7
    assert reader.read(4) == b"NEXT"


def test_early_end_of_stream_is_a_short_body(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.sendall(b"H\r\n" + b"z" * 50)
    stream, known, _ = _body(ours, 1000, b"H\r\n")
    theirs.shutdown(socket.SHUT_WR)
    assert _drain(stream, 64) == b"z" * 50
    assert known.remaining == 950


def test_read_and_readinto_share_one_count(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.sendall(b"H\r\n" + b"abcdefghij" + b"rest")
    stream, known, reader = _body(ours, 10, b"H\r\n")
    assert stream.read(4) == b"abcd"
    assert _drain(stream, 100) == b"efghij"
    assert stream.read(5) == b""
    assert known.remaining == 0
    assert reader.read(4) == b"rest"


def test_cheroot_gateway_gives_it_for_length_bodies_and_keeps_chunked() -> None:
    """On the cheroot that pyproject pins, a PUT with Content-Length gets the fast reader
    (if cheroot's readers changed shape it would silently fall back: this notices) and a
    chunked body keeps cheroot's decoder."""
    import http.client
    import threading

    from cheroot import wsgi

    from modelgit.http.receive import gateway_class

    def probe(environ: dict[str, object], start_response: object) -> list[bytes]:
        stream = environ["wsgi.input"]
        answer = f"{type(stream).__name__} {len(stream.read())}".encode()  # type: ignore[attr-defined]
        start_response("200 OK", [("Content-Length", str(len(answer)))])  # type: ignore[operator]
        return [answer]

    server = wsgi.Server(("127.0.0.1", 0), probe, numthreads=2)
    server.gateway = gateway_class()
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        port = server.bind_addr[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("PUT", "/x", body=b"a" * 5000)
        assert conn.getresponse().read() == b"SocketBody 5000"
        conn.request("PUT", "/x", body=iter([b"b" * 300, b"c" * 200]),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        assert conn.getresponse().read() == b"ChunkedRFile 500"
        conn.close()
    finally:
        server.stop()
        thread.join(10)
