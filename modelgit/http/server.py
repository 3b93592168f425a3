"""``modelgit serve``: the WSGI app on cheroot.

cheroot (CherryPy's server, from PyPI, pure Python) hands the request body to the app as it
arrives on the socket, so an LFS upload is hashed and written once, straight into the store's
temporary file, and a push is copied into git http-backend while git still sends it. waitress,
used before, buffers every body larger than 512 KB to a temporary file before the app starts:
one extra write and read of every upload (an LFS PUT ran at ~0.3x the disk's speed). Threads
serve concurrent git requests; idle keep-alive connections wait in cheroot's selector, not in a
thread; chunked bodies are decoded (git sends large packs chunked) and ``Expect: 100-continue``
is answered.

The server layer is also where the peer is established, because only it knows the socket:
:func:`peer_middleware` marks requests that came through the unix socket (nginx's
auth_request and proxy) and takes the client's address from ``X-Forwarded-For`` there only.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from modelgit import urls
from modelgit.config import Config
from modelgit.http.app import App
from modelgit.http.receive import gateway_class
from modelgit.http.request import UNIX_SOCKET_KEY
from modelgit.store import Store
from modelgit.urls import LISTEN_URL_KEY, http_url, reachable_host

THREADS = 32
#: Seconds a blocked socket read or write may take before the connection is dropped (a client
#: that stopped sending in the middle of an upload); idle keep-alive connections are closed
#: after it too. The request head has its own, shorter deadline in all (``http.head_seconds``,
#: modelgit/http/admission.py), read before any thread is given. nginx's defaults for
#: the same (client_header_timeout, client_body_timeout, send_timeout) are 60 s.
SOCKET_TIMEOUT = 60
MAX_HEADER_BYTES = 256 * 1024
#: At most this much of a refused request's unread body is read and dropped, so that the
#: client, still sending, gets to read the refusal instead of a reset connection.
DRAIN_BYTES = 64 * 1024 * 1024
# What only a proxy may say about the client; dropped from every request that did not come
# through the socket. cheroot's peer credentials (REMOTE_USER, X_REMOTE_*) are off, and
# dropped too: nothing from the connection may look like an authenticated user.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO",
                  "HTTP_X_REAL_IP", "HTTP_FORWARDED")
_SERVER_IDENTITY = ("REMOTE_USER", "X_REMOTE_PID", "X_REMOTE_UID", "X_REMOTE_GID",
                    "X_REMOTE_USER", "X_REMOTE_GROUP")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def peer_middleware(app: WSGIApp, *, unix_socket: bool, listen_url: str = "",
                    trusted_proxies: frozenset[str] = frozenset()) -> WSGIApp:
    """Set REMOTE_ADDR and the socket mark from what the connection proves, nothing else;
    after a refusal, read what is left of the request body; tell the app where it listens
    (``listen_url``, for links when a request has no usable Host header).

    On the unix socket every peer is the local web server: the client's address is the last
    entry of ``X-Forwarded-For`` (the one the proxy appended), so the brute-force brake counts
    real clients, not the proxy. On TCP the client is the peer, and proxy headers are dropped,
    unless the peer is one of ``trusted_proxies`` (``http.trusted_proxies``: the load balancer
    of several front ends on other machines), which is then treated as the unix socket is.

    A streaming server answers before the body has arrived. If the app refused the request
    without reading its body (413, a 401/403 on a chunked upload, a 500) and the connection were
    closed with bytes unread, the kernel would reset it and git or git-lfs would print
    "broken pipe" instead of our message. So up to :data:`DRAIN_BYTES` are read and dropped.
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for key in _SERVER_IDENTITY:
            environ.pop(key, None)
        environ.pop(UNIX_SOCKET_KEY, None)
        environ[LISTEN_URL_KEY] = listen_url
        if unix_socket or environ.get("REMOTE_ADDR") in trusted_proxies:
            forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            environ["REMOTE_ADDR"] = last or "local"
            environ["REMOTE_PORT"] = ""
            environ[UNIX_SOCKET_KEY] = True
        else:
            for key in _PROXY_HEADERS:
                environ.pop(key, None)
        status: list[str] = []

        def remember(code: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *exc)

        body = app(environ, remember)
        if status and status[-1][:1] in ("4", "5"):
            _drain(environ.get("wsgi.input"))
        return body

    return wrapped


