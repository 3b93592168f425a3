"""Objects written aside and moved in only when accepted, as ``git receive-pack`` does.

A hub commit writes its objects to a folder inside the repository's ``objects/``
(``tmp_objdir-hub-*``) and runs the push checks with git's quarantine variables, so the
scanners and the quota see exactly what a push shows them; a refused commit leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pygit2

from modelgit.git.commands import clean_env


@contextmanager
def quarantine(repo_path: Path) -> Iterator[Path]:
    """A fresh object folder inside the repository's ``objects/`` (git's own place for a
    push's quarantine: same file system, so moving objects in is a rename); removed after."""
    objects = repo_path / "objects"
    path = Path(tempfile.mkdtemp(prefix="tmp_objdir-hub-", dir=objects))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def open_quarantined(repo_path: Path, folder: Path) -> pygit2.Repository:
    """The repository with writes going to ``folder`` and reads seeing both."""
    repo = pygit2.Repository(str(repo_path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    odb = pygit2.Odb(str(folder))
    odb.add_disk_alternate(str((repo_path / "objects").absolute()))
    repo.set_odb(odb)
    return repo


def quarantine_env(repo_path: Path, folder: Path) -> dict[str, str]:
    """The environment git gives pre-receive for a quarantined push."""
    env = clean_env()
    env.update({
        "GIT_DIR": str(repo_path),
        "GIT_OBJECT_DIRECTORY": str(folder),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str((repo_path / "objects").absolute()),
        "GIT_QUARANTINE_PATH": str(folder),
    })
    return env


def migrate(folder: Path, objects: Path) -> None:
    """Move the quarantined objects into the repository, as receive-pack does: loose objects
    by link-or-keep (an object already there is the same bytes), packs before their index."""
    later: list[tuple[Path, Path]] = []
    for sub in sorted(folder.iterdir()):
        if not sub.is_dir():
            continue
        for item in sorted(sub.iterdir()):
            dest = objects / sub.name / item.name
            if item.suffix == ".idx":
                later.append((item, dest))
                continue
            _move(item, dest)
    for item, dest in later:
        _move(item, dest)


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(exist_ok=True)
    try:
        os.link(src, dest)
    except FileExistsError:
        pass
    except OSError:
        if not dest.exists():
            os.replace(src, dest)
            return
    src.unlink(missing_ok=True)
