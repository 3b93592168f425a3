"""The regions a model can be synced to: read from ``config.yaml``, checked, and their keys.

Regions are re-read on every use, so one added while ``modelgit serve`` runs works without a
restart; a key is read when a task runs, so a rotated key is picked up by a retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from modelgit.errors import Refused
from modelgit.sync.failure import SyncFailure

if TYPE_CHECKING:
    from modelgit.config import Config

log = logging.getLogger("modelgit.sync")


@dataclass(frozen=True)
class Region:
    name: str
    url: str
    key_file: Path


def _region_settings(cfg: Config) -> dict[str, Any]:
    """Regions from ``config.yaml`` as it is now (a region added while ``modelgit serve``
    runs works without a restart), over the ones the process started with."""
    from modelgit import config as config_mod

    merged = dict(cfg.settings.get("regions") or {})
    try:
        merged.update(config_mod.load(cfg.data_dir).settings.get("regions") or {})
    except (OSError, ValueError) as exc:
        log.warning("could not re-read config.yaml for regions: %s", exc)
    return merged


def region_names(cfg: Config) -> list[str]:
    return sorted(_region_settings(cfg))


def get_region(cfg: Config, name: str) -> Region:
    """The named region, checked; ``Refused`` with the config to write when it is unusable."""
    regions = _region_settings(cfg)
    entry = regions.get(name)
    where = cfg.data_dir / "config.yaml"
    if not isinstance(entry, dict):
        known = ", ".join(sorted(regions)) or "none"
        raise Refused(f"unknown region {name!r} (configured: {known})",
                      hint=f"name it under `regions:` in {where} with its url and key_file")
    url = str(entry.get("url") or "").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or parts.password or parts.query or parts.fragment:
        raise Refused(f"region {name}: url {url!r} is not an http(s) base URL without"
                      " credentials", hint=f"fix regions.{name}.url in {where}")
    key_file = entry.get("key_file")
    if not key_file:
        raise Refused(f"region {name} has no key_file",
                      hint=f"set regions.{name}.key_file in {where} to a file holding a write"
                           " key of a user on that site")
    return Region(name=name, url=url, key_file=Path(str(key_file)).expanduser())


def read_key(region: Region) -> str:
    """The region's key, read now (it may have been rotated since the task was queued).
    Messages name the file, never its content."""
    from modelgit.authz.keys import looks_like_key

    try:
        key = region.key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SyncFailure(f"cannot read the key file of region {region.name}"
                          f" ({region.key_file}): {reason}") from None
    if not looks_like_key(key):
        raise SyncFailure(f"the key file of region {region.name} ({region.key_file}) does not"
                          " hold a modelgit key (mg_ and 40 letters or digits)")
    return key
