"""Reading trees and blobs in process: listings with sizes, a path at a commit, LFS pointers.

Sizes come from the object header (no inflating); only blobs small enough to be an LFS
pointer are read to tell pointers from files, through the one codec
(:mod:`modelgit.lfs.pointer`). Paths are looked up in git trees, never on the file system.
Large blobs are streamed by :func:`modelgit.git.commands.stream_blob`, not read here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pygit2

from modelgit.lfs import pointer as pointer_codec

#: Regular files, executables and symlinks carry blobs; gitlinks (submodules) do not.
BLOB_MODES = frozenset({0o100644, 0o100755, 0o120000})
FILE_MODES = frozenset({0o100644, 0o100755})
TREE_MODE = 0o040000
GITLINK_MODE = 0o160000


@dataclass(frozen=True)
class FileMeta:
    """A blob's size and, when it is an LFS pointer, the pointer."""

    size: int
    pointer: pointer_codec.Pointer | None


def walk(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "", recursive: bool = True
         ) -> Iterator[tuple[str, pygit2.Object]]:
    """``(path, entry)`` in git order, folders before their contents; no recursion limit.
    Submodules (gitlinks) are left out: they hold no files here."""
    stack: list[Iterator[pygit2.Object]] = [iter(tree)]
    prefixes = [prefix]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            prefixes.pop()
            continue
        if entry.filemode == GITLINK_MODE:
            continue
        path = prefixes[-1] + str(entry.name)
        yield path, entry
        if recursive and entry.filemode == TREE_MODE:
            stack.append(iter(repo[entry.id].peel(pygit2.Tree)))
            prefixes.append(path + "/")


def walk_blobs(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = ""
               ) -> Iterator[tuple[str, pygit2.Oid, int]]:
    """``(path, blob id, mode)`` of every file and symlink in the tree, recursively."""
    for path, entry in walk(repo, tree, prefix):
        if entry.filemode in BLOB_MODES:
            yield path, entry.id, entry.filemode


def lookup(tree: pygit2.Tree | None, path: str) -> pygit2.Object | None:
    """The entry at ``path`` (``a/b/c``) in ``tree``, or None."""
    if tree is None:
        return None
    try:
        return tree[path]
    except (KeyError, ValueError, TypeError):
        return None


def blob_size(repo: pygit2.Repository, oid: pygit2.Oid | str) -> int:
    """A blob's size from its header, without inflating it."""
    _type, size = repo.odb.read_header(oid)
    return int(size)


def read_blob(repo: pygit2.Repository, oid: pygit2.Oid | str) -> bytes:
    """A blob's bytes (for blobs known to be small: check :func:`blob_size` first)."""
    _type, data = repo.odb.read(oid)
    return bytes(data)


def read_blob_head(repo: pygit2.Repository, oid: pygit2.Oid | str, limit: int) -> bytes:
    """At most the first ``limit`` bytes of a blob; a larger blob is streamed by git, never
    held whole (a pushed file can be any size)."""
    if blob_size(repo, oid) <= limit:
        return read_blob(repo, oid)
    from modelgit.git.commands import blob_head

    return blob_head(repo.path, str(oid), limit)


def file_meta(repo: pygit2.Repository, oid: pygit2.Oid | str) -> FileMeta:
    """Size, and the LFS pointer when the blob is one (only pointer-sized blobs are read)."""
    size = blob_size(repo, oid)
    if size < pointer_codec.MAX_POINTER_BYTES:
        return FileMeta(size, pointer_codec.parse(read_blob(repo, oid)))
    return FileMeta(size, None)


def read_file(repo: pygit2.Repository, tree: pygit2.Tree | None, path: str,
              max_bytes: int | None = None) -> bytes | None:
    """The bytes of the regular file at ``path`` in ``tree``; None when there is none, it is
    not a regular file, or it is larger than ``max_bytes``."""
    entry = lookup(tree, path)
    if entry is None or entry.filemode not in FILE_MODES:
        return None
    if max_bytes is not None and blob_size(repo, entry.id) > max_bytes:
        return None
    return read_blob(repo, entry.id)


def lfs_pointers(repo: pygit2.Repository, tree: pygit2.Tree) -> dict[str, tuple[int, str]]:
    """``{oid: (size, a path)}`` of the LFS pointers in a tree (symlinks are never pointers)."""
    found: dict[str, tuple[int, str]] = {}
    for path, oid, mode in walk_blobs(repo, tree):
        if mode not in FILE_MODES:
            continue
        pointer = file_meta(repo, oid).pointer
        if pointer is not None:
            found.setdefault(pointer.oid, (pointer.size, path))
    return found


def last_commits(repo: pygit2.Repository, commit: pygit2.Commit, paths: list[str],
                 budget: int) -> dict[str, pygit2.Commit]:
    """The newest commit that changed each path (first-parent comparison), within a budget
    of commits walked; paths not settled within it are left out."""
    want = set(paths)
    found: dict[str, pygit2.Commit] = {}
    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
    for n, current in enumerate(repo.walk(commit.id, order)):
        if not want or n >= budget:
            break
        parent_tree = current.parents[0].tree if current.parents else None
        for path in list(want):
            mine = lookup(current.tree, path)
            theirs = lookup(parent_tree, path)
            if mine is None or theirs is None or mine.id != theirs.id:
                found[path] = current
                want.discard(path)
    return found
