"""Slow clients hold no thread: cheroot's connections, with the request head read before a
thread is given and a bound on connections per client address.

cheroot hands a new connection to a worker thread as soon as it is accepted, and the thread
then blocks reading the request line and headers, each ``recv`` with the 60 s socket timeout.
Forty connections that send a header line every few seconds held all 32 threads, and every
other request waited behind them (issue 18, finding 8). Here:

* a connection waits in cheroot's selector (a file descriptor, no thread) until its whole
  request head has arrived: each time it is readable the selector thread takes what is there
  without blocking (``recv`` on a non-blocking socket) into the connection's read buffer, and
  only a complete head (or one cheroot will refuse anyway: too long, or a bare LF) goes to a
  worker, which then parses it from memory;
* the head has ``http.head_seconds`` (default 10) in all, from the connection's accept (or,
  on a kept-alive connection, from the next request's first byte): cheroot's own
  expiry sweep closes a connection whose head is not complete by then. The body is not
  covered: once the head is in, the body streams at the socket's pace with the 60 s per
  ``recv`` timeout, so a large, slow but steady LFS upload goes through;
* at most ``http.max_connections_per_address`` (default 16; 0 for no limit) connections from
  one client address are served at once. The next ones wait, unread (a file descriptor each,
  no thread, no buffer), for one of the address's connections to close - a CI runner or a
  NAT with a burst of parallel clones is slowed, not refused - and past as many again
  waiting, a connection is answered 429 and closed. Connections on the unix socket (the
  local web server) and from ``http.trusted_proxies`` (a load balancer) are not counted.
  The count is this process's own on purpose: it guards this process's threads, and behind
  a load balancer each front end has its own.

What this leans on in cheroot (11.x): ``HTTPServer.process_conn`` (called for a new or a
readable connection, and by ``ConnectionManager.put`` for one with buffered bytes),
``ConnectionClass``, ``put_conn``, the manager's ``_selector`` and ``_expire`` (which closes
connections whose ``last_used`` is older than the server's timeout), and the read buffer of
cheroot's ``StreamReader`` (``_pyio.BufferedReader._read_buf``/``_read_pos``, which cheroot's
own ``has_data`` reads). tests/http/test_slow_clients.py checks the behaviour end to end.
"""

from __future__ import annotations

import collections
import re
import selectors
import threading
import time
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi

#: Seconds for a whole request head (request line and headers), not per ``recv``.
HEAD_SECONDS = 10.0
#: Open connections one client address may have at once (git-lfs uses 8 for transfers).
MAX_CONNECTIONS_PER_ADDRESS = 16
#: The most taken from a socket in one non-blocking read while waiting for a head.
_READ_PIECE = 64 * 1024
#: A line ending without its CR: cheroot refuses it as soon as it reads that line, so the
#: head need not be waited for.
_BARE_LF = re.compile(rb"(?<!\r)\n")
_REFUSAL = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nRetry-After: 5\r\nContent-Length: %d\r\n\r\n%b")


def head_complete(data: bytes, limit: int) -> bool:
    """Whether a worker can parse ``data``'s request head without waiting for the client."""
    if not data:
        return False
    if b"\r\n\r\n" in data or len(data) >= limit:
        return True
    return _BARE_LF.search(data) is not None


class Admission:
    """Connections per client address: served (``limit``) and waiting for a place (as many
    again). Thread-safe: connections are accepted in the selector thread and closed in the
    workers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._waiting: dict[str, collections.deque[Any]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str, conn: Any) -> str:
        """``"serve"``, ``"wait"`` (kept until :meth:`release` hands it back) or ``"refuse"``."""
        with self._lock:
            count = self._open.get(address, 0)
            if self.limit <= 0 or count < self.limit:
                self._open[address] = count + 1
                return "serve"
            queue = self._waiting.setdefault(address, collections.deque())
            if len(queue) >= self.limit:
                return "refuse"
            queue.append(conn)
            return "wait"

    def release(self, address: str) -> Any:
        """A served connection closed: the waiting connection that takes its place, if any."""
        with self._lock:
            queue = self._waiting.get(address)
            if queue:
                conn = queue.popleft()
                if not queue:
                    del self._waiting[address]
                return conn  # the place passes to it: the count stays
            count = self._open.get(address, 0) - 1
            if count > 0:
                self._open[address] = count
            else:
                self._open.pop(address, None)
            return None

    def open_from(self, address: str) -> int:
        with self._lock:
            return self._open.get(address, 0)


class GuardedConnection(cheroot_server.HTTPConnection):
    """A connection that knows whether it was just accepted, when its head is due, and
    whether it holds one of its address's places."""

    def __init__(self, server: Any, sock: Any, makefile: Any = None) -> None:
        if makefile is None:
            super().__init__(server, sock)
        else:
            super().__init__(server, sock, makefile)
        self.fresh = True
        self.head_deadline: float | None = None
        self.admitted_as: str | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            address, self.admitted_as = self.admitted_as, None
            if address is not None:
                successor = self.server.admission.release(address)
                if successor is not None:
                    self.server.start_waiting(successor, address)


