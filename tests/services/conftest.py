"""A data folder with a real store (SQLite, then PostgreSQL) and repository root, made
through the services only (no CLI, no server), so that a failing service test points at the
service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelgit.authz import keys
from modelgit.config import DEFAULTS, Config
from modelgit.store import Store


@dataclass
class Hub:
    cfg: Config
    store: Store

    def user(self, name: str, *, admin: bool = False, scope: str = "write") -> str:
        """Add a user (if new) and return a fresh key of theirs."""
        if self.store.get_user(name) is None:
            self.store.add_user(name, is_admin=admin)
        new = keys.make_key()
        self.store.add_key(new.key_id, name, new.digest, scope, None)
        return new.key

    def space(self, name: str, owner: str = "owner") -> None:
        if self.store.get_user(owner) is None:
            self.user(owner, admin=True)
        if self.store.get_space(name) is None:
            self.store.add_space(name, owner, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hub]:
    """Every service test runs on both stores: SQLite in the data folder and PostgreSQL."""
    settings = dict(DEFAULTS)
    if request.param == "postgresql":
        settings["database"] = request.getfixturevalue("pg_url")
    cfg = Config(data_dir=tmp_path / "data", settings=settings)
    for folder in (cfg.data_dir, cfg.repos_dir, cfg.lfs_dir, cfg.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    store = Store.create(cfg.store_target)
    yield Hub(cfg, store)
    store.close()