def _drain(stream: Any) -> None:
    if stream is None:
        return
    left = DRAIN_BYTES
    try:
        while left > 0:
            data = stream.read(min(left, 256 * 1024))
            if not data:
                return
            left -= len(data)
    except (OSError, ValueError):
        return  # the client went away: nothing to answer


def setup_logging(cfg: Config) -> None:
    root = logging.getLogger("modelgit")
    if root.handlers:
        return
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    root.addHandler(stream)
    try:
        cfg.log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(cfg.log_dir / "server.log")
        file_handler.setFormatter(fmt)
        root.addHandler(file_handler)
    except OSError:
        pass
    root.setLevel(logging.INFO)


def make_server(cfg: Config, *, host: str | None = None, port: int | None = None,
                socket: str | None = None) -> Any:
    """A bound (not yet serving) cheroot server for the app: the port or socket is taken
    before anything else starts, so a second ``modelgit serve`` fails at once."""
    from modelgit.http.admission import GuardedServer

    store = Store(cfg.store_target)
    store.check_schema()
    app = App(cfg, store)
    bind: str | tuple[str, int]
    if socket:
        Path(socket).parent.mkdir(parents=True, exist_ok=True)
        Path(socket).unlink(missing_ok=True)
        bind = socket
    else:
        bind = (host or str(cfg.get("host")), int(cfg.get("port") if port is None else port))
    # Request heads are read before a thread is given, under one deadline, and connections
    # per client address are bounded (modelgit/http/admission.py): slow clients hold no thread.
    server = GuardedServer(bind, app, numthreads=THREADS, server_name="modelgit",
                           request_queue_size=1024, timeout=SOCKET_TIMEOUT, shutdown_timeout=10,
                           head_seconds=float(cfg.get("http.head_seconds")),
                           max_per_address=int(cfg.get("http.max_connections_per_address")),
                           trusted=trusted_proxies(cfg))
    server.gateway = gateway_class()
    server.max_request_body_size = int(cfg.get("max_body_bytes"))
    server.max_request_header_size = MAX_HEADER_BYTES
    server.keep_alive_conn_limit = 256
    if socket:
        # cheroot binds with the process's umask (a socket is born 0777 & ~umask): narrowed
        # for the bind, so that other local users never get a moment in which they may
        # connect. The web server's group is enough. (serve() runs this before any thread.)
        umask = os.umask(0o117)
        try:
            server.prepare()
        finally:
            os.umask(umask)
        os.chmod(socket, 0o660)  # nosec B103 - the group is the web server's, by design
    else:
        server.prepare()
    # Bound now: with --port 0 the real port is known only here.
    listen = "" if socket else http_url(reachable_host(server.bind_addr[0]),
                                        int(server.bind_addr[1]))
    server.wsgi_app = peer_middleware(app, unix_socket=bool(socket), listen_url=listen,
                                      trusted_proxies=trusted_proxies(cfg))
    return server


def trusted_proxies(cfg: Config) -> frozenset[str]:
    """``http.trusted_proxies``: the addresses whose ``X-Forwarded-For`` is believed."""
    value = cfg.get("http").get("trusted_proxies") or []
    if isinstance(value, str):
        value = [value]
    return frozenset(str(v).strip() for v in value if str(v).strip())


def listen_address(server: Any) -> str:
    """Where a bound server listens, as people write it: its unix socket, or
    ``http://HOST:PORT`` with the real port (``--port 0`` included)."""
    if isinstance(server.bind_addr, (str, bytes)):
        return os.fsdecode(server.bind_addr)
    return http_url(str(server.bind_addr[0]), int(server.bind_addr[1]))


