"""``modelgit gc``, ``space show`` sizes and the quota check, plus the Range parser."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelgit import config as config_mod
from modelgit.hooks.pre_receive import Push, RefUpdate
from modelgit.http.responses import parse_range
from modelgit.quota import check_quota, dir_size, space_usage
from modelgit.store import Store
from tests.conftest import Site, make_site
from tests.helpers.lfs_api import is_stored, oid_of, on_files, upload


def test_gc_removes_only_unlinked_objects(site: Site) -> None:
    site.model("gc/keep")
    site.model("gc/drop")
    key = site.keys["owner"]
    shared, only_drop, only_keep = os.urandom(500), os.urandom(700), os.urandom(300)
    for data in (shared, only_drop):
        upload(site, "gc/drop", data, key)
    for data in (shared, only_keep):
        upload(site, "gc/keep", data, key)
    files = on_files(site)  # an S3 PUT that fails leaves no temporary file to sweep
    stale = site.data / "lfs" / "tmp" / "stale.part"
    if files:
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_bytes(b"x")
        os.utime(stale, (0, 0))

    site.cli("model", "delete", "gc/drop", "--yes")
    # Young unlinked objects survive the default grace period (an upload links after storing).
    _, out, _ = site.cli("gc", "--json", "--yes")
    result = json.loads(out)
    assert result["removed"] == [] and result["kept_young"] >= 1
    assert result["temp_files_removed"] == int(files) and not stale.exists()
    _, out, _ = site.cli("gc", "--dry-run", "--grace", "0", "--json")
    assert [r["oid"] for r in json.loads(out)["removed"]] == [oid_of(only_drop)]
    assert is_stored(site, oid_of(only_drop))

    _, out, _ = site.cli("--json", "gc", "--grace", "0", "--yes")
    result = json.loads(out)
    assert result["ok"] is True
    assert result["removed"] == [{"oid": oid_of(only_drop), "size": 700}]
    assert result["freed_bytes"] == 700 and result["temp_files_removed"] == 0
    assert not is_stored(site, oid_of(only_drop))
    for data in (shared, only_keep):
        assert is_stored(site, oid_of(data))

    _, out, _ = site.cli("gc", "--grace", "0", "-y")
    assert "removed 0 unlinked LFS objects" in out


def test_space_show_prints_size_quota_and_shares(site: Site) -> None:
    site.user("owner", admin=True)
    site.user("sharer")
    site.cli("space", "create", "shown", "--owner", "owner", "--quota", "50MB")
    site.cli("space", "grant", "shown", "sharer", "user")
    site.cli("model", "create", "shown/one", "--owner", "owner")
    site.cli("model", "create", "shown/two", "--owner", "sharer")
    upload(site, "shown/two", os.urandom(3_000_000), site.keys["sharer"])

    _, out, _ = site.cli("--json", "space", "show", "shown")
    usage = json.loads(out)["usage"]
    assert usage["quota"] == 50_000_000 and usage["lfs"] == 3_000_000
    assert usage["total"] == usage["git"] + usage["lfs"]
    shares = {u["user"]: u for u in usage["users"]}
    assert shares["sharer"]["total"] > 3_000_000 and shares["owner"]["models"] == 1

    _, out, _ = site.cli("space", "show", "shown")
    assert "of 50.0 MB" in out and "models: 2" in out
    assert "sharer" in out and "share" in out


def test_dir_size_skips_the_quarantine(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * 10)
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "g").write_bytes(b"y" * 5)
    (tmp_path / "link").symlink_to("/etc/passwd")
    assert dir_size(tmp_path) == 15
    assert dir_size(tmp_path, skip=tmp_path / "q") == 10
    assert dir_size(tmp_path / "missing") == 0


def test_check_quota_measures_the_quarantine(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.user("owner", admin=True)
    site.cli("space", "create", "qs", "--owner", "owner", "--quota", "100KB")
    site.cli("model", "create", "qs/m", "--owner", "owner")
    cfg = config_mod.load(site.data)
    store = Store(cfg.store_target)
    repo = site.data / "repos" / "qs" / "m.git"
    quarantine = repo / "objects" / "tmp_objdir-incoming-test"
    quarantine.mkdir()

    def push(env: dict[str, str]) -> Push:
        return Push(cfg=cfg, store=store, model=store.get_model("qs/m") or {}, user="owner",
                    role="owner", updates=[RefUpdate("0" * 40, "1" * 40, "refs/heads/main")],
                    repo=repo, env=env)

    env = {"GIT_QUARANTINE_PATH": str(quarantine)}
    assert check_quota(push(env)) == []  # nothing new
    assert check_quota(push({})) == []  # no quarantine: nothing to measure
    (quarantine / "pack").write_bytes(os.urandom(20_000))
    assert check_quota(push(env)) == []  # fits
    before = space_usage(cfg, store, "qs", skip=quarantine)["total"]
    (quarantine / "pack2").write_bytes(os.urandom(100_000))
    lines = check_quota(push(env))
    assert lines and "space quota exceeded: used" in lines[0] and "of 100.0 KB" in lines[0]
    assert "adds 120.0 KB" in lines[0] and "modelgit space set qs --quota" in lines[1]
    assert space_usage(cfg, store, "qs", skip=quarantine)["total"] == before
    store.set_space_quota("qs", None)
    assert check_quota(push(env)) == []


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-9", 100, (0, 9)),
    ("bytes=90-", 100, (90, 99)),
    ("bytes=90-1000", 100, (90, 99)),
    ("bytes=-10", 100, (90, 99)),
    ("bytes=-1000", 100, (0, 99)),
    ("bytes=100-", 100, None),
    ("bytes=5-4", 100, None),
    ("bytes=-0", 100, None),
    ("bytes=-", 100, None),
    ("bytes=0-0", 0, None),
    ("bytes=0-1,5-6", 100, None),
    ("lines=0-1", 100, None),
    ("bytes=" + "9" * 30 + "-", 100, None),
])
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected
