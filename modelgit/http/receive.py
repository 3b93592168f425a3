"""A ``wsgi.input`` for cheroot that receives a request body straight into the caller's buffer.

cheroot reads request bodies through ``_pyio.BufferedReader``, pure Python: every ``read(n)``
allocates a fresh ``bytes`` and copies what ``recv`` gave into it, so a 1 GiB LFS upload cost
one more copy of every byte and ~14 % of the server's CPU on top of the socket's own copy
(``perf``, last session). An upload is read into buffers that the storage reuses, so this
object adds ``readinto``: what cheroot has already buffered (the bytes that arrived with the
headers) comes first, then ``socket.recv_into`` fills the buffer with no copy in Python.

cheroot keeps counting: every byte taken here is subtracted from its ``KnownLengthRFile``'s
``remaining``, which is what cheroot reads (and drains) after the app returns, so keep-alive
requests on the same connection start where this body ended. ``read`` and ``readline`` go
through cheroot unchanged. Installed by :func:`install` only for plain sockets (TCP or unix)
and bodies with a Content-Length; TLS and chunked bodies keep cheroot's reader.

The other way, a file body (:class:`~modelgit.http.responses.FileSpan`: an LFS object, a
xorb range) is sent with ``sendfile(2)`` by the same gateway (:func:`send_span`).
"""

from __future__ import annotations

from typing import Any


class SocketBody:
    """``wsgi.input`` with ``readinto`` from the socket; the rest is cheroot's ``rfile``."""

    def __init__(self, known: Any, buffered: Any, sock: Any) -> None:
        self._known = known        # cheroot.server.KnownLengthRFile: .remaining, .read
        self._buffered = buffered  # cheroot.makefile.StreamReader: .has_data, .read1
        self._sock = sock

    def readinto(self, buffer: memoryview, /) -> int:
        """Fill up to ``len(buffer)`` bytes of the body; 0 at its end or when the client
        closed the connection early (the caller then sees a short body)."""
        remaining = int(self._known.remaining)
        if remaining <= 0 or not len(buffer):
            return 0
        view = buffer[:remaining]
        if self._buffered.has_data():
            # Only what is buffered already: read1 makes no socket call while data is there.
            data = self._buffered.read1(len(view))
            count = len(data)
            view[:count] = data
        else:
            count = self._sock.recv_into(view)
        self._known.remaining = remaining - count
        return int(count)

    def read(self, size: int | None = None) -> bytes:
        return bytes(self._known.read(size))

    def readline(self, size: int | None = None) -> bytes:
        return bytes(self._known.readline(size))

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        return list(self._known.readlines(sizehint))

    def __iter__(self) -> Any:
        return iter(self._known)

    def close(self) -> None:
        self._known.close()


def socket_body(req: Any) -> SocketBody | None:
    """The fast ``wsgi.input`` for cheroot request ``req``, or None to keep cheroot's own.

    Every condition is checked on the actual objects, so a cheroot that changes its readers
    falls back to the slower, correct path instead of reading past what it buffered.
    """
    from cheroot import makefile
    from cheroot import server as chserver

    known = getattr(req, "rfile", None)
    conn = getattr(req, "conn", None)
    buffered = getattr(conn, "rfile", None)
    sock = getattr(conn, "socket", None)
    if type(known) is not chserver.KnownLengthRFile or known.rfile is not buffered:
        return None
    if not isinstance(buffered, makefile.StreamReader) or req.server.ssl_adapter is not None:
        return None
    if not (hasattr(buffered, "has_data") and hasattr(sock, "recv_into")):
        return None
    return SocketBody(known, buffered, sock)


def send_span(gateway: Any, span: Any) -> bool:
    """Send a :class:`~modelgit.http.responses.FileSpan` with ``sendfile(2)``; False (nothing
    sent) where that does not fit: TLS, a chunked answer, a HEAD, a handle that is no real
    file (S3), or a declared Content-Length other than the span's.

    ``socket.sendfile`` waits for the socket as a blocking send would, under the connection's
    timeout. Should the file end early (it cannot for a verified object), the connection is
    closed rather than reused, since the client was promised more bytes.
    """
    import io

    req = gateway.req
    if req.server.ssl_adapter is not None:
        return False
    if str(gateway.env.get("REQUEST_METHOD", "")).upper() == "HEAD":
        return False
    if gateway.remaining_bytes_out != span.length:
        return False
    try:
        span.handle.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    sock = req.conn.socket
    if not hasattr(sock, "sendfile"):
        return False
    req.ensure_headers_sent()  # cheroot writes (and flushes) the head through its wfile
    if req.chunked_write:  # not with a Content-Length; cheroot's own writes then
        return False
    sent = sock.sendfile(span.handle, span.first, span.length) if span.length else 0
    gateway.remaining_bytes_out -= sent
    if sent != span.length:
        req.close_connection = True
    return True


def gateway_class() -> type:
    """cheroot's WSGI 1.0 gateway, with :class:`SocketBody` as ``wsgi.input`` where it fits
    and file bodies sent with ``sendfile(2)`` (:func:`send_span`)."""
    from cheroot import wsgi

    from modelgit.http.responses import FileSpan

    class Gateway(wsgi.Gateway_10):
        def get_environ(self) -> Any:  # cheroot's stubs say it returns None; it is a dict
            environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
            body = socket_body(self.req)
            if body is not None:
                environ["wsgi.input"] = body
            return environ

        def respond(self) -> None:
            """cheroot's own loop (``Gateway.respond``), with a file body handed to
            :func:`send_span` first."""
            response = self.req.server.wsgi_app(self.env, self.start_response)
            try:
                if isinstance(response, FileSpan) and send_span(self, response):
                    return
                for chunk in filter(None, response):
                    if not isinstance(chunk, bytes):
                        raise ValueError("WSGI Applications must yield bytes")
                    self.write(chunk)
            finally:
                self.req.ensure_headers_sent()
                if hasattr(response, "close"):
                    response.close()

    return Gateway
