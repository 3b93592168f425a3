"""Which blobs a push adds (for pre-receive checks) and which a tree holds (for `scan run`).

Scanning cost must follow the bytes a push adds, never the repository's size (bench/README.md),
so the push side walks only the commits new to the repository (`git rev-list <new>... --not --all`)
and, per commit, only the paths whose blob that commit changed. A secret added in one commit and
removed in the next is still yielded, because every new commit is visited, not just the tip.

Inside `pre-receive` the pushed objects are still in git's quarantine: the repository is
opened through it by :func:`modelgit.git.repo.open_path`; the commit walk and tree reads are
:mod:`modelgit.git.revisions` and :mod:`modelgit.git.trees`.

This module imports only pygit2: the pre-receive path must not pay for detect-secrets or bandit
unless those scanners actually run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial

import pygit2

from modelgit.git import revisions, trees
from modelgit.git.repo import open_path
from modelgit.git.revisions import peel_commit
from modelgit.git.trees import BLOB_MODES

ZERO_OID = "0" * 40


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


def _blob(repo: pygit2.Repository, path: str, commit: str, oid: pygit2.Oid, mode: int) -> Blob:
    _type, size = repo.odb.read_header(oid)
    return Blob(path, commit, str(oid), size, mode, partial(_read_blob, repo.odb, oid))


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
        yield from trees.walk_blobs(repo, commit.tree)
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
    entry = trees.lookup(tree, path)
    return entry.id if entry is not None else None


def pushed_blobs(
    repo_path: str,
    updates: list[tuple[str, str, str]],
    env: Mapping[str, str] | None = None,
) -> Iterator[Blob]:
    """Every blob the pushed commits add, oldest commit first, each (path, blob) pair once.

    `updates` are the pre-receive lines (old, new, ref). Deletions are skipped; commits already
    reachable from the repository's refs are not visited (`rev-list <new>... --not --all`).
    """
    repo = open_path(repo_path, env)
    tips = []
    for _old, new, _ref in updates:
        if new == ZERO_OID:
            continue
        commit = peel_commit(repo, new)
        if commit is not None:
            tips.append(commit.id)
    seen: set[tuple[str, pygit2.Oid]] = set()
    for commit in revisions.walk_new(repo, tips):
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
    repo = open_path(repo_path, {})
    commit = revisions.resolve(repo, rev)
    sha = str(commit.id)
    for path, oid, mode in trees.walk_blobs(repo, commit.tree):
        yield _blob(repo, path, sha, oid, mode)
