"""The one revision resolution: what a branch, tag or commit id names in a repository.

Order, as the hub clients expect (huggingface_hub sends branch names, tags and commit ids in
the same ``revision`` slot): a branch, then a tag, then a commit id (full, or an unambiguous
prefix of at least :data:`MIN_SHORT_ID` hex digits). ``refs/heads/...`` and ``refs/tags/...``
name exactly that ref; other ``refs/`` are not revisions here. ``HEAD`` (never a branch
name: pushes refuse it) is the commit the repository's HEAD leads to. Annotated tags are peeled to
their commit; a ref or id that does not lead to a commit names nothing.

Revisions come from the network and the command line, so anything git's revision syntax would
read as more than a name is refused before any lookup (fail closed): options (``-x``), ranges
(``a..b``), reflog and ancestry syntax (``@{...}``, ``~``, ``^``, ``:``), globs, control
bytes, names that are no valid ref name, and anything over :data:`MAX_REVISION` characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pygit2

from modelgit.git.errors import InvalidRevision, RevisionNotFound

#: Longest revision looked at (git's own ref names are far shorter in practice).
MAX_REVISION = 255
#: Shortest commit id prefix accepted (git's own minimum).
MIN_SHORT_ID = 4
_HEX = re.compile(r"[0-9a-f]{4,64}")
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")
_KINDS = {"refs/heads/": "branch", "refs/tags/": "tag"}


@dataclass(frozen=True)
class Ref:
    """A branch or tag with the commit it leads to."""

    name: str       # full name, ``refs/heads/main``
    short: str      # ``main``
    kind: str       # ``branch`` or ``tag``
    commit: str     # hex id of the peeled commit


def check_revision(rev: object) -> str:
    """``rev`` if it may be looked up at all, else :class:`InvalidRevision`."""
    if not isinstance(rev, str) or not rev or len(rev) > MAX_REVISION:
        raise InvalidRevision(str(rev)[:MAX_REVISION])
    full = rev if rev.startswith("refs/") else f"refs/heads/{rev}"
    short = full.split("/", 2)[2] if full.count("/") >= 2 else ""
    if short.startswith("-") or short == "@" or _CONTROL.search(rev):
        raise InvalidRevision(rev)
    if not pygit2.reference_is_valid_name(full):
        raise InvalidRevision(rev)
    return rev


def is_commit_id(rev: str) -> bool:
    """Whether ``rev`` reads as a (possibly short) commit id."""
    return _HEX.fullmatch(rev) is not None


def peel_commit(repo: pygit2.Repository, oid: str | pygit2.Oid) -> pygit2.Commit | None:
    """The commit an object names (following annotated tags), or None for trees, blobs and
    objects that are not there."""
    try:
        obj = repo.get(oid)
        if obj is None:
            return None
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, TypeError, pygit2.GitError, pygit2.InvalidSpecError):
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def ref_commit(repo: pygit2.Repository, name: str) -> pygit2.Commit | None:
    """The commit a full ref name leads to (symbolic refs and annotated tags followed), or
    None when the ref is missing or names no commit."""
    try:
        ref = repo.references.get(name)
        if ref is None:
            return None
        commit = ref.resolve().peel(pygit2.Commit)
    except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def list_refs(repo: pygit2.Repository) -> list[Ref]:
    """Branches and tags that lead to a commit, sorted by full name; others are left out."""
    out = []
    for name in sorted(repo.references):
        prefix = next((p for p in _KINDS if name.startswith(p)), None)
        if prefix is None:
            continue
        commit = ref_commit(repo, name)
        if commit is not None:
            out.append(Ref(name, name[len(prefix):], _KINDS[prefix], str(commit.id)))
    return out


def tips(repo: pygit2.Repository) -> set[pygit2.Oid]:
    """The commits the branches and tags lead to."""
    return {commit.id for name in repo.references if name.startswith(tuple(_KINDS))
            if (commit := ref_commit(repo, name)) is not None}


def reachable(repo: pygit2.Repository, oid: pygit2.Oid) -> bool:
    """Whether a branch or tag leads to ``oid``: one walk over the history, whatever the
    number of refs (a tip itself is answered without walking)."""
    heads = tips(repo)
    if oid in heads:
        return True
    if not heads:
        return False
    first, *others = heads
    walker = repo.walk(first, pygit2.enums.SortMode.NONE)
    for other in others:
        walker.push(other)
    return any(commit.id == oid for commit in walker)


def by_id(repo: pygit2.Repository, rev: str) -> pygit2.Commit | None:
    """The commit a full or unambiguous short commit id names (tags peeled), or None."""
    if not is_commit_id(rev):
        return None
    try:
        obj = repo.get(rev) if len(rev) in (40, 64) else repo.git_object_lookup_prefix(rev)
    except (KeyError, ValueError, pygit2.GitError):  # absent, or an ambiguous prefix
        return None
    return peel_commit(repo, obj.id) if obj is not None else None


def find(repo: pygit2.Repository, rev: str, *, reachable_only: bool = False
         ) -> tuple[str | None, pygit2.Commit]:
    """``(full ref name or None for a commit id, commit)`` that ``rev`` names.

    ``reachable_only``: a commit id must be reachable from a branch or tag (what the network
    may read: a commit a force-push removed is not served, as ``git fetch`` would not serve
    it). Raises :class:`InvalidRevision` or :class:`RevisionNotFound`.
    """
    check_revision(rev)
    if rev.startswith("refs/"):
        names = [rev] if rev.startswith(tuple(_KINDS)) else []
    else:
        names = [f"refs/heads/{rev}", f"refs/tags/{rev}"] + (["HEAD"] if rev == "HEAD" else [])
    for name in names:
        if name in repo.references:
            commit = ref_commit(repo, name)
            if commit is None:  # the ref exists and names no commit: nothing to read
                raise RevisionNotFound(rev)
            return name, commit
    commit = None if rev.startswith("refs/") else by_id(repo, rev.lower())
    if commit is not None and (not reachable_only or reachable(repo, commit.id)):
        return None, commit
    raise RevisionNotFound(rev)


def resolve(repo: pygit2.Repository, rev: str, *, reachable_only: bool = False
            ) -> pygit2.Commit:
    """The commit ``rev`` names (see :func:`find`)."""
    return find(repo, rev, reachable_only=reachable_only)[1]


def walk_new(repo: pygit2.Repository, new: list[pygit2.Oid]) -> Iterator[pygit2.Commit]:
    """Commits reachable from ``new`` and from no ref or HEAD, oldest first: what
    ``git rev-list --reverse --topo-order <new>... --not --all`` lists, in process."""
    if not new:
        return
    walker = repo.walk(new[0], pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
    for tip in new[1:]:
        walker.push(tip)
    for old in set(_existing_tips(repo)):
        walker.hide(old)
    yield from walker


def _existing_tips(repo: pygit2.Repository) -> Iterator[pygit2.Oid]:
    """Commits named by the repository's refs and HEAD: what ``--not --all`` excludes."""
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
