"""Editing a commit's tree in memory, and keeping LFS files tracked by ``.gitattributes``."""

from __future__ import annotations

import re

import pygit2

from modelgit.git import trees
from modelgit.hubcommit.limits import HubError
from modelgit.hubcommit.ndjson import Operation


class _Dir:
    """One folder being edited: a TreeBuilder over its old tree, and the subfolders touched."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree | None) -> None:
        self.repo = repo
        self.builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
        self.subdirs: dict[str, _Dir] = {}

    def child(self, name: str, *, create: bool, path: str) -> _Dir | None:
        if name in self.subdirs:
            return self.subdirs[name]
        entry = self.builder.get(name)
        if entry is None:
            if not create:
                return None
            node = _Dir(self.repo, None)
        elif entry.filemode == pygit2.GIT_FILEMODE_TREE:
            node = _Dir(self.repo, self.repo[entry.id].peel(pygit2.Tree))
        else:
            raise HubError(409, f"{path}: {name!r} is a file in the repository, not a folder")
        self.subdirs[name] = node
        return node

    def is_dir(self, name: str) -> bool:
        if name in self.subdirs:
            return True
        entry = self.builder.get(name)
        return entry is not None and entry.filemode == pygit2.GIT_FILEMODE_TREE

    def write(self) -> pygit2.Oid | None:
        """The new tree's id, or None when the folder ended up empty (git has no empty
        folders, so the parent drops it)."""
        for name, node in self.subdirs.items():
            oid = node.write()
            if oid is None:
                if self.builder.get(name) is not None:
                    self.builder.remove(name)
            else:
                self.builder.insert(name, oid, pygit2.GIT_FILEMODE_TREE)
        self.subdirs = {}
        if len(self.builder) == 0:
            return None
        return self.builder.write()


class TreeEditor:
    """Apply operations to a commit's tree (or to nothing, for a first commit)."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree | None) -> None:
        self.repo = repo
        self.root = _Dir(repo, tree)

    def _parent(self, path: str, *, create: bool) -> tuple[_Dir | None, str]:
        *folders, name = path.split("/")
        node: _Dir | None = self.root
        for folder in folders:
            assert node is not None
            node = node.child(folder, create=create, path=path)
            if node is None:
                return None, name
        return node, name

    def add(self, path: str, blob: pygit2.Oid, mode: int = pygit2.GIT_FILEMODE_BLOB) -> None:
        node, name = self._parent(path, create=True)
        assert node is not None
        if node.is_dir(name):
            raise HubError(409, f"{path} is a folder in the repository; delete it first")
        try:
            node.builder.insert(name, blob, mode)
        except (ValueError, pygit2.GitError) as exc:
            raise HubError(400, f"{path}: git refuses this path ({exc})") from None

    def delete_file(self, path: str) -> None:
        """A file, or a folder named without its trailing ``/``: the client sends
        ``CommitOperationDelete("folder")`` as a file deletion and the hubs delete the folder."""
        node, name = self._parent(path, create=False)
        if node is not None and node.is_dir(name):
            self.delete_folder(path)
            return
        entry = node.builder.get(name) if node is not None else None
        if node is None or entry is None:
            raise HubError(404, f"{path}: a file with this name doesn't exist", "EntryNotFound")
        node.builder.remove(name)

    def delete_folder(self, path: str) -> None:
        node, name = self._parent(path, create=False)
        if node is None or not node.is_dir(name):
            raise HubError(404, f"{path}: a folder with this name doesn't exist",
                           "EntryNotFound")
        node.subdirs.pop(name, None)
        if node.builder.get(name) is not None:
            node.builder.remove(name)

    def apply(self, ops: list[Operation]) -> None:
        for op in ops:
            if op.kind == "add":
                assert op.blob is not None
                self.add(op.path, op.blob)
            elif op.kind == "delete_file":
                self.delete_file(op.path)
            else:
                self.delete_folder(op.path)

    def write(self) -> pygit2.Oid:
        oid = self.root.write()
        if oid is None:  # everything deleted: the empty tree
            oid = self.repo.TreeBuilder().write()
        return oid


def _read_root_blob(repo: pygit2.Repository, tree: pygit2.Tree | None, name: str) -> bytes | None:
    entry = trees.lookup(tree, name)
    if entry is None or entry.filemode not in trees.FILE_MODES:
        return None
    return trees.read_blob(repo, entry.id)[: 1024 * 1024]


_ATTR_FLAGS = pygit2.enums.AttrCheck.INCLUDE_COMMIT | pygit2.enums.AttrCheck.NO_SYSTEM


def _lfs_untracked(repo: pygit2.Repository, commit: pygit2.Oid, paths: list[str]) -> list[str]:
    """The paths that the commit's ``.gitattributes`` files do not send through LFS."""
    return [p for p in paths if repo.get_attr(p, "filter", _ATTR_FLAGS, commit=commit) != "lfs"]


_GLOB_SPECIAL = re.compile(r"([*?\[\]\\!#])")


def _attributes_line(path: str) -> bytes:
    """A ``.gitattributes`` line tracking exactly ``path`` with LFS (anchored, escaped)."""
    pattern = "/" + _GLOB_SPECIAL.sub(r"\\\1", path)
    # Whitespace ends a pattern: git-lfs writes it as a character class, which git and
    # libgit2 both understand (quoted patterns are git-only).
    pattern = pattern.replace(" ", "[[:space:]]").replace("\t", "[[:space:]]")
    return f"{pattern} filter=lfs diff=lfs merge=lfs -text\n".encode()
