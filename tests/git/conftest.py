"""Real repositories made by the real ``git`` in a temporary data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from modelgit import config as config_mod
from modelgit.lfs import pointer as pointer_codec
from tests.conftest import commit_file, git

MODEL = "acme/bert"


@dataclass
class Repo:
    """A model's bare repository and the commits and objects the tests name."""

    cfg: config_mod.Config
    bare: Path
    c1: str
    c2: str
    c3: str          # on branch "side" only
    loose: str       # a commit no branch or tag leads to
    tree: str        # the tree of c1
    pointer_oid: str


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    root = tmp_path_factory.mktemp("gitpkg")
    cfg = config_mod.Config(data_dir=root / "data")
    bare = cfg.repos_dir / "acme" / "bert.git"
    bare.parent.mkdir(parents=True)
    git("init", "-q", "--bare", "--initial-branch=main", str(bare))
    work = root / "work"
    git("init", "-q", "--initial-branch=main", str(work))
    c1 = commit_file(work, "README.md", "# one\n", "first")
    pointer = pointer_codec.encode("a" * 64, 12345)
    commit_file(work, "weights/model.bin", pointer, "pointer")
    commit_file(work, "weights/big.txt", b"x" * 300_000, "big")
    c2 = commit_file(work, "README.md", "# two\n", "second")
    git("tag", "v1", c1, cwd=work)
    git("tag", "-a", "-m", "annotated", "v1-annotated", c1, cwd=work)
    tree = git("rev-parse", f"{c1}^{{tree}}", cwd=work).stdout.strip()
    git("tag", "treetag", tree, cwd=work)
    # "same" is a branch (at c2) and a tag (at c1): the branch wins.
    git("branch", "same", c2, cwd=work)
    git("tag", "same", c1, cwd=work)
    # A branch named like the short id of c1, pointing elsewhere: the branch wins.
    git("branch", c1[:7], c2, cwd=work)
    git("checkout", "-q", "-b", "side", c1, cwd=work)
    c3 = commit_file(work, "side.txt", "side\n", "side")
    git("checkout", "-q", "main", cwd=work)
    git("push", "-q", str(bare), "--all", cwd=work)
    git("push", "-q", str(bare), "--tags", cwd=work)
    loose = git("commit-tree", "-m", "loose", tree, cwd=bare).stdout.strip()
    return Repo(cfg, bare, c1, c2, c3, loose, tree, "a" * 64)
