"""The LFS HTTP API driven as git-lfs drives it: batch, PUT to the href, verify.

Shared by the LFS, quota and integrity tests, which need objects on the server without
running git-lfs itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.helpers.site import HttpAnswer, Site

MEDIA = "application/vnd.git-lfs+json"
TOKEN_HEADER = "X-Modelgit-Lfs-Token"


def post_json(site: Site, path: str, obj: Any, key: str | None = None) -> HttpAnswer:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return site.http("POST", path, key=key, body=body,
                     headers={"Content-Type": MEDIA, "Accept": MEDIA})


def batch(site: Site, model: str, operation: str, objects: list[Any], key: str | None
          ) -> HttpAnswer:
    return post_json(site, f"/{model}.git/info/lfs/objects/batch",
                     {"operation": operation, "transfers": ["basic"], "objects": objects,
                      "hash_algo": "sha256"}, key)


def local(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def oid_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(site: Site, model: str, data: bytes, key: str) -> str:
    """What git-lfs does for one object: batch, PUT to the href with its header, verify."""
    oid = oid_of(data)
    answer = batch(site, model, "upload", [{"oid": oid, "size": len(data)}], key)
    assert answer.status == 200, answer.body
    obj = json.loads(answer.body)["objects"][0]
    assert "error" not in obj, obj
    actions = obj.get("actions")
    if not actions:
        return oid
    put = actions["upload"]
    sent = site.http("PUT", local(put["href"]), body=data, headers=put["header"])
    assert sent.status == 200, sent.body
    check = actions["verify"]
    verified = site.http("POST", local(check["href"]),
                         body=json.dumps({"oid": oid, "size": len(data)}).encode(),
                         headers={**check["header"], "Content-Type": MEDIA})
    assert verified.status == 200, verified.body
    return oid


def stored_path(site: Site, oid: str) -> Path:
    """Where the file storage keeps an object (files storage only: see :func:`is_stored`)."""
    return site.data / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def stored_size(site: Site, oid: str) -> int | None:
    """Size of a stored object in the site's LFS storage, whichever it is; None if absent."""
    from modelgit import config as config_mod
    from modelgit.lfs.storage import storage_for

    return storage_for(config_mod.load(site.data)).get_size(oid)


def is_stored(site: Site, oid: str) -> bool:
    return stored_size(site, oid) is not None


def on_files(site: Site) -> bool:
    """Whether the site keeps LFS objects in its data folder (not ``MODELGIT_TEST_STORAGE=s3``)."""
    from modelgit import config as config_mod

    return (config_mod.load(site.data).settings.get("lfs") or {}).get("storage",
                                                                      "files") == "files"
