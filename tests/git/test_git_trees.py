"""Tree and blob reads at a revision: listings with sizes, paths, pointers, streaming."""

from __future__ import annotations

import pygit2
import pytest

from modelgit.git import commands, revisions, trees
from modelgit.git.repo import open_model
from tests.git.conftest import MODEL, Repo


@pytest.fixture(scope="module")
def pygit(repo: Repo) -> pygit2.Repository:
    return open_model(repo.cfg, MODEL)


def test_listing_with_sizes_and_pointers(repo: Repo, pygit: pygit2.Repository) -> None:
    tip = revisions.resolve(pygit, "main")
    listed = {path: entry for path, entry in trees.walk(pygit, tip.tree)}
    assert list(listed) == ["README.md", "weights", "weights/big.txt", "weights/model.bin"]
    assert listed["weights"].filemode == trees.TREE_MODE
    assert trees.file_meta(pygit, listed["README.md"].id) == trees.FileMeta(6, None)
    assert trees.file_meta(pygit, listed["weights/big.txt"].id).size == 300_000
    meta = trees.file_meta(pygit, listed["weights/model.bin"].id)
    assert meta.pointer is not None and (meta.pointer.oid, meta.pointer.size) == (
        repo.pointer_oid, 12345)
    top = [path for path, _ in trees.walk(pygit, tip.tree, recursive=False)]
    assert top == ["README.md", "weights"]
    blobs = [path for path, _oid, _mode in trees.walk_blobs(pygit, tip.tree)]
    assert blobs == ["README.md", "weights/big.txt", "weights/model.bin"]
    assert trees.lfs_pointers(pygit, tip.tree) == {repo.pointer_oid: (12345, "weights/model.bin")}


def test_reading_a_path_at_a_revision(pygit: pygit2.Repository) -> None:
    old, new = revisions.resolve(pygit, "v1"), revisions.resolve(pygit, "main")
    assert trees.read_file(pygit, old.tree, "README.md") == b"# one\n"
    assert trees.read_file(pygit, new.tree, "README.md") == b"# two\n"
    assert trees.read_file(pygit, new.tree, "README.md", max_bytes=5) is None
    assert trees.read_file(pygit, new.tree, "weights") is None  # a folder
    for missing in ("nope", "weights/nope", "../README.md", "/README.md", "README.md/x", ""):
        assert trees.read_file(pygit, new.tree, missing) is None, missing
    assert trees.lookup(None, "README.md") is None


def test_last_commits(repo: Repo, pygit: pygit2.Repository) -> None:
    tip = revisions.resolve(pygit, "main")
    last = trees.last_commits(pygit, tip, ["README.md", "weights/model.bin"], budget=100)
    assert str(last["README.md"].id) == repo.c2
    assert last["weights/model.bin"].message.strip() == "pointer"
    assert trees.last_commits(pygit, tip, ["weights/model.bin"], budget=1) == {}


def test_blob_streaming_ranges(repo: Repo, pygit: pygit2.Repository) -> None:
    big = trees.lookup(revisions.resolve(pygit, "main").tree, "weights/big.txt")
    assert big is not None
    oid = str(big.id)
    assert b"".join(commands.stream_blob(repo.bare, oid)) == b"x" * 300_000
    assert b"".join(commands.stream_blob(repo.bare, oid, 299_990, 100)) == b"x" * 10
    assert commands.blob_head(repo.bare, oid, 1024) == b"x" * 1024
    assert b"".join(commands.stream_blob(repo.bare, "f" * 40)) == b""


def test_commands_drop_inherited_git_variables(repo: Repo, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.setenv("GIT_DIR", "/nowhere")
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", "/nowhere/objects")
    assert "GIT_DIR" not in commands.clean_env()
    proc = commands.run(repo.bare, "rev-parse", "--verify", "refs/heads/main")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == repo.c2
