"""Opening a model's repository: only under the repositories root, never by searching."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelgit import config as config_mod
from modelgit.git.errors import RepositoryNotFound
from modelgit.git.paths import repo_path
from modelgit.git.repo import object_dirs, open_model, open_path
from modelgit.names import InvalidName
from tests.conftest import commit_file, git
from tests.git.conftest import MODEL, Repo

OUTSIDE = ["../etc", "acme/../../etc", "acme/..", "..", "acme/x/y", "/etc/passwd", "acme//x",
           "acme/x.git", "ACME/x", "acme/.x", "acme/", "/acme/x", "acme/x\x00", "acme\\x/y",
           "", "acme", "acme/x/", "./acme/x"]


@pytest.mark.parametrize("model_id", OUTSIDE, ids=repr)
def test_ids_that_would_leave_the_root_are_refused(tmp_path: Path, model_id: str) -> None:
    cfg = config_mod.Config(data_dir=tmp_path)
    with pytest.raises(InvalidName):
        repo_path(cfg, model_id)
    with pytest.raises(RepositoryNotFound) as err:
        open_model(cfg, model_id)
    assert err.value.status == 404


def test_path_is_under_the_root(repo: Repo) -> None:
    path = repo_path(repo.cfg, MODEL)
    assert path == repo.cfg.repos_dir.absolute() / "acme" / "bert.git"
    assert open_model(repo.cfg, MODEL).is_bare


def test_missing_repository(repo: Repo) -> None:
    with pytest.raises(RepositoryNotFound, match="acme/nothing"):
        open_model(repo.cfg, "acme/nothing")


def test_no_search_upwards_into_an_enclosing_repository(tmp_path: Path) -> None:
    """A model folder that is not a repository must not open the work tree the data folder
    happens to sit in (libgit2 searches parent folders unless told not to)."""
    git("init", "-q", str(tmp_path))
    commit_file(tmp_path, "secret.txt", "not a model\n")
    cfg = config_mod.Config(data_dir=tmp_path / "data")
    (cfg.repos_dir / "acme" / "empty.git").mkdir(parents=True)
    with pytest.raises(RepositoryNotFound):
        open_model(cfg, "acme/empty")


def test_adopted_repository_may_be_a_symlink(repo: Repo, tmp_path: Path) -> None:
    cfg = config_mod.Config(data_dir=tmp_path / "data")
    link = repo_path(cfg, "host/adopted")
    link.parent.mkdir(parents=True)
    os.symlink(repo.bare, link)
    assert open_model(cfg, "host/adopted").references.get("refs/heads/main") is not None


def test_quarantine_directories_are_read(tmp_path: Path, repo: Repo) -> None:
    """Objects only in GIT_OBJECT_DIRECTORY (a push's quarantine) are visible."""
    other = tmp_path / "other.git"
    git("init", "-q", "--bare", str(other))
    objects = str(repo.bare / "objects")
    assert open_path(other, {}).get(repo.c1) is None
    seen = open_path(other, {"GIT_OBJECT_DIRECTORY": objects,
                             "GIT_ALTERNATE_OBJECT_DIRECTORIES": f'"{tmp_path}/nowhere"'})
    assert seen.get(repo.c1) is not None


def test_object_dirs_split_like_git() -> None:
    assert object_dirs(None) == []
    assert object_dirs(f'/a{os.pathsep}"/b c"{os.pathsep}') == ["/a", "/b c"]
