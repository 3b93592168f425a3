"""Bare repositories on disk: creating and removing a model's repository.

A new repository starts, as on the public hubs, with one commit on its default branch holding
their default ``.gitattributes`` (weights, archives and tensors tracked by LFS): the hub
clients read a commit id, check parent commits and detect no-op commits from the first
call, and a small ``.safetensors`` pushed with git goes to LFS like a large one.

Where it lives is :func:`modelgit.git.paths.repo_path` (re-exported here for the callers that
still import it from this module).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2

from modelgit.config import Config
from modelgit.git import commands
from modelgit.git.paths import repo_path
from modelgit.hooks import install as hooks_install

__all__ = ["DEFAULT_GITATTRIBUTES", "INITIAL_AUTHOR", "INITIAL_MESSAGE", "INITIAL_TIME",
           "create_bare", "initial_commit", "remove", "repo_path"]

#: The public hubs' default ``.gitattributes`` for a model repository (the same patterns in
#: the same order), so that a repository moved between them tracks the same files with LFS.
DEFAULT_GITATTRIBUTES = b"""\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
"""

#: The message of a new repository's first commit (the public hubs' wording).
INITIAL_MESSAGE = "initial commit"


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


#: Who and when the first commit says: the same for every model on every site, so the first
#: commit has the same id everywhere and a replica created on another site (``modelgit sync``)
#: or a model made anew for a moved history starts from the very commit its source has.
INITIAL_AUTHOR = ("modelgit", "modelgit@modelgit.invalid")
INITIAL_TIME = 0


def initial_commit(path: Path, branch: str) -> str:
    """Write the first commit (:data:`DEFAULT_GITATTRIBUTES` at the root) on ``branch`` of
    the new, empty repository at ``path``; its id, the same for every model. Refuses a
    repository that has the branch already (never moves an existing branch)."""
    repo = pygit2.Repository(str(path))
    ref = f"refs/heads/{branch}"
    if ref in repo.references:
        raise FileExistsError(f"{path} already has {ref}")
    builder = repo.TreeBuilder()
    builder.insert(".gitattributes", repo.create_blob(DEFAULT_GITATTRIBUTES),
                   pygit2.enums.FileMode.BLOB)
    author = pygit2.Signature(*INITIAL_AUTHOR, INITIAL_TIME, 0)
    oid = repo.create_commit(ref, author, author, INITIAL_MESSAGE + "\n", builder.write(), [])
    return str(oid)


def remove(cfg: Config, model_id: str) -> None:
    """Delete the repository; for an adopted one, only our link to it (the host owns it)."""
    path = repo_path(cfg, model_id)
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
