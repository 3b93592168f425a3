"""An LFS upload stores what its batch approved, within the space's quota (finding 6).

Driven with curl, as an attacker would: a PUT with one's own key and no batch, or a batch
for 1 byte followed by a large body, stored the object past the quota (`space show` said
125.7 %).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from modelgit import config as config_mod
from modelgit.quota import space_usage
from modelgit.store import Store
from tests.conftest import Site
from tests.helpers.lfs_api import MEDIA, TOKEN_HEADER, batch, is_stored, oid_of

QUOTA = 3_000_000


def curl(site: Site, method: str, path: str, body: Path, *, user: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method,
            "--data-binary", f"@{body}", "-H", f"Content-Type: {MEDIA}"]
    if user is not None:
        args += ["-u", f"{user}:{site.keys[user]}"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run([*args, site.url + path], capture_output=True, text=True,
                          check=True, timeout=60)
    text, _, code = done.stdout.rpartition("\n")
    return int(code), text


def used(site: Site, space: str) -> int:
    cfg = config_mod.load(site.data)
    return int(space_usage(cfg, Store(cfg.store_target), space)["total"])


def test_uploads_store_only_what_a_batch_approved_within_quota(site: Site, tmp_path: Path
                                                               ) -> None:
    site.user("owner", admin=True)
    site.cli("space", "create", "quotas", "--owner", "owner", "--quota", str(QUOTA))
    model = "quotas/m"
    site.cli("model", "create", model, "--owner", "owner")
    big = os.urandom(4_000_000)
    big_file = tmp_path / "big"
    big_file.write_bytes(big)
    oid = oid_of(big)
    objects = f"/{model}.git/info/lfs/objects"

    # 1. A PUT with the caller's own key and no batch at all.
    code, text = curl(site, "PUT", f"{objects}/{oid}", big_file, user="owner")
    assert code == 403 and "batch" in json.loads(text)["message"], text
    assert not is_stored(site, oid)

    # 2. A batch that approves 1 byte, then 4 MB sent to its upload link.
    answer = batch(site, model, "upload", [{"oid": oid, "size": 1}], site.keys["owner"])
    put = json.loads(answer.body)["objects"][0]["actions"]["upload"]
    code, text = curl(site, "PUT", put["href"].removeprefix(site.url), big_file,
                      headers=put["header"])
    assert code == 422, text
    message = json.loads(text)["message"]
    assert "for 1 bytes" in message and "nothing was stored" in message
    assert not is_stored(site, oid)

    # 3. The batch itself refuses what does not fit.
    answer = batch(site, model, "upload", [{"oid": oid, "size": len(big)}], site.keys["owner"])
    refused = json.loads(answer.body)["objects"][0]
    assert refused["error"]["code"] == 507 and "quota" in refused["error"]["message"]

    # 4. Two batches that each fit, whose objects together do not: the second PUT finds the
    #    space full where the bytes arrive, and stores nothing.
    room = QUOTA - used(site, "quotas")
    first, second = os.urandom(room * 6 // 10), os.urandom(room * 6 // 10)
    links = []
    for data in (first, second):
        answer = batch(site, model, "upload", [{"oid": oid_of(data), "size": len(data)}],
                       site.keys["owner"])
        links.append(json.loads(answer.body)["objects"][0]["actions"]["upload"])
    for data, link, status in ((first, links[0], 200), (second, links[1], 507)):
        body = tmp_path / oid_of(data)
        body.write_bytes(data)
        code, text = curl(site, "PUT", link["href"].removeprefix(site.url), body,
                          headers={TOKEN_HEADER: link["header"][TOKEN_HEADER]})
        assert code == status, text
    assert "quota" in json.loads(text)["message"]
    assert not is_stored(site, oid_of(second))
    assert used(site, "quotas") <= QUOTA
