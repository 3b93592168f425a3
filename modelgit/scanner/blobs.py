"""Which blobs a push adds (for pre-receive checks) and which a tree holds (for `scan run`).

Scanning cost must follow the bytes a push adds, never the repository's size (bench/README.md),
so the push side walks only the commits new to the repository (`git rev-list <new>... --not --all`)
and, per commit, only the paths whose blob that commit changed. A secret added in one commit and
removed in the next is still yielded, because every new commit is visited, not just the tip.

Inside `pre-receive` the pushed objects are not in the repository yet: git keeps them in a
quarantine directory and tells the hook where through `GIT_OBJECT_DIRECTORY` (the quarantine)
and `GIT_ALTERNATE_OBJECT_DIRECTORIES` (the real object store). libgit2 does not read those
variables unless asked, and the warm server receives them as a mapping rather than in its own
environment, so they are added to the object database explicitly as disk alternates.

This module imports only pygit2: the pre-receive path must not pay for detect-secrets or bandit
unless those scanners actually run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial

import pygit2

ZERO_OID = "0" * 40
# Regular files, executables and symlinks carry blobs; gitlinks (submodules, 0o160000) do not.
BLOB_MODES = frozenset({0o100644, 0o100755, 0o120000})


@dataclass(frozen=True)
class Blob:
    """One blob at one path, with the commit that added it; content is read only when asked.

    Keeping the content out of the record lets callers filter on path and size (suffixes, the
    scan size cap) before paying to inflate large objects.
    """

    path: str
    commit: str
    oid: str
    size: int
    mode: int = 0o100644
    _loader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    def data(self) -> bytes:
        """The blob's bytes, read from the repository (or the quarantine) now."""
        if self._loader is None:
            raise ValueError(f"no content source for {self.path} ({self.oid})")
        return self._loader()

    @classmethod
    def from_bytes(cls, path: str, data: bytes, commit: str = "", mode: int = 0o100644) -> Blob:
        """A blob that is not (yet) in a repository: for the hub API's commits and for tests."""
        header = f"blob {len(data)}\0".encode()
        oid = hashlib.sha1(header + data, usedforsecurity=False).hexdigest()
        return cls(path, commit, oid, len(data), mode, partial(_constant, data))


def _constant(data: bytes) -> bytes:
    return data


def _read_blob(odb: pygit2.Odb, oid: pygit2.Oid) -> bytes:
    _type, data = odb.read(oid)
    return bytes(data)


def _object_dirs(value: str | None) -> list[str]:
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


def open_repository(repo_path: str, env: Mapping[str, str] | None = None) -> pygit2.Repository:
    """Open a repository so that objects still in a push's quarantine are readable.

    `env` is the hook's environment (os.environ when None). Relative object directories are
    relative to the repository, which is the hook's working directory for a bare repository.
    """
    env = os.environ if env is None else env
    repo = pygit2.Repository(repo_path)
    own = os.path.realpath(os.path.join(repo.path, "objects"))
    extra = _object_dirs(env.get("GIT_OBJECT_DIRECTORY"))
    extra += _object_dirs(env.get("GIT_ALTERNATE_OBJECT_DIRECTORIES"))
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


def peel_commit(repo: pygit2.Repository, oid: str | pygit2.Oid) -> pygit2.Commit | None:
    """The commit an object names (following annotated tags), or None for trees and blobs."""
    try:
        obj = repo.get(oid)
        if obj is None:
            return None
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def _existing_tips(repo: pygit2.Repository) -> Iterator[pygit2.Oid]:
    """Commits named by the repository's refs and HEAD: what `--not --all` excludes."""
    for name in repo.references:
        try:
            target = repo.references[name].resolve().target
        except (KeyError, pygit2.GitError):
            continue
        commit = peel_commit(repo, target)
        if commit is not None:
            yield commit.id
    try:
        if not repo.head_is_unborn:
            yield repo.head.peel(pygit2.Commit).id
    except (pygit2.GitError, KeyError):
        pass


def _blob(repo: pygit2.Repository, path: str, commit: str, oid: pygit2.Oid, mode: int) -> Blob:
    _type, size = repo.odb.read_header(oid)
    return Blob(path, commit, str(oid), size, mode, partial(_read_blob, repo.odb, oid))


def _walk_tree(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = ""
) -> Iterator[tuple[str, pygit2.Oid, int]]:
    for entry in tree:
        path = prefix + (entry.name or "")
        if entry.filemode == pygit2.enums.FileMode.TREE:
            subtree = repo.get(entry.id)
            if isinstance(subtree, pygit2.Tree):
                yield from _walk_tree(repo, subtree, path + "/")
        elif entry.filemode in BLOB_MODES:
            yield path, entry.id, entry.filemode


def _added_by(
    repo: pygit2.Repository, commit: pygit2.Commit
) -> Iterator[tuple[str, pygit2.Oid, int]]:
    """(path, blob, mode) for every path whose blob this commit sets, like `diff-tree -r --cc`.

    A root commit adds its whole tree. A merge adds only what differs from every parent
    (conflict resolutions, "evil" merges); content brought in from a side branch is yielded
    when that branch's own commits are visited (or it was in the repository already).
    """
    parents = commit.parents
    if not parents:
        yield from _walk_tree(repo, commit.tree)
        return
    diff = parents[0].tree.diff_to_tree(commit.tree)
    for delta in diff.deltas:
        new = delta.new_file
        if new.mode not in BLOB_MODES or new.id == pygit2.Oid(hex=ZERO_OID):
            continue
        path = new.path
        if any(_entry_oid(other.tree, path) == new.id for other in parents[1:]):
            continue
        yield path, new.id, new.mode


def _entry_oid(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    try:
        return tree[path].id
    except KeyError:
        return None


def pushed_blobs(
    repo_path: str,
    updates: list[tuple[str, str, str]],
    env: Mapping[str, str] | None = None,
) -> Iterator[Blob]:
    """Every blob the pushed commits add, oldest commit first, each (path, blob) pair once.

    `updates` are the pre-receive lines (old, new, ref). Deletions are skipped; commits already
    reachable from the repository's refs are not visited (`rev-list <new>... --not --all`).
    """
    repo = open_repository(repo_path, env)
    tips = []
    for _old, new, _ref in updates:
        if new == ZERO_OID:
            continue
        commit = peel_commit(repo, new)
        if commit is not None:
            tips.append(commit.id)
    if not tips:
        return
    sort = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
    walker = repo.walk(tips[0], sort)
    for tip in tips[1:]:
        walker.push(tip)
    for old in set(_existing_tips(repo)):
        walker.hide(old)
    seen: set[tuple[str, pygit2.Oid]] = set()
    for commit in walker:
        sha = str(commit.id)
        for path, oid, mode in _added_by(repo, commit):
            if (path, oid) in seen:
                continue
            seen.add((path, oid))
            yield _blob(repo, path, sha, oid, mode)


def tree_blobs(repo_path: str, rev: str) -> Iterator[Blob]:
    """Every blob in the tree at `rev` (a branch, tag or commit), for on-demand scans.

    The commit recorded on each blob is `rev`'s commit: finding the commit that first introduced
    each blob would cost a history walk per file, and `scan run --ref` reports on that commit.
    """
    repo = pygit2.Repository(repo_path)
    commit = repo.revparse_single(rev).peel(pygit2.Commit)
    sha = str(commit.id)
    for path, oid, mode in _walk_tree(repo, commit.tree):
        yield _blob(repo, path, sha, oid, mode)
