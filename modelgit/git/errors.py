"""What reading a repository can refuse: a missing repository, a revision that names nothing.

Both are :class:`~modelgit.errors.NotFound` with the hub's error codes, so every front end maps
them; a hostile revision is answered exactly like an unknown one (it names nothing here).
"""

from __future__ import annotations

from modelgit.errors import NotFound


class RepositoryNotFound(NotFound):
    """The model has no readable repository on this server."""

    def __init__(self, model_id: str) -> None:
        super().__init__(f"model {model_id} has no repository on this server",
                         code="RepoNotFound")
        self.model_id = model_id


class RevisionNotFound(NotFound):
    """``rev`` is not a branch, a tag or a (reachable) commit of the repository."""

    def __init__(self, rev: str, where: str = "the repository") -> None:
        shown = rev if len(rev) <= 120 else rev[:117] + "..."
        super().__init__(f"{shown!r} is not a branch, a tag or a commit of {where}",
                         hint="see its branches and tags with `git ls-remote`",
                         code="RevisionNotFound")
        self.rev = rev


class InvalidRevision(RevisionNotFound):
    """A revision refused before any lookup (options, ranges, reflog syntax, control bytes)."""
