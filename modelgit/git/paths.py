"""Where a model's bare repository lives: ``<repos>/<space>/<model>.git``, never elsewhere.

No pygit2 here: the cheapest callers (quota, credential checks) only need the path.
"""

from __future__ import annotations

from pathlib import Path

from modelgit.config import Config
from modelgit.names import check_model_id


def repo_path(cfg: Config, model_id: str) -> Path:
    """``repos/<space>/<model>.git``, refusing anything that would leave the repos folder.

    The name rules already exclude separators and ``..``; the path is built lexically (not
    resolved) because an adopted repository on an existing host is a symlink here to where
    the host keeps it.
    """
    space, model = check_model_id(model_id)
    root = cfg.repos_dir.absolute()
    path = root / space / f"{model}.git"
    if path.parent.parent != root:
        raise ValueError(f"model id {model_id!r} escapes the repository root")
    return path
