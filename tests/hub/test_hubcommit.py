"""The pure parts of the hub API's commit path: path rules, LFS pointers, tree edits, the
``.gitattributes`` lines it writes (checked against git's own matching), and the NDJSON
reader's limits. No server: a bare repository in a temporary folder."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from modelgit import hubcommit
from modelgit.hubcommit import (
    HubError,
    TreeEditor,
    _attributes_line,
    clean_path,
    iter_lines,
    valid_branch,
)
from modelgit.lfs import pointer as pointer_codec

OID = "a" * 64


@pytest.mark.parametrize("path", ["a.txt", "dir/sub/file.bin", "é/ü.bin", "sp ace/x [1].bin",
                                  ".gitattributes", "a/.github/x", "..a/b..", "-x"])
def test_clean_path_accepts_ordinary_paths(path: str) -> None:
    assert clean_path(path) == path


@pytest.mark.parametrize("path", ["", "/abs", "a//b", "a/", "./a", "a/./b", "../a", "a/..",
                                  ".git", "x/.GIT/config", ".git./x", "a\x00b", "a\nb",
                                  "a\\b", "x" * 5000, "d/" + "y" * 300, 7, None])
def test_clean_path_refuses_hostile_paths(path: object) -> None:
    with pytest.raises(HubError) as refused:
        clean_path(path)
    assert refused.value.status == 400


@pytest.mark.parametrize("name", ["main", "feature/x", "refs/heads/dev", "v1.0"])
def test_valid_branch(name: str) -> None:
    assert valid_branch(name) == name.removeprefix("refs/heads/")


@pytest.mark.parametrize("name", ["", "a..b", "refs/tags/v1", "x\n", "a b", "-", "x.lock"])
def test_invalid_branch(name: str) -> None:
    with pytest.raises(HubError):
        valid_branch(name)


def test_hub_pointers_are_the_one_codec() -> None:
    """The hub API writes and reads pointers through modelgit.lfs.pointer (tested there)."""
    pointer = pointer_codec.encode(OID, 42)
    assert pointer_codec.parse(pointer) == pointer_codec.Pointer(OID, 42)
    assert not hasattr(hubcommit, "parse_pointer") and not hasattr(hubcommit, "lfs_pointer")


def test_tree_editor_adds_deletes_and_refuses_conflicts(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    blob = repo.create_blob(b"x")
    editor = TreeEditor(repo, None)
    editor.add("a/b/c.txt", blob)
    editor.add("a/d.txt", blob)
    editor.add("top.txt", blob)
    tree = repo[editor.write()]
    assert sorted(e.name for e in tree) == ["a", "top.txt"]
    editor = TreeEditor(repo, tree)
    with pytest.raises(HubError) as conflict:
        editor.add("top.txt/x", blob)
    assert conflict.value.status == 409
    with pytest.raises(HubError):
        editor.add("a", blob)
    with pytest.raises(HubError) as missing:
        editor.delete_file("a/nothing")
    assert missing.value.code == "EntryNotFound"
    with pytest.raises(HubError):
        editor.delete_folder("top.txt")
    editor.delete_file("a/b/c.txt")   # leaves a/b empty: git drops it
    assert [e.name for e in repo[editor.write()] / "a"] == ["d.txt"]
    editor = TreeEditor(repo, tree)
    editor.delete_file("a/b")         # a folder named without its '/': gone, as on the hubs
    assert [e.name for e in repo[editor.write()] / "a"] == ["d.txt"]
    editor.delete_folder("a")
    editor.add("a", blob)              # a file where the folder was
    tree = repo[editor.write()]
    assert sorted((e.name, e.filemode) for e in tree) == [
        ("a", pygit2.GIT_FILEMODE_BLOB), ("top.txt", pygit2.GIT_FILEMODE_BLOB)]
    editor = TreeEditor(repo, tree)
    editor.delete_file("a")
    editor.delete_file("top.txt")
    assert str(editor.write()) == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # empty tree


def test_attributes_lines_match_exactly_that_path_in_git(tmp_path: Path) -> None:
    names = ["a[1].bin", "weird #x!.bin", "sp ace/b c.bin", "star*.bin", "q?.bin", "é/ü.bin",
             "back]slash.bin", "#hash.bin", "x!y.bin"]
    others = ["a1.bin", "starX.bin", "qZ.bin", "sp ace/bXc.bin", "zz/a[1].bin"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitattributes").write_bytes(b"".join(_attributes_line(n) for n in names))
    out = subprocess.run(["git", "-c", "core.quotePath=false", "check-attr", "filter", "--",
                          *names, *others], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == [f"{n}: filter: lfs" for n in names] + \
        [f"{n}: filter: unspecified" for n in others]
    repo = pygit2.Repository(str(tmp_path))
    assert [repo.get_attr(n, "filter") for n in names] == ["lfs"] * len(names)
    assert [repo.get_attr(n, "filter") for n in others] == [None] * len(others)


def test_ndjson_reader_limits() -> None:
    body = b'{"a": 1}\n\n{"b": 2}'
    assert list(iter_lines(io.BytesIO(body), len(body), 100)) == [b'{"a": 1}', b'{"b": 2}']
    with pytest.raises(HubError) as long_line:
        list(iter_lines(io.BytesIO(b"x" * 500), 500, 100))
    assert long_line.value.status == 413
    with pytest.raises(HubError) as short_body:
        list(iter_lines(io.BytesIO(b"abc"), 10, 100))
    assert short_body.value.status == 400
    # Never reads past the announced length.
    stream = io.BytesIO(b'{"a": 1}\nTRAILING')
    assert list(iter_lines(stream, 9, 100)) == [b'{"a": 1}']
    assert stream.read() == b"TRAILING"


# --------------------------------------------------------------------------- commit races
@dataclass
class Race:
    """One model whose main has one commit, and a check that moves main (as a git push
    landing at that moment would) the first time it runs."""

    run: Callable[[str | None], hubcommit.CommitResult]
    first: str
    git_out: Callable[..., str]
    moved: list[str]


@pytest.fixture
def race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Race:
    from modelgit.authz.decide import Subject
    from modelgit.config import load
    from modelgit.lfs.storage import storage_for
    from modelgit.store import Store
    from tests.conftest import make_site

    site = make_site(tmp_path)
    site.user("owner", admin=True)
    site.model("race/m", public=True)
    cfg = load(site.data)
    store = Store(cfg.db_path)
    git_dir = str(site.data / "repos" / "race" / "m.git")

    def git_out(*args: str, stdin: bytes | None = None) -> str:
        return subprocess.run(["git", "--git-dir", git_dir, *args], input=stdin,
                              capture_output=True, check=True).stdout.decode().strip()

    def commit_file(name: str, parent: str | None) -> str:
        blob = git_out("hash-object", "-w", "--stdin", stdin=name.encode())
        tree = git_out("mktree", stdin=f"100644 blob {blob}\t{name}\n".encode())
        return git_out("commit-tree", tree, "-m", name, *(["-p", parent] if parent else []))

    first = commit_file("first.txt", None)
    git_out("update-ref", "refs/heads/main", first)
    real_check = hubcommit._check
    moved: list[str] = []

    def racing_check(request: hubcommit.CommitRequest, path: Path, folder: Path,
                     updates: list[Any]) -> None:
        real_check(request, path, folder, updates)
        if not moved:
            pushed = commit_file("pushed.txt", first)
            git_out("update-ref", "refs/heads/main", pushed)
            moved.append(pushed)

    monkeypatch.setattr(hubcommit.apply, "_check", racing_check)
    request = hubcommit.CommitRequest(
        cfg=cfg, store=store, storage=storage_for(cfg),
        model=store.get_model("race/m") or {},
        subject=Subject(user="owner", is_admin=True, scope="write"), branch="main")

    def run(parent: str | None) -> hubcommit.CommitResult:
        header: dict[str, object] = {"summary": "api"}
        if parent:
            header["parentCommit"] = parent
        body = b"".join(json.dumps(x).encode() + b"\n" for x in (
            {"key": "header", "value": header},
            {"key": "file", "value": {"path": "api.txt", "encoding": "base64",
                                      "content": base64.b64encode(b"api").decode()}}))
        return hubcommit.commit(request, io.BytesIO(body), len(body))

    return Race(run, first, git_out, moved)


def test_commit_without_parent_is_rebuilt_on_a_tip_that_moved(race: Race) -> None:
    result = race.run(None)
    assert race.moved and result.old == race.moved[0]
    assert race.git_out("rev-parse", "refs/heads/main") == result.sha
    # Built on the pushed commit's tree (which holds only pushed.txt), plus the API's file.
    assert race.git_out("ls-tree", "--name-only", "main").split() == ["api.txt", "pushed.txt"]


def test_commit_with_parent_is_refused_when_the_tip_moved(race: Race) -> None:
    with pytest.raises(HubError) as conflict:
        race.run(race.first)
    assert conflict.value.status == 412 and "parentCommit" in conflict.value.message
    assert race.git_out("rev-parse", "refs/heads/main") == race.moved[0]
