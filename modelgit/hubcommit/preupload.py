"""The preupload answer: which files go through LFS, which are ignored, what is there now.

It uses libgit2's own ``.gitattributes`` and ``.gitignore`` matching so that what it promises
is what ``git clone`` later does.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

from modelgit.git import trees
from modelgit.git.repo import open_path
from modelgit.hubcommit.apply import _tip
from modelgit.hubcommit.editor import _read_root_blob
from modelgit.hubcommit.limits import MAX_PREUPLOAD_FILES, HubError, lfs_threshold
from modelgit.hubcommit.paths import clean_path, valid_branch

if TYPE_CHECKING:
    from modelgit.config import Config


@dataclass(frozen=True)
class UploadFile:
    path: str
    size: int
    sample: bytes


def _scratch_repo(root: str, attributes: bytes | None, ignore: bytes | None
                  ) -> pygit2.Repository:
    """A throwaway work tree holding only the root ``.gitattributes`` / ``.gitignore``, so
    that libgit2 answers with git's own matching rules."""
    repo = pygit2.init_repository(root, bare=False)
    if attributes:
        Path(root, ".gitattributes").write_bytes(attributes)
    if ignore:
        Path(root, ".gitignore").write_bytes(ignore)
    return repo


def existing_oid(repo: pygit2.Repository, tree: pygit2.Tree | None, path: str) -> str | None:
    """What the client compares with its local file to skip unchanged ones: the git blob id,
    or the sha256 for an LFS pointer."""
    entry = trees.lookup(tree, path)
    if entry is None or entry.filemode not in trees.FILE_MODES:
        return None
    pointer = trees.file_meta(repo, entry.id).pointer
    return pointer.oid if pointer is not None else str(entry.id)


def upload_modes(cfg: Config, repo_path: Path, branch: str, files: list[UploadFile],
                 gitignore: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The preupload answer: per file ``uploadMode`` (``lfs`` when the branch's root
    ``.gitattributes`` sends it through LFS, or a ``.gitattributes`` in this same upload
    does, or it is over the size threshold), ``shouldIgnore`` (the upload's ``.gitignore`` or
    the branch's) and ``oid`` (what is there now). Returns the list and the tip commit id.
    """
    threshold = lfs_threshold(cfg)
    repo = open_path(repo_path, {})
    tip = _tip(repo, f"refs/heads/{valid_branch(branch)}")
    tree = tip.tree if tip is not None else None
    attributes = _read_root_blob(repo, tree, ".gitattributes")
    for item in files:
        if item.path == ".gitattributes" and item.size <= len(item.sample):
            attributes = item.sample[: item.size]
    ignore = gitignore.encode("utf-8") if gitignore is not None else \
        _read_root_blob(repo, tree, ".gitignore")
    answers: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="modelgit-preupload-") as root:
        scratch = _scratch_repo(root, attributes, ignore)
        for item in files:
            lfs = item.size > threshold or scratch.get_attr(
                item.path, "filter", pygit2.enums.AttrCheck.NO_SYSTEM) == "lfs"
            ignored = bool(ignore) and item.path not in (".gitignore", ".gitattributes") \
                and scratch.path_is_ignored(item.path)
            answers.append({"path": item.path, "uploadMode": "lfs" if lfs else "regular",
                            "shouldIgnore": ignored,
                            "oid": existing_oid(repo, tree, item.path)})
    return answers, (str(tip.id) if tip is not None else None)


def parse_upload_files(body: Mapping[str, Any]) -> tuple[list[UploadFile], str | None]:
    """The preupload request ``{"files": [{"path", "sample", "size"}], "gitIgnore"?}``."""
    files = body.get("files")
    if not isinstance(files, list) or len(files) > MAX_PREUPLOAD_FILES:
        raise HubError(400, f"'files' must be a list of at most {MAX_PREUPLOAD_FILES} files")
    gitignore = body.get("gitIgnore")
    if gitignore is not None and not isinstance(gitignore, str):
        raise HubError(400, "'gitIgnore' must be a string")
    out: list[UploadFile] = []
    for item in files:
        if not isinstance(item, dict):
            raise HubError(400, "each file must be an object with path, sample and size")
        path = clean_path(item.get("path"))
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise HubError(400, f"{path}: size must be a non-negative integer")
        raw = item.get("sample", "")
        if not isinstance(raw, str) or len(raw) > 4096:
            raise HubError(400, f"{path}: sample must be base64 of at most 512 bytes")
        try:
            sample = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise HubError(400, f"{path}: sample is not valid base64") from None
        out.append(UploadFile(path, size, sample))
    return out, gitignore
