"""The post-receive spool (modelgit/hooks/spool.py): what a push owes when the database was
gone after its refs moved runs later, once, and only what is still owed. On a real SQLite
site; the PostgreSQL outage itself is tests/e2e/test_postgres_outage.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

from modelgit.config import load
from modelgit.hooks import spool
from modelgit.hooks.pre_receive import RefUpdate
from modelgit.store import Store
from tests.conftest import Site, make_site

ZERO = "0" * 40


def _site(tmp_path: Path) -> tuple[Site, Store]:
    site = make_site(tmp_path)
    site.user("dev")
    site.model("dev/one", owner="dev")
    cfg = load(site.data)
    return site, Store(cfg.store_target)


def test_a_spooled_push_runs_its_owed_steps_once(tmp_path: Path) -> None:
    site, store = _site(tmp_path)
    cfg = load(site.data)
    update = RefUpdate(ZERO, "a" * 40, "refs/heads/main")
    path = spool.spool_push(cfg, "dev/one", "dev", [update], ["record_push"])
    assert spool.pending(cfg) == [path]
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())
    assert spool.replay(cfg, store) == 1
    assert spool.pending(cfg) == [] and list(path.parent.iterdir()) == []
    [row] = store.audit_rows(target="dev/one", action="push")
    assert row["actor"] == "dev"
    assert row["detail"]["updates"] == [[ZERO, "a" * 40, "refs/heads/main"]]
    assert spool.replay(cfg, store) == 0  # nothing twice
    assert len(store.audit_rows(target="dev/one", action="push")) == 1


def test_a_push_another_worker_claimed_or_of_a_deleted_model_is_not_run(tmp_path: Path) -> None:
    site, store = _site(tmp_path)
    cfg = load(site.data)
    update = RefUpdate(ZERO, "b" * 40, "refs/heads/main")
    taken = spool.spool_push(cfg, "dev/one", "dev", [update], ["record_push"])
    os.rename(taken, taken.with_name(taken.name + ".claimed-1"))  # another front end has it
    gone = spool.spool_push(cfg, "dev/gone", "dev", [update], ["record_push"])
    assert spool.pending(cfg) == [gone]
    assert spool.replay(cfg, store) == 1  # dropped: the model is not there any more
    assert not gone.exists()
    assert store.audit_rows(action="push") == []
    assert [p.name for p in taken.parent.iterdir()] == [taken.name + ".claimed-1"]


def test_a_claim_whose_worker_stopped_is_run_again_and_an_unreadable_file_kept_aside(
        tmp_path: Path) -> None:
    site, store = _site(tmp_path)
    cfg = load(site.data)
    update = RefUpdate(ZERO, "c" * 40, "refs/heads/main")
    path = spool.spool_push(cfg, "dev/one", "dev", [update], ["record_push"])
    stale = path.with_name(path.name + ".claimed-99999")
    os.rename(path, stale)
    old = time.time() - spool.ABANDONED_SECONDS - 60
    os.utime(stale, (old, old))  # claimed long ago by a worker that is gone
    broken = path.with_name("00000000000000000001-0000.json")
    broken.write_text("{not json")
    assert spool.pending(cfg) == [broken, path]
    assert spool.replay(cfg, store) == 1
    assert len(store.audit_rows(target="dev/one", action="push")) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [broken.name + ".unreadable"]
    assert spool.pending(cfg) == []
