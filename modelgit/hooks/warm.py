"""Warm hooks, the server's side: run pushes handed over by the hook shims.

A cold Python hook pays ~0.5 s of imports (pygit2, jsonschema, detect-secrets) before it
checks anything. The shim instead sends its input, environment and working folder over a
unix socket in the data folder; the server runs the very same ``pre_receive.main`` /
``post_receive.main`` and streams back the ``remote:`` lines and the exit code. With no
server listening the shim runs the checks itself (one code path either way).

The wire format is described in ``modelgit.hooks.forward`` (the client). The socket's folder
is private to the service user, who owns the database anyway, so a connection is trusted like
the hook process itself.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelgit import config as config_mod
from modelgit.config import Config
from modelgit.hooks import forward
from modelgit.store import Store

log = logging.getLogger("modelgit.hooks")

# Variables whose relative values git means relative to the hook's working folder.
_PATH_VARS = ("GIT_DIR", "GIT_OBJECT_DIRECTORY", "GIT_QUARANTINE_PATH")


def socket_path(data_dir: Path) -> Path:
    return Path(forward.socket_path(str(data_dir)))


def absolute_env(env: dict[str, str], cwd: str) -> dict[str, str]:
    """Make git's path variables absolute: the server does not run in the hook's folder."""
    out = dict(env)
    for var in _PATH_VARS:
        if out.get(var) and not os.path.isabs(out[var]):
            out[var] = os.path.normpath(os.path.join(cwd, out[var]))
    alt = out.get("GIT_ALTERNATE_OBJECT_DIRECTORIES")
    if alt:
        out["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(
            p if os.path.isabs(p) else os.path.normpath(os.path.join(cwd, p))
            for p in alt.split(os.pathsep)
        )
    if "GIT_DIR" not in out:
        out["GIT_DIR"] = cwd
    return out


# ------------------------------------------------------------------------------ server
class _Handler(socketserver.StreamRequestHandler):
    server: HookServer

    def handle(self) -> None:
        def send(kind: str, text: str) -> None:
            self.wfile.write(f"{kind} {text}\n".encode())
            self.wfile.flush()

        def say(lines: list[str]) -> None:
            for line in lines:
                for part in str(line).splitlines() or [""]:
                    send("S", part)

        try:
            try:
                hook, model_id, env, stdin = decode_request(self.rfile)
            except EOFError:
                return  # connected and left without a request (a probe, a hook killed early)
            try:
                rc = self.server.run_hook(hook, model_id, stdin, env, say)
            except Exception:
                log.exception("warm hook request failed")
                say(["modelgit: push refused: an internal error happened in the server's hook"
                     " (details in the server log); nothing was changed."])
                rc = 1
            send("R", str(rc))
        except (BrokenPipeError, ConnectionResetError):
            # The hook went away (git killed, the client hung up): nobody is left to tell.
            log.info("warm hook request: the hook process left before its answer")


def decode_request(stream: Any) -> tuple[str, str, dict[str, str], bytes]:
    """Parse what ``forward.encode_request`` wrote; the environment's paths made absolute.
    EOFError when the client sent nothing at all."""
    line = stream.readline(256)
    if not line:
        raise EOFError("the hook connection closed before its request")
    magic, header_len, stdin_len = line.split()
    if magic != forward.MAGIC:
        raise ValueError("not a modelgit hook request")
    header = stream.read(int(header_len))
    stdin = stream.read(int(stdin_len))
    fields = [f.decode("utf-8", "surrogateescape") for f in header.split(b"\0")]
    hook, model_id, cwd = fields[:3]
    env = dict(entry.partition("=")[::2] for entry in fields[3:])
    return hook, model_id, absolute_env(env, cwd), stdin


def _ms(started: float) -> float:
    return 1000 * (time.perf_counter() - started)


def _client(env: dict[str, str]) -> str:
    """Which shim forwarded the hook: the compiled forwarder marks its requests."""
    return "the compiled forwarder" if env.get("MODELGIT_HOOK_CLIENT") == "compiled" else "Python"


#: Threads that run hooks; they stay, with their store connections, from push to push. More
#: than the HTTP server's: on an existing host pushes reach the hooks through nginx.
HOOK_THREADS = 64


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


class HookServer(socketserver.UnixStreamServer):
    """Runs each hook request on a thread of a lasting pool (a thread per request would open
    a database connection per hook), with the configuration read once and re-read only when
    config.yaml changes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._pool = concurrent.futures.ThreadPoolExecutor(HOOK_THREADS,
                                                           thread_name_prefix="modelgit-hook")
        self._lock = threading.Lock()
        self._loaded: tuple[object, Config, Store] | None = None
        path = socket_path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        path.unlink(missing_ok=True)
        super().__init__(str(path), _Handler)
        path.chmod(0o600)
        self._socket_id = _identity(path)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self._process, request, client_address)

    def _process(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def settings(self) -> tuple[Config, Store]:
        """The configuration and store, loaded again when config.yaml changed (one stat)."""
        try:
            st = (self.data_dir / "config.yaml").stat()
            stamp: object = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._loaded is None or self._loaded[0] != stamp:
                cfg = config_mod.load(self.data_dir)
                self._loaded = (stamp, cfg, Store(cfg.store_target))
            return self._loaded[1], self._loaded[2]

    def run_hook(self, hook: str, model_id: str, stdin: bytes, env: dict[str, str],
                 say: Callable[[list[str]], None]) -> int:
        if hook == "pre-receive":
            from modelgit.hooks import pre_receive

            started = time.perf_counter()
            try:
                cfg, store = self.settings()
            except Exception:
                log.exception("pre-receive %s: configuration or store unreadable", model_id)
                say([f"modelgit: push to {model_id} refused: an internal error happened"
                     " (details in the server log); nothing was changed."])
                return 1
            rc = pre_receive.handle(cfg, store, model_id, stdin, env, say, warm=True)
            log.info("pre-receive %s on %s: rc=%s (warm) via %s, %.1f ms", model_id,
                     env.get("GIT_DIR"), rc, _client(env), _ms(started))
            return rc
        if hook == "post-receive":
            from modelgit.hooks import post_receive

            started = time.perf_counter()
            cfg, store = self.settings()
            post_receive.handle(cfg, store, model_id, stdin, env)
            log.info("post-receive %s (warm) via %s, %.1f ms", model_id, _client(env),
                     _ms(started))
            return 0
        raise ValueError(f"unknown hook {hook!r}")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="modelgit-hooks",
                                  daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        # Only our own socket: another front end on the same data folder may have bound the
        # name since (the newest server takes it), and its hooks must stay warm.
        path = socket_path(self.data_dir)
        if _identity(path) == self._socket_id:
            path.unlink(missing_ok=True)