class GuardedServer(wsgi.Server):
    """cheroot's WSGI server with the request head read in the selector, under a deadline,
    and a bound on connections per client address."""

    ConnectionClass = GuardedConnection

    def __init__(self, *args: Any, head_seconds: float = HEAD_SECONDS,
                 max_per_address: int = MAX_CONNECTIONS_PER_ADDRESS,
                 trusted: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trusted = trusted
        self.head_seconds = float(head_seconds)
        self.admission = Admission(int(max_per_address))

    # cheroot calls this for a new connection, for one the selector saw readable, and (from
    # ConnectionManager.put, in a worker) for a kept-alive one with bytes already buffered.
    def process_conn(self, conn: Any) -> None:
        if getattr(conn, "fresh", False):
            conn.fresh = False
            if not self._admit(conn):
                return
            # No bytes yet: wait in the selector, not in a thread; the head is due
            # head_seconds after the connection was accepted.
            conn.head_deadline = time.time() + self.head_seconds
            self._wait(conn)
            return
        rfile = conn.rfile
        buffered = bytes(rfile._read_buf[rfile._read_pos:])
        limit = int(self.max_request_header_size) or 1 << 20
        if not head_complete(buffered, limit):
            data = _read_now(conn.socket)
            if data == b"":  # the client closed (or the socket failed)
                conn.close()
                return
            if data:
                buffered += data
                rfile._read_buf, rfile._read_pos = buffered, 0
            if not head_complete(buffered, limit):
                if buffered and conn.head_deadline is None:
                    conn.head_deadline = time.time() + self.head_seconds
                self._wait(conn)
                return
        conn.head_deadline = None
        super().process_conn(conn)

    def put_conn(self, conn: Any) -> None:
        """A kept-alive connection back from a worker: its next head has a clock of its own."""
        conn.head_deadline = None
        super().put_conn(conn)

    def start_waiting(self, conn: Any, address: str) -> None:
        """A connection that waited for a place has one: its head is due from now.

        Not while stopping: cheroot then closes its connections while holding the selector's
        lock, which registering would take again."""
        conn.admitted_as = address
        if not self.ready:
            conn.close()
            return
        conn.head_deadline = time.time() + self.head_seconds
        self._wait(conn)

    def _admit(self, conn: Any) -> bool:
        address = conn.remote_addr
        if not isinstance(address, str) or not address or address in self.trusted:
            # the unix socket or a trusted load balancer: one peer for many clients
            return True
        verdict = self.admission.admit(address, conn)
        if verdict == "serve":
            conn.admitted_as = address
            return True
        if verdict == "wait":
            return False  # Admission holds it; release() hands it to start_waiting()
        message = (f"modelgit: too many connections from {address} at once ({self.admission.limit}"
                   f" served and {self.admission.limit} waiting); close some and try"
                   " again\n").encode()
        try:
            conn.socket.setblocking(False)
            conn.socket.send(_REFUSAL % (len(message), message))
        except OSError:
            pass
        conn.close()
        return False

    def _wait(self, conn: Any) -> None:
        """Back into the selector until more bytes come; expired (closed by cheroot's sweep)
        at the head's deadline, or after the keep-alive timeout when no head has begun."""
        manager: Any = getattr(self, "_connections")  # noqa: B009 - cheroot's, not in its stubs
        now = time.time()
        if conn.head_deadline is None:
            conn.last_used = now
        else:
            # _expire closes what was last used before now - timeout: i.e. after the deadline.
            conn.last_used = conn.head_deadline - float(self.timeout)
        try:
            manager._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)
        except (OSError, ValueError, KeyError):
            conn.close()


def _read_now(sock: Any) -> bytes | None:
    """What the socket has now, without waiting: bytes, None (nothing yet) or b"" (closed)."""
    timeout = sock.gettimeout()
    try:
        sock.settimeout(0)
        return bytes(sock.recv(_READ_PIECE))
    except BlockingIOError:
        return None
    except OSError:
        return b""
    finally:
        try:
            sock.settimeout(timeout)
        except OSError:
            pass