#: glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> None:
    """Let all the server's threads share ``count`` malloc arenas (glibc's default: 8 per core).

    Each thread that allocates gets an arena of its own, and an arena keeps what is freed in
    it for reuse by its threads. Measured when an upload still allocated a new ``bytes`` per
    256 KiB piece: with 32 request threads the server's memory rose after every upload until
    each arena held its own copy, 16 uploads of 256 MiB taking VmHWM from 47 to 94 MB, against
    47 to 63 MB with two arenas (``MALLOC_ARENA_MAX=2``, the setting gunicorn's documentation
    recommends for threaded Python servers). Large uploads now go through reused anonymous
    maps, outside malloc; the limit stays for everything else a request thread allocates (JSON
    bodies, small uploads, git's pipes), and the bench's RSS row is its check. An operator's
    own ``MALLOC_ARENA_MAX`` wins; without glibc this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, count)


def warm_up() -> None:
    """Import what the push checks need before the first push arrives, start the secret
    scan's processes, and bring the hooks' compiled forwarder up to this version (hooks
    written by an older one run the same file)."""
    import importlib

    from modelgit.hooks import compiled

    compiled.forwarder()

    for name in ("modelgit.hooks.pre_receive", "modelgit.hooks.post_receive",
                 "modelgit.schema", "modelgit.scanner.secrets",
                 "modelgit.scanner.pickles", "modelgit.scanner.blobs"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    log = logging.getLogger("modelgit")
    try:
        from modelgit.schema.check import check_card

        check_card(b"---\nlicense: mit\n---\n")
    except Exception:  # warming is an optimisation; a failure shows up in the real check
        log.debug("card validator warm-up failed", exc_info=True)
    try:
        from modelgit.scanner.blobs import Blob
        from modelgit.scanner.secrets import scan_secrets, warm_workers

        # detect-secrets' plugins and the prefilter (≈ 40 ms on the first scan), here and in
        # the secret scan's processes, before the first push
        scan_secrets([Blob.from_bytes("warm.py", b"x = 1\n")])
        warm_workers()
    except Exception:
        log.warning("the secret scan could not be warmed; the first push pays for it",
                    exc_info=True)


def serve(cfg: Config, *, host: str | None = None, port: int | None = None,
          socket: str | None = None) -> None:
    import signal
    import threading

    from modelgit.hooks.warm import HookServer

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)

    limit_malloc_arenas()  # before any thread starts
    setup_logging(cfg)
    server = make_server(cfg, host=host, port=port, socket=socket)
    hooks = HookServer(cfg.data_dir)
    hooks.start()
    threading.Thread(target=warm_up, name="modelgit-warm-up", daemon=True).start()
    from modelgit import tasks

    workers = tasks.start_workers(cfg)
    where = listen_address(server)
    if socket:
        urls.record_address(cfg, socket_path=where)
    else:
        urls.record_address(cfg, host=str(server.bind_addr[0]), port=int(server.bind_addr[1]))
    public = str(cfg.get("public_url") or "").strip()
    also = f"; links say {urls.site_url(cfg)}" if public else ""
    logging.getLogger("modelgit").info("modelgit serving %s on %s%s", cfg.data_dir, where, also)
    print(f"modelgit: serving {cfg.data_dir} on {where}{also} (Ctrl-C stops)", file=sys.stderr,
          flush=True)
    if not socket or public:  # behind a web server on a socket, only public_url is known
        print(f"modelgit: web pages at {urls.site_url(cfg)}/-/signin: sign in with a user name"
              " and key (the first start printed the site admin's key; `modelgit key create"
              " NAME` makes one)", file=sys.stderr, flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        hooks.close()
        for worker in workers:
            worker.release()  # before its scan process is stopped: the task goes back
        from modelgit.scanner import pool

        pool.shutdown(kill=True)
        urls.forget_address(cfg)
