"""Settings: the data folder, the listen address and the site's policies.

Every key has a default, so a data folder with no ``config.yaml`` is a working site. The
file is read once per process (the hot path must not re-read YAML per request), and the
data folder is chosen by ``--data``, then ``$MODELGIT_HOME``, then ``./modelgit-data``.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelgit.values import Value

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any

DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    # The store: empty for SQLite in the data folder (modelgit.db), or a PostgreSQL URL
    # (postgresql://user@host:5432/modelgit; a password is better in ~/.pgpass or PGPASSWORD).
    "database": "",
    "port": 8080,
    # Public models without gating can be cloned with no key at all.
    "allow_anonymous_read": True,
    # Largest request body the server accepts (LFS objects included), in bytes.
    "max_body_bytes": 64 * 1024**3,
    # The site's public base URL (e.g. https://hub.example.org) for every printed link: clone
    # URLs, LFS hrefs, API links, hints and mails. Empty: the request's own address in the
    # server; in the CLI, the address the running server recorded, else host and port above.
    "public_url": "",
    # URL path the web server serves the git repositories under on an existing host (install.sh
    # --git-prefix, e.g. /git); clone URLs carry it, LFS and the APIs do not. Empty: the root.
    "git_prefix": "",
    "card": {"required": False, "schema": ""},
    # New models (docs/access.md "Creating models"): every user may create models in a space
    # named like them, made on first use (as on the public hubs); a model created through the
    # hub API or the web without saying private or public is public unless
    # `private_by_default`. The CLI always says (`--public`, else private).
    "models": {"personal_spaces": True, "private_by_default": False},
    "scan": {
        "secrets": "block",
        "pickles": "block",
        "bandit": "report",
        # Blobs up to this size are scanned whole; larger text in windows (secrets).
        "max_blob_bytes": 5 * 1024 * 1024,
        # Largest text the secret scan reads (git blobs and LFS objects that are text);
        # over it, `oversize: refuse` refuses the push, `allow` lets it pass, reported.
        "max_secret_scan_bytes": 100 * 1024 * 1024,
        "oversize": "refuse",
        "time_budget_seconds": 20,
    },
    "lfs": {"token_seconds": 3600},
    # Hub API: files over this size (or matching .gitattributes LFS patterns) upload as LFS.
    "hub": {"lfs_threshold_bytes": 10 * 1024**2, "max_commit_bytes": 1024**3},
    # The brute-force brake (modelgit/authz/brake.py): failures per (address, user) and, the
    # ceiling, per address, in a sliding window.
    "auth": {"max_failures": 10, "max_failures_per_address": 100, "window_seconds": 60,
             "cooldown_seconds": 60},
    # Slow clients (modelgit/http/admission.py): seconds for a whole request head, and open
    # connections per client address (0: no limit; the unix socket is not counted).
    # trusted_proxies: addresses of load balancers that reach `modelgit serve` over TCP (a
    # front end on another machine); their X-Forwarded-For is believed, as on the unix socket.
    "http": {"head_seconds": 10, "max_connections_per_address": 16, "trusted_proxies": []},
    "smtp": {"host": "", "port": 25, "sender": "modelgit@localhost", "user": "", "password": ""},
    "regions": {},
    # Background sync worker in `modelgit serve`; off on front ends that should not run tasks.
    "sync": {"worker": True, "poll_seconds": 1.0},
    # The web pages (modelgit/http/web): hours a sign-in lasts.
    "web": {"session_hours": 12},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``--data`` wins, then ``$MODELGIT_HOME``, then ``./modelgit-data``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("MODELGIT_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / "modelgit-data").resolve()


class Config(Value):
    """A site's settings, rooted at its data folder."""

    _fields = ("data_dir", "settings")
    data_dir: Path
    settings: dict[str, Any]

    def __init__(self, data_dir: Path, settings: dict[str, Any] | None = None) -> None:
        self._init(data_dir=data_dir,
                   settings=dict(DEFAULTS) if settings is None else settings)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "modelgit.db"

    @property
    def store_target(self) -> Path | str:
        """What ``Store`` opens: the ``database:`` URL when one is set, else the SQLite file."""
        url = str(self.settings.get("database") or "")
        return url if url else self.db_path

    @property
    def uses_postgres(self) -> bool:
        return bool(self.settings.get("database"))

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"

    @property
    def lfs_dir(self) -> Path:
        return self.data_dir / "lfs"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def hook_socket(self) -> Path:
        """Where a running server listens for hook shims (warm checks)."""
        return self.data_dir / "run" / "hooks.sock"

    def get(self, dotted: str) -> Any:
        """A setting by dotted name, e.g. ``scan.secrets``."""
        node: Any = self.settings
        for part in dotted.split("."):
            node = node[part]
        return node


def load(data_dir: str | os.PathLike[str] | None = None) -> Config:
    """Read ``config.yaml`` from the data folder (if present) over the defaults."""
    root = resolve_data_dir(data_dir)
    settings = dict(DEFAULTS)
    path = root / "config.yaml"
    if path.is_file():
        import yaml  # only when a file exists: keeps the no-config start light

        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings at the top level")
        settings = _merge(settings, loaded)
    return Config(data_dir=root, settings=settings)
