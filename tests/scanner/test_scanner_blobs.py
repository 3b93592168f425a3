"""pushed_blobs inside a real pre-receive hook (quarantine), and tree_blobs at any commit."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelgit.scanner.blobs import Blob, pushed_blobs, tree_blobs
from tests.helpers.scanner_repos import bare_repo, clone, commit, git, isolated_git, push, rev

__all__ = ["isolated_git"]


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.mark.parametrize("unpack_limit", [1, 100], ids=["kept-as-pack", "unpacked-loose"])
def test_pushed_blobs_in_pre_receive_hook(tmp_path: Path, unpack_limit: int) -> None:
    bare = bare_repo(tmp_path)
    git("config", "receive.unpackLimit", str(unpack_limit), cwd=bare)
    work = clone(bare, tmp_path)
    c1 = commit(work, {"a.txt": "one\n", "dir/b.py": "print('b')\n"}, "first")
    c2 = commit(work, {"a.txt": "two\n", "dir/b.py": None}, "second")

    accepted, out = push(work)

    assert accepted, out["stderr"]
    assert out["QUARANTINE"] is True  # the objects really were only in the quarantine
    assert out["BLOBS"] == [
        ["a.txt", c1, sha1(b"blob 4\0one\n"), 4, sha1(b"one\n")],
        ["dir/b.py", c1, sha1(b"blob 11\0print('b')\n"), 11, sha1(b"print('b')\n")],
        ["a.txt", c2, sha1(b"blob 4\0two\n"), 4, sha1(b"two\n")],
    ]


def test_only_commits_new_to_the_repository_are_visited(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    work = clone(bare, tmp_path)
    commit(work, {"old.txt": "old\n"})
    assert push(work)[0]
    c2 = commit(work, {"new.txt": "new\n"})

    accepted, out = push(work)

    assert accepted
    assert [(p, c) for p, c, *_ in out["BLOBS"]] == [("new.txt", c2)]


def test_new_branch_at_a_known_commit_and_deletions_add_nothing(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    work = clone(bare, tmp_path)
    commit(work, {"a.txt": "a\n"})
    assert push(work)[0]

    accepted, out = push(work, "HEAD:refs/heads/other")
    assert accepted and out["BLOBS"] == []

    accepted, out = push(work, ":refs/heads/other")
    assert accepted and out.get("BLOBS", []) == []
    assert rev(bare, "refs/heads/other") is None


def test_annotated_tag_and_several_refs_in_one_push(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    work = clone(bare, tmp_path)
    c1 = commit(work, {"a.txt": "a\n"})
    git("tag", "-a", "v1", "-m", "release", cwd=work)
    git("checkout", "-q", "-b", "side", cwd=work)
    c2 = commit(work, {"side.txt": "s\n"})

    accepted, out = push(work, "main", "side", "refs/tags/v1")

    assert accepted
    assert sorted((p, c) for p, c, *_ in out["BLOBS"]) == [("a.txt", c1), ("side.txt", c2)]


def test_merge_adds_only_what_differs_from_every_parent(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    work = clone(bare, tmp_path)
    commit(work, {"base.txt": "base\n"})
    assert push(work)[0]
    git("checkout", "-q", "-b", "feature", cwd=work)
    c_feature = commit(work, {"feature.txt": "f\n", "both.txt": "feature\n"})
    git("checkout", "-q", "main", cwd=work)
    c_main = commit(work, {"main.txt": "m\n", "both.txt": "main\n"})
    git("merge", "-q", "feature", cwd=work, check=False)  # conflicts on both.txt
    (work / "both.txt").write_text("resolved\n")
    git("add", "both.txt", cwd=work)
    git("commit", "-q", "--no-edit", cwd=work)
    c_merge = rev(work, "HEAD")

    accepted, out = push(work, "main")

    assert accepted
    got = sorted((p, c) for p, c, *_ in out["BLOBS"])
    assert got == sorted([
        ("feature.txt", c_feature), ("both.txt", c_feature),
        ("main.txt", c_main), ("both.txt", c_main),
        ("both.txt", c_merge),  # the resolution is content of the merge's own
    ])


def test_pushed_blobs_outside_a_hook_reads_the_named_object_directories(tmp_path: Path) -> None:
    """The warm server passes the hook's environment as a mapping: honour it, not os.environ."""
    repo = tmp_path / "repo.git"
    git("init", "-q", "--bare", str(repo))
    elsewhere = tmp_path / "objects-elsewhere"
    (elsewhere / "info").mkdir(parents=True)
    (elsewhere / "pack").mkdir()
    env = {"GIT_OBJECT_DIRECTORY": str(elsewhere)}

    def plumbing(*args: str, stdin: str = "") -> str:
        """A git command writing its objects only into `elsewhere`."""
        return subprocess.run(["git", *args], input=stdin, text=True, capture_output=True,
                              cwd=repo, env={**os.environ, **env}, check=True).stdout.strip()

    blob = plumbing("hash-object", "-w", "--stdin", stdin="hello\n")
    tree = plumbing("mktree", stdin=f"100644 blob {blob}\thello.txt\n")
    commit_sha = plumbing("commit-tree", tree, "-m", "c")

    assert list(pushed_blobs(str(repo), [("0" * 40, commit_sha, "refs/heads/main")],
                             env={})) == []  # without the directory the commit is unknown
    blobs = list(pushed_blobs(str(repo), [("0" * 40, commit_sha, "refs/heads/main")], env=env))

    assert [(b.path, b.commit, b.data()) for b in blobs] == [("hello.txt", commit_sha,
                                                              b"hello\n")]


def test_tree_blobs_at_an_older_commit(tmp_path: Path) -> None:
    work = tmp_path / "w"
    git("init", "-q", str(work))
    c1 = commit(work, {"a.txt": "a1\n", "d/e.txt": "e\n"})
    commit(work, {"a.txt": "a2\n", "d/e.txt": None, "f.txt": "f\n"})

    old = {b.path: (b.commit, b.data()) for b in tree_blobs(str(work), c1)}
    new = {b.path: b.data() for b in tree_blobs(str(work), "HEAD")}

    assert old == {"a.txt": (c1, b"a1\n"), "d/e.txt": (c1, b"e\n")}
    assert new == {"a.txt": b"a2\n", "f.txt": b"f\n"}


def test_blob_from_bytes_has_git_object_id() -> None:
    blob = Blob.from_bytes("x.txt", b"hi\n", commit="c" * 40)
    assert blob.oid == sha1(b"blob 3\0hi\n") and blob.size == 3 and blob.data() == b"hi\n"


def test_importing_blobs_does_not_import_the_scanners() -> None:
    code = ("import sys, modelgit.scanner.blobs; "
            "print(any(m.split('.')[0] in ('detect_secrets', 'bandit', 'picklescan') "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
