"""Moving and deleting models (services/moves.py) on a real store and repository root."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelgit.authz.decide import Subject
from modelgit.config import DEFAULTS, Config
from modelgit.errors import Conflict, Forbidden, Invalid, NotFound
from modelgit.services import models, moves
from tests.services.conftest import Hub

OID = "a" * 64
SHA = "b" * 40
XORB = "d" * 64
FILE = "e" * 64


def subject(hub: Hub, name: str) -> Subject:
    row = hub.store.get_user(name)
    assert row is not None
    return Subject(user=name, is_admin=bool(row["is_admin"]), scope="write")


@pytest.fixture
def moved(hub: Hub) -> Hub:
    """acme/bert with a row in every table that names a model, then moved to labs/bert2."""
    hub.space("acme")
    hub.space("labs")
    hub.user("alice")
    models.create(hub.store, hub.cfg, "acme/bert", "owner")
    s = hub.store
    s.set_model_role("acme/bert", "alice", "developer")
    s.link_object("acme/bert", OID, 10)
    s.add_lock("acme/bert", "w.bin", "alice")
    s.save_request("acme/bert", "alice", status="pending", fields={"Country": "FR"},
                   timestamp="2026-01-01T00:00:00.000Z", reviewed_at=None, granted_by=None,
                   reason=None)
    s.start_scan("acme/bert", "refs/heads/main", SHA, "secrets")
    task = s.add_task("sync", "acme/bert", "refs/heads/main", SHA, region="eu")
    s.record_replica("acme/bert", "eu", "refs/heads/main", SHA, task)
    s.add_xorb("acme/bert", XORB, "c" * 64, 10, 10, 1)
    s.add_file("acme/bert", FILE, OID, 10, [(XORB, 0, 1, 10)])
    moves.move(s, hub.cfg, subject(hub, "owner"), "acme/bert", "labs/bert2")
    return hub


def test_a_move_takes_every_row_that_names_the_model(moved: Hub) -> None:
    s = moved.store
    assert s.get_model("acme/bert") is None
    row = s.get_model("labs/bert2")
    assert row is not None and row["space"] == "labs" and row["name"] == "bert2"
    assert s.model_role("labs/bert2", "alice") == "developer"
    assert s.linked_size("labs/bert2", OID) == 10 and s.linked_size("acme/bert", OID) is None
    assert [lock["path"] for lock in s.list_locks("labs/bert2")] == ["w.bin"]
    request = s.get_request("labs/bert2", "alice")
    assert request is not None and request["fields"] == {"Country": "FR"}
    assert [scan["scanner"] for scan in s.latest_scans("labs/bert2")] == ["secrets"]
    assert [t["model"] for t in s.list_tasks("sync")] == ["labs/bert2"]
    assert s.list_replicas("labs/bert2")[0]["region"] == "eu"
    # Xet: the model's xorbs and its files' reconstructions (whose terms name the file by
    # model and hash) move together.
    assert s.model_has_xorb("labs/bert2", XORB) and not s.model_has_xorb("acme/bert", XORB)
    assert [t["xorb"] for t in s.file_terms("labs/bert2", FILE)] == [XORB]
    assert s.file_terms("acme/bert", FILE) == []
    if s.url is None:  # PostgreSQL checked every (deferred) foreign key at COMMIT
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_repository_and_its_hooks_move_with_it(moved: Hub) -> None:
    cfg = moved.cfg
    old, new = cfg.repos_dir / "acme" / "bert.git", cfg.repos_dir / "labs" / "bert2.git"
    assert not old.exists() and new.is_dir()
    hook = (new / "hooks" / "pre-receive").read_text()
    assert "labs/bert2" in hook and "acme/bert" not in hook
    named = subprocess.run(["git", "config", "--file", str(new / "config"), "modelgit.model"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert named == "labs/bert2"


def test_the_old_name_redirects_only_those_who_may_see_the_model(moved: Hub) -> None:
    s = moved.store
    moved.user("stranger")
    assert moves.redirect_target(s, subject(moved, "alice"), "acme/bert") == "labs/bert2"
    assert moves.redirect_target(s, subject(moved, "stranger"), "acme/bert") is None
    assert moves.redirect_target(s, Subject(user=None), "acme/bert") is None
    # Moved again: the first name leads to the latest one.
    moves.move(s, moved.cfg, subject(moved, "owner"), "labs/bert2", "labs/bert3")
    assert moves.redirect_target(s, subject(moved, "alice"), "acme/bert") == "labs/bert3"
    assert moves.redirect_target(s, subject(moved, "alice"), "labs/bert2") == "labs/bert3"
    # A model made under an old name is that model again; deleting ends the redirects.
    models.create(s, moved.cfg, "acme/bert", "owner")
    assert moves.redirect_target(s, subject(moved, "owner"), "acme/bert") is None
    moves.delete(s, moved.cfg, subject(moved, "owner"), "labs/bert3")
    assert moves.redirect_target(s, subject(moved, "owner"), "labs/bert2") is None


def test_redirect_days_from_config(hub: Hub) -> None:
    def cfg(days: object) -> Config:
        return Config(hub.cfg.data_dir, {**DEFAULTS, "hub": {"redirect_days": days}})

    assert moves.redirect_seconds(hub.cfg) == 30 * 86_400
    assert moves.redirect_seconds(cfg(0)) == 0
    assert moves.redirect_seconds(cfg(1.5)) == 1.5 * 86_400
    for bad in (-1, "30", True):
        with pytest.raises(Invalid, match="redirect_days"):
            moves.redirect_seconds(cfg(bad))
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/a", "owner")
    moves.move(hub.store, cfg(0), subject(hub, "owner"), "acme/a", "acme/b")
    assert moves.redirect_target(hub.store, subject(hub, "owner"), "acme/a") is None


def test_who_may_move(hub: Hub) -> None:
    hub.space("acme")
    hub.space("other", owner="boss")
    for name in ("dev", "stranger"):
        hub.user(name)
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    models.create(hub.store, hub.cfg, "acme/taken", "owner")
    hub.store.set_model_role("acme/m", "dev", "developer")
    with pytest.raises(NotFound):  # as for a missing model
        moves.move(hub.store, hub.cfg, subject(hub, "stranger"), "acme/m", "acme/n")
    with pytest.raises(Forbidden):
        moves.move(hub.store, hub.cfg, subject(hub, "dev"), "acme/m", "acme/n")
    with pytest.raises(Conflict, match="already exists"):
        moves.move(hub.store, hub.cfg, subject(hub, "owner"), "acme/m", "acme/taken")
    with pytest.raises(NotFound, match="space nowhere"):
        moves.move(hub.store, hub.cfg, subject(hub, "owner"), "acme/m", "nowhere/m")
    hub.store.set_model_role("acme/m", "dev", "owner")
    with pytest.raises(Forbidden, match="may not create models in space other"):
        moves.move(hub.store, hub.cfg, subject(hub, "dev"), "acme/m", "other/m")
    with pytest.raises(Invalid):
        moves.move(hub.store, hub.cfg, subject(hub, "owner"), "acme/m", "no-namespace")
    assert hub.store.get_model("acme/m") is not None


def test_an_adopted_repository_is_not_moved_behind_the_hosts_back(hub: Hub,
                                                                  tmp_path: Path) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/host", "owner")
    link = hub.cfg.repos_dir / "acme" / "host.git"
    real = tmp_path / "host-repos" / "host.git"
    real.parent.mkdir()
    link.rename(real)
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(Conflict, match="adopt"):
        moves.move(hub.store, hub.cfg, subject(hub, "owner"), "acme/host", "acme/moved")
    assert link.is_symlink() and hub.store.get_model("acme/host") is not None
