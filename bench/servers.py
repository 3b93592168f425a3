"""The two hosts every git figure compares, both on 127.0.0.1 in the run's work folder.

* ``ModelgitServer``: a fresh data folder and ``modelgit --data D serve --port P`` (waitress,
  ``git http-backend`` as CGI, hooks forwarded warm to the server over its unix socket).
* ``PlainHost``: the same ``git http-backend`` behind our own ``nginx -p PREFIX`` with a
  generated configuration and our own ``fcgiwrap -s unix:...``: the classic Debian git host.
  It asks for HTTP Basic credentials too (``auth_basic`` with a ``{PLAIN}`` password file),
  so both hosts make git do the same 401-then-credentials round trip and run receive-pack
  for an authenticated ``REMOTE_USER``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.harness import (
    BIN,
    LOOPBACK,
    Ctx,
    Skip,
    current_rss_mb,
    free_port,
    git,
    peak_rss_mb,
    run,
    stop_process,
    wait_for_port,
)

BENCH_USER = "bench"
PLAIN_PASSWORD = "bench-password"  # loopback-only throwaway host  # pragma: allowlist secret
GIT_HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        if (Path(folder) / name).exists():
            return str(Path(folder) / name)
    return None


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process and of everything in its process group (the server's
    scan processes run the background reports), in clock ticks."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[2]) == pid or stat.parent.name == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total


# ------------------------------------------------------------------------------ modelgit
class ModelgitServer:
    """A data folder with one site admin, one developer (``bench``) and a running server."""

    def __init__(self, ctx: Ctx, name: str) -> None:
        self.ctx = ctx
        self.root = ctx.scratch(name)
        self.data = self.root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.key = ""
        self.admin_key = ""
        self.space = "bench"
        self._log = self.root / "serve.log"

    # -- setup -------------------------------------------------------------------------
    def cli(self, *args: str) -> str:
        proc = run([BIN / "modelgit", "--data", self.data, *args], self.ctx)
        return proc.stdout.decode().strip()

    def init(self, space: str = "bench", settings: str = "") -> ModelgitServer:
        """``settings``: more config.yaml lines (YAML text)."""
        self.admin_key = self.cli("init", "--admin", "admin").splitlines()[-1]
        # Every request of the run comes from 127.0.0.1: keep the brute-force brake out of it.
        (self.data / "config.yaml").write_text("auth:\n  max_failures: 1000000\n" + settings)
        self.cli("user", "add", BENCH_USER)
        self.key = self.cli("key", "create", BENCH_USER).splitlines()[-1]
        self.cli("space", "create", space, "--owner", "admin")
        self.space = space
        return self

    def model(self, name: str, role: str = "developer") -> str:
        model_id = f"{self.space}/{name}"
        # Empty (no first commit): the bench pushes a history of its own, as to the plain host.
        self.cli("model", "create", model_id, "--owner", "admin", "--empty")
        self.cli("grant", model_id, BENCH_USER, role)
        return model_id

    def url(self, model_id: str, *, with_key: bool = True) -> str:
        if not with_key:
            return f"http://{LOOPBACK}:{self.port}/{model_id}.git"
        return f"http://{BENCH_USER}:{self.key}@{LOOPBACK}:{self.port}/{model_id}.git"

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def repo_path(self, model_id: str) -> Path:
        space, name = model_id.split("/")
        return self.data / "repos" / space / f"{name}.git"

    # -- process -----------------------------------------------------------------------
    def start(self) -> ModelgitServer:
        log = open(self._log, "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "modelgit"), "--data", str(self.data), "serve", "--port", str(self.port)],
            stdout=log, stderr=log, env=self.ctx.env, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"modelgit serve exited:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/-/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("modelgit serve did not answer /-/health within 30 s")
        sock = self.data / "run" / "hooks.sock"
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._wait_warm(deadline)
        return self

    def _wait_warm(self, deadline: float) -> None:
        """The server imports the push checks in a thread after it starts; wait until its RSS
        stops growing so the first timed push does not pay for that."""
        assert self.proc is not None
        last = -1.0
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = current_rss_mb(self.proc.pid) or 0.0
            if abs(now - last) < 0.5:
                return
            last = now

    def stop(self) -> None:
        stop_process(self.proc)

    def wait_idle(self, timeout: float = 120) -> float:
        """Wait until the server and its scan processes stop using CPU (the reporting scans
        that post-receive queues after a push); returns the seconds waited.
        Timed steps start from a quiet server, so each pays only for its own work."""
        assert self.proc is not None
        start = time.monotonic()
        last = _cpu_ticks(self.proc.pid)
        quiet = 0
        while time.monotonic() - start < timeout and quiet < 3:
            time.sleep(0.2)
            now = _cpu_ticks(self.proc.pid)
            quiet = quiet + 1 if now - last <= 1 else 0
            last = now
        return time.monotonic() - start

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.pid) if self.proc is not None else None

    def log_text(self) -> str:
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> ModelgitServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------ plain host
NGINX_CONF = """\
{user_line}
worker_processes 2;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    proxy_temp_path {prefix}/tmp/proxy;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen {host}:{port};
        server_name localhost;
        client_max_body_size 0;
        location / {{
            auth_basic "git";
            auth_basic_user_file {prefix}/htpasswd;
            fastcgi_pass unix:{fcgi_socket};
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {repos};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param PATH_INFO $uri;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param PATH /usr/bin:/bin;
            fastcgi_param HOME {prefix};
        }}
    }}
}}
"""


class PlainHost:
    """Plain ``git http-backend`` behind nginx + fcgiwrap; no modelgit anywhere."""

    def __init__(self, ctx: Ctx, name: str = "plain") -> None:
        self.ctx = ctx
        self.nginx = _which("nginx")
        self.fcgiwrap = _which("fcgiwrap")
        if self.nginx is None or self.fcgiwrap is None or not GIT_HTTP_BACKEND.exists():
            raise Skip("not installed (needs nginx, fcgiwrap and git-http-backend:"
                       " apt-get install nginx fcgiwrap git)")
        self.root = ctx.scratch(name)
        self.repos = self.root / "repos"
        self.repos.mkdir()
        self.port = free_port()
        # A unix socket path must stay short (108 bytes): keep it in the prefix folder.
        self.fcgi_socket = self.root / "fcgi.sock"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> PlainHost:
        for sub in ("tmp/body", "tmp/fastcgi", "tmp/proxy", "tmp/uwsgi", "tmp/scgi"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "htpasswd").write_text(f"{BENCH_USER}:{{PLAIN}}{PLAIN_PASSWORD}\n")
        conf = self.root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            user_line="user root root;" if os.geteuid() == 0 else "",
            prefix=self.root, host=LOOPBACK, port=self.port, fcgi_socket=self.fcgi_socket,
            backend=GIT_HTTP_BACKEND, repos=self.repos,
        ))
        log = open(self.root / "fcgiwrap.log", "ab")
        assert self.fcgiwrap is not None and self.nginx is not None
        fcgi = subprocess.Popen([self.fcgiwrap, "-c", "4", "-s", f"unix:{self.fcgi_socket}"],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.procs.append(fcgi)
        deadline = time.monotonic() + 10
        while not self.fcgi_socket.exists():
            if fcgi.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fcgiwrap did not start; see " + str(self.root))
            time.sleep(0.02)
        nginx = subprocess.Popen(
            [self.nginx, "-p", str(self.root), "-c", str(conf), "-e",
             str(self.root / "error.log")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs.append(nginx)
        wait_for_port(self.port, proc=nginx, what="nginx")
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()

    def create_repo(self, name: str) -> str:
        path = self.repos / f"{name}.git"
        git(self.ctx, "init", "--bare", "--quiet", "--initial-branch=main", path)
        git(self.ctx, "config", "--file", path / "config", "http.receivepack", "true")
        return name

    def url(self, name: str) -> str:
        return f"http://{BENCH_USER}:{PLAIN_PASSWORD}@{LOOPBACK}:{self.port}/{name}.git"

    def __enter__(self) -> PlainHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
