"""Opening a repository with pygit2: by model id, or by path with a push's quarantine.

Inside ``pre-receive`` the pushed objects are not in the repository yet: git keeps them in a
quarantine directory and names it in ``GIT_OBJECT_DIRECTORY`` (the quarantine) and
``GIT_ALTERNATE_OBJECT_DIRECTORIES`` (the real object store). libgit2 does not read those
variables unless asked, and the warm server receives them as a mapping rather than in its own
environment, so they are added to the object database explicitly as disk alternates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pygit2

from modelgit.config import Config
from modelgit.git.errors import RepositoryNotFound
from modelgit.git.paths import repo_path


def open_model(cfg: Config, model_id: str) -> pygit2.Repository:
    """The model's repository; :class:`RepositoryNotFound` when it is missing or unreadable.

    The id passes the name rules and the path stays under the repositories root
    (:func:`~modelgit.git.paths.repo_path`) before anything touches the disk; libgit2 is told
    not to search parent folders, so a model folder that is no repository never opens the
    repository the data folder happens to sit in.
    """
    try:
        path = repo_path(cfg, model_id)
    except ValueError:
        raise RepositoryNotFound(str(model_id)) from None
    try:
        return pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    except (pygit2.GitError, KeyError, ValueError):
        raise RepositoryNotFound(model_id) from None


def object_dirs(value: str | None) -> list[str]:
    """Split GIT_ALTERNATE_OBJECT_DIRECTORIES the way git does (path-separated, maybe quoted)."""
    if not value:
        return []
    dirs = []
    for part in value.split(os.pathsep):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] == '"':
            part = part[1:-1]
        if part:
            dirs.append(part)
    return dirs


def open_path(repo_path: str | os.PathLike[str], env: Mapping[str, str] | None = None
              ) -> pygit2.Repository:
    """Open a repository so that objects still in a push's quarantine are readable.

    ``env`` is the hook's environment (``os.environ`` when None). Relative object directories
    are relative to the repository, which is the hook's working directory for a bare one.
    """
    env = os.environ if env is None else env
    repo = pygit2.Repository(os.fspath(repo_path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    own = os.path.realpath(os.path.join(repo.path, "objects"))
    extra = object_dirs(env.get("GIT_OBJECT_DIRECTORY"))
    extra += object_dirs(env.get("GIT_ALTERNATE_OBJECT_DIRECTORIES"))
    seen = {own}
    for directory in extra:
        if not os.path.isabs(directory):
            directory = os.path.join(repo.path, directory)
        real = os.path.realpath(directory)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        repo.odb.add_disk_alternate(real)
    return repo
