"""Git smart HTTP: run ``git http-backend`` as a CGI per request, streaming both ways.

The request body is copied to the backend's stdin from a thread while the response is read
from its stdout in bounded pieces, so a 1 GB pack never sits in memory. gzip request bodies
are passed through untouched (``http-backend`` inflates them itself). The Authorization header
is never passed to the child: the pusher is named in ``REMOTE_USER``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, cast

from modelgit.git.commands import http_backend
from modelgit.http.request import (
    MODEL_GIT_PATH,
    MODEL_PATH,
    BodyError,
    Request,
    content_length,
    model_of,
    moved_location,
)
from modelgit.http.responses import Response, denial, text

if TYPE_CHECKING:
    import io
    import re

    from modelgit.http.routes import Host

log = logging.getLogger("modelgit.http")
CHUNK = 64 * 1024
# Headers never forwarded to the CGI (credentials) or recomputed by it.
_DROP = {"HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_PROXY_AUTHORIZATION"}


def cgi_env(environ: Mapping[str, Any], *, project_root: str, path_info: str,
            remote_user: str | None, extra: Mapping[str, str],
            length: int | None) -> dict[str, str]:
    """The backend's CGI environment; ``length`` is the request's checked Content-Length
    (``request.content_length``), never the raw header."""
    env = {k: v for k in ("PATH", "HOME", "LANG", "TMPDIR") if (v := os.environ.get(k))}
    env.update({
        "GIT_PROJECT_ROOT": project_root,
        "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": str(environ.get("REQUEST_METHOD", "GET")),
        "QUERY_STRING": str(environ.get("QUERY_STRING", "")),
        "REMOTE_ADDR": str(environ.get("REMOTE_ADDR", "")),
        "CONTENT_TYPE": str(environ.get("CONTENT_TYPE", "")),
        "SERVER_PROTOCOL": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
    })
    if length is not None:
        env["CONTENT_LENGTH"] = str(length)
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in _DROP and isinstance(value, str):
            env[key] = value
    if remote_user:
        env["REMOTE_USER"] = remote_user
    env.update(extra)
    return env


def _pump(src: IO[bytes], dst: IO[bytes], length: int | None) -> None:
    """Copy the request body to the backend; stop at Content-Length when there is one."""
    try:
        remaining = length
        while remaining is None or remaining > 0:
            chunk = src.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            dst.write(chunk)
    except (BrokenPipeError, ConnectionResetError, ValueError):
        pass  # the backend stopped reading (it answered an error); its output says why
    except Exception:
        log.exception("copying the request body to git http-backend failed")
    finally:
        try:
            dst.close()
        except OSError:
            pass


def run_backend(environ: Mapping[str, Any], env: dict[str, str], length: int | None
                ) -> tuple[str, list[tuple[str, str]], Iterator[bytes]]:
    """Start the backend; return the status, headers and a body iterator. The body is
    copied to it up to ``length`` bytes, or to its end when chunked (None)."""
    proc = subprocess.Popen(
        [http_backend()], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    body_in = environ.get("wsgi.input")
    if body_in is not None and env["REQUEST_METHOD"] in ("POST", "PUT"):
        pump = threading.Thread(target=_pump, args=(body_in, proc.stdin, length), daemon=True)
        pump.start()
    else:
        proc.stdin.close()
        pump = None

    status = "200 OK"
    headers: list[tuple[str, str]] = []
    # Popen's pipe with the default bufsize is a BufferedReader, which has read1.
    out = cast("io.BufferedReader", proc.stdout)
    while True:
        line = out.readline(8192)
        if not line or line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        if name.lower() == "status":
            status = value.strip()
        else:
            headers.append((name.strip(), value.strip()))

    def body() -> Iterator[bytes]:
        try:
            while True:
                chunk = out.read1(CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            out.close()
            if proc.poll() is None:
                try:
                    proc.wait(timeout=600)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if pump is not None:
                pump.join(timeout=5)

    return status, headers, body()


def register(host: Host) -> None:
    """Add git's smart HTTP routes (first among the features: they are the hot path)."""
    host.add("GET", MODEL_PATH + r"/info/refs", lambda req, match: info_refs(host, req, match))
    host.add("POST", MODEL_PATH + r"/(?P<service>git-upload-pack|git-receive-pack)",
             lambda req, match: service(host, req, match))


def register_fallback(host: Host) -> None:
    """Add the catch-all under a model's path; last, so every other feature's route wins."""
    host.add(("GET", "HEAD"), MODEL_GIT_PATH + r"/(?P<rest>.*)", dumb)


def info_refs(host: Host, req: Request, match: re.Match[str]) -> Response:
    name = req.arg("service")
    if name not in ("git-upload-pack", "git-receive-pack"):
        return text(403, "modelgit: only git's smart HTTP protocol is served; use git 1.7 or"
                         " newer")
    return _serve(host, req, match, name, "/info/refs")


def service(host: Host, req: Request, match: re.Match[str]) -> Response:
    name = match.group("service")
    return _serve(host, req, match, name, "/" + name)


def dumb(req: Request, match: re.Match[str]) -> Response:
    """git's dumb protocol would read the repository's files past every check: refused."""
    return text(403, "modelgit: only git's smart HTTP protocol is served")


def _serve(host: Host, req: Request, match: re.Match[str], name: str, suffix: str) -> Response:
    model_id = model_of(match)
    action = "write" if name == "git-receive-pack" else "read"
    decision, row = host.model_decision(req, model_id, action)
    if not decision.allowed:
        moved = moved_location(host, req, model_id, decision.status)
        if moved is not None:  # followed by git for info/refs, then it talks to the new URL
            return text(307, f"modelgit: {model_id} was moved; use {moved}",
                        [("Location", moved)])
        return denial(host.explain(decision, model_id, req))
    assert row is not None
    try:
        length = content_length(req.environ)
    except BodyError as err:
        return text(err.status, f"modelgit: {err.message}: send a decimal byte count")
    user = req.subject.user
    extra = {"MODELGIT_KEY_SCOPE": req.subject.scope}
    if user:
        extra["MODELGIT_USER"] = user
    env = cgi_env(req.environ, project_root=str(host.cfg.repos_dir),
                  path_info=f"/{model_id}.git{suffix}", remote_user=user, extra=extra,
                  length=length)
    return run_backend(req.environ, env, length)
