"""Every address modelgit prints comes from here: the site's URL and the clone URL of a model.

:func:`site_url` answers, in this order:

1. ``public_url`` from config.yaml, when set (a site behind a proxy or on an existing host);
2. in the server, the request's own scheme and ``Host`` (so a link works from wherever the
   client is), else the address the server really listens on (``--port 0`` included);
3. elsewhere (the CLI, hooks, mails; separate processes), the address that the running
   ``modelgit serve`` recorded in ``<data>/run/serve.json`` when it started;
4. else ``host`` and ``port`` from config.yaml.

:func:`clone_url` adds the git prefix (``git_prefix``: on an existing host the web server
serves the repositories under e.g. ``/git``); the APIs, LFS and pages live at the site's root.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelgit.config import Config
from modelgit.git.targets import normalise_prefix

#: WSGI environ key the server layer sets to its real listen address (never from a header).
LISTEN_URL_KEY = "modelgit.listen_url"
#: A Host header we repeat in links: a name or address and a port, nothing that adds a path.
HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
# Addresses that mean "every interface": compared with, never bound (hence the markers).
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104  # nosec B104


def http_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def reachable_host(host: str) -> str:
    """The name to put in a link for a listen address: a wildcard address (all interfaces)
    is not one a client can connect to, so this machine's name stands in for it."""
    return socket.gethostname() if host.strip() in _WILDCARDS else host


def git_prefix(cfg: Config) -> str:
    """The URL path the repositories are served under (``/git``), or ``""`` at the root."""
    return normalise_prefix(str(cfg.get("git_prefix") or ""))


def site_url(cfg: Config, environ: Mapping[str, Any] | None = None) -> str:
    """The site's base URL, without a trailing slash (see the module docstring for the order).

    ``environ`` is the WSGI environ of the request being answered, when there is one.
    """
    public = str(cfg.get("public_url") or "").strip()
    if public:
        return public.rstrip("/")
    if environ is not None:
        here = _request_url(environ)
        if here:
            return here
    recorded = recorded_url(cfg)
    if recorded:
        return recorded
    return http_url(reachable_host(str(cfg.get("host"))), int(cfg.get("port")))


def clone_url(cfg: Config, model_id: str, environ: Mapping[str, Any] | None = None) -> str:
    """What to give ``git clone`` for a model: the site's URL, the git prefix, the repo."""
    return f"{site_url(cfg, environ)}{git_prefix(cfg)}/{model_id}.git"


def _request_url(environ: Mapping[str, Any]) -> str | None:
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    # Only the local web server in front (the unix socket) can say the client used HTTPS:
    # server.peer_middleware drops proxy headers from every TCP peer.
    forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
    if forwarded in ("http", "https"):
        scheme = forwarded
    script = str(environ.get("SCRIPT_NAME") or "").rstrip("/")
    host = str(environ.get("HTTP_HOST") or "")
    if HOST_RE.fullmatch(host):
        return f"{scheme}://{host}{script}"
    listen = str(environ.get(LISTEN_URL_KEY) or "")
    return listen + script if listen else None


# --- the running server's address -----------------------------------------------------------


def record_path(cfg: Config) -> Path:
    return cfg.data_dir / "run" / "serve.json"


def record_address(cfg: Config, *, host: str | None = None, port: int | None = None,
                   socket_path: str | None = None) -> None:
    """Write where this server listens, for the CLI's links (replaced atomically). A data
    folder that cannot take the file costs only that: the CLI then says config's address."""
    entry: dict[str, Any] = {"pid": os.getpid()}
    if socket_path:
        entry["socket"] = socket_path
    else:
        entry.update(host=host, port=port)
    path = record_path(cfg)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entry) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logging.getLogger("modelgit").warning("could not record the listen address in %s: %s",
                                              path, exc)


def forget_address(cfg: Config) -> None:
    """Remove the record at a clean stop, if it is still this process's own."""
    entry = _read_record(cfg)
    if entry is not None and entry.get("pid") == os.getpid():
        record_path(cfg).unlink(missing_ok=True)


def recorded_url(cfg: Config) -> str | None:
    """The HTTP address a running server recorded; None with no record, a record left by a
    server that is gone, or a server on a unix socket (its address is the web server's)."""
    entry = _read_record(cfg)
    if entry is None or not isinstance(entry.get("port"), int):
        return None
    pid = entry.get("pid")
    if not isinstance(pid, int) or pid <= 0 or not _alive(pid):
        return None
    return http_url(reachable_host(str(entry.get("host") or "")), entry["port"])


def _read_record(cfg: Config) -> dict[str, Any] | None:
    try:
        entry = json.loads(record_path(cfg).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
