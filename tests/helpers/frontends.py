"""Several ``modelgit serve`` front ends on one data folder behind a real nginx ``upstream``.

Each front end listens on a unix socket of its own (as a front end behind a web server does,
so ``X-Forwarded-For`` names the client); nginx balances them round robin on one port and,
for tests that must pick one, also serves each alone on a port of its own. The returned
:class:`~tests.helpers.site.Site` talks to the balancer, so every helper (users, keys, clone
URLs, HTTP) goes through it.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.site import BIN, Site, free_port
from tests.helpers.wait import wait_for
from tests.helpers.webhosts import IS_ROOT, Proc, port_open, sbin, start, unix_health


@dataclass
class Frontends:
    """The balanced site, the front ends' processes and their own ports."""

    site: Site
    serves: list[Proc]
    sockets: list[Path]
    ports: list[int]  # port i reaches front end i alone
    nginx: Proc
    procs: list[Proc] = field(default_factory=list)

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def clone_url(self, index: int, model_id: str, user: str) -> str:
        return f"http://{user}:{self.site.keys[user]}@127.0.0.1:{self.ports[index]}/{model_id}.git"

    def log(self, index: int) -> str:
        return self.serves[index].log.read_text(errors="replace")

    def requests_seen(self, index: int) -> int:
        """Requests front end ``index`` answered, from nginx's access log (its upstream)."""
        log = self.site.data.parent / "nginx" / "logs" / "access.log"
        sock = str(self.sockets[index])
        return sum(1 for line in log.read_text().splitlines() if sock in line)

    def stop(self) -> None:
        for proc in [self.nginx, *self.serves]:
            proc.stop()


def _nginx_conf(folder: Path, sockets: list[Path], balanced: int, alone: list[int]) -> Path:
    for sub in ("logs", "run", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    servers = "".join(f"        server unix:{s};\n" for s in sockets)
    proxy = """
        client_max_body_size 0;
        proxy_http_version 1.1;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_read_timeout 300s;
        proxy_set_header Host $http_host;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
"""
    single = "".join(f"""
    upstream alone{i} {{ server unix:{s}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://alone{i}; {proxy} }}
    }}
""" for i, (s, port) in enumerate(zip(sockets, alone, strict=True)))
    conf = folder / "nginx.conf"
    conf.write_text(f"""{"user root;" if IS_ROOT else ""}
worker_processes 1;
pid {folder}/run/nginx.pid;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {folder}/logs/access.log upstream;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    upstream modelgit {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{balanced};
        location / {{ proxy_pass http://modelgit; {proxy} }}
    }}
{single}
}}
""")
    return conf


def _public_url(site: Site) -> None:
    """Behind a balancer links must name it (``public_url``), not a front end's socket."""
    import yaml

    path = site.data / "config.yaml"
    settings = yaml.safe_load(path.read_text()) if path.is_file() else {}
    settings = settings or {}
    if not settings.get("public_url"):
        settings["public_url"] = site.url
        path.write_text(yaml.safe_dump(settings))


def start_serve(site: Site, sock: Path, name: str) -> Proc:
    proc = start(name, [str(BIN / "modelgit"), "--data", str(site.data), "serve", "--socket",
                        str(sock)], site.data.parent / f"{name}.log", env=dict(os.environ))
    wait_for(lambda: unix_health(sock) or not proc.alive(), 30, f"{name}'s socket",
             ignore=(OSError,))
    assert proc.alive(), proc.tail()
    return proc


def start_balanced(site: Site, count: int = 2) -> Frontends:
    """Start ``count`` front ends on ``site``'s data folder and nginx before them; the site's
    port becomes the balancer's. Everything started is stopped again if a part fails."""
    run = site.data.parent / "run"
    run.mkdir(exist_ok=True)
    sockets = [run / f"fe{i}.sock" for i in range(count)]
    _public_url(site)
    serves: list[Proc] = []
    nginx_proc: Proc | None = None
    try:
        for i, sock in enumerate(sockets):
            serves.append(start_serve(site, sock, f"fe{i}"))
        alone = [free_port() for _ in sockets]  # nginx balances on the site's own port
        folder = site.data.parent / "nginx"
        conf = _nginx_conf(folder, sockets, site.port, alone)
        nginx = sbin("nginx")
        assert nginx is not None
        base = [nginx, "-p", str(folder), "-e", str(folder / "logs" / "error.log"), "-c",
                str(conf)]
        checked = subprocess.run([*base, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        nginx_proc = start("nginx", [*base, "-g", "daemon off;"], folder / "logs" / "out.log")
        started = nginx_proc
        wait_for(lambda: all(port_open(p) for p in [site.port, *alone])
                 or not started.alive(), 30, "nginx", ignore=(OSError,))
        assert nginx_proc.alive(), (folder / "logs" / "error.log").read_text()
        with urllib.request.urlopen(f"{site.url}/-/health", timeout=10):  # noqa: S310
            pass
        return Frontends(site, serves, sockets, alone, nginx_proc)
    except BaseException:
        for proc in [*([nginx_proc] if nginx_proc else []), *serves]:
            proc.stop()
        raise


@contextmanager
def balanced(site: Site, count: int = 2) -> Iterator[Frontends]:
    """:func:`start_balanced` for a ``with`` block."""
    fronts = start_balanced(site, count)
    try:
        yield fronts
    finally:
        fronts.stop()
