"""Objects written aside stay invisible to the repository until moved in."""

from __future__ import annotations

from pathlib import Path

import pygit2

from modelgit.git import commands
from modelgit.git.quarantine import migrate, open_quarantined, quarantine, quarantine_env
from modelgit.git.repo import open_path
from tests.conftest import git


def test_write_aside_then_move_in(tmp_path: Path) -> None:
    bare = tmp_path / "m.git"
    git("init", "-q", "--bare", str(bare))
    with quarantine(bare) as folder:
        assert folder.parent == bare / "objects"
        repo = open_quarantined(bare, folder)
        oid = str(repo.create_blob(b"not yet accepted\n"))
        assert open_path(bare, {}).get(oid) is None
        env = quarantine_env(bare, folder)
        assert open_path(bare, env).get(oid) is not None  # what the checks see
        assert commands.run(bare, "cat-file", "-e", oid, env=env).returncode == 0
        migrate(folder, bare / "objects")
    assert not folder.exists()
    blob = open_path(bare, {}).get(oid)
    assert isinstance(blob, pygit2.Blob) and blob.data == b"not yet accepted\n"


def test_refused_leaves_nothing(tmp_path: Path) -> None:
    bare = tmp_path / "m.git"
    git("init", "-q", "--bare", str(bare))
    with quarantine(bare) as folder:
        oid = str(open_quarantined(bare, folder).create_blob(b"refused\n"))
    assert not folder.exists()
    assert open_path(bare, {}).get(oid) is None
