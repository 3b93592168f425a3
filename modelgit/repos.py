"""Bare repositories on disk: creating and removing a model's repository.

Where it lives is :func:`modelgit.git.paths.repo_path` (re-exported here for the callers that
still import it from this module).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from modelgit.config import Config
from modelgit.git import commands
from modelgit.git.paths import repo_path
from modelgit.hooks import install as hooks_install

__all__ = ["create_bare", "remove", "repo_path"]


def create_bare(cfg: Config, model_id: str, default_branch: str = "main") -> Path:
    path = repo_path(cfg, model_id)
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Receive-pack settings a hub wants: refuse corrupt objects, keep pushes atomic-friendly.
    commands.init_bare(path, default_branch, {"receive.fsckObjects": "true",
                                              "http.receivepack": "true",
                                              "modelgit.model": model_id})
    hooks_install.install(path, cfg.data_dir, model_id)
    return path


def remove(cfg: Config, model_id: str) -> None:
    """Delete the repository; for an adopted one, only our link to it (the host owns it)."""
    path = repo_path(cfg, model_id)
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
