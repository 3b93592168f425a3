"""What a new sync task will send: the target ref and the exact commit, resolved when the
task is made, so a moving branch does not change what a retry sends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelgit.errors import Refused

if TYPE_CHECKING:
    from modelgit.config import Config


def check_ref_name(ref: str) -> str:
    """A full branch or tag name that git accepts (``refs/heads/...`` or ``refs/tags/...``)."""
    import pygit2

    if not (ref.startswith("refs/heads/") or ref.startswith("refs/tags/")):
        raise Refused(f"{ref}: only branches (refs/heads/) and tags (refs/tags/) can be synced")
    if ref.startswith(("refs/heads/-", "refs/tags/-")) or not pygit2.reference_is_valid_name(ref):
        raise Refused(f"{ref!r} is not a valid git ref name")
    return ref


def resolve(cfg: Config, model: dict[str, Any], *, ref: str | None = None,
            commit: str | None = None) -> tuple[str, str]:
    """``(ref on the target, commit)`` of what a new task will send.

    ``--ref NAME``: the branch or tag of that name (a branch wins, as in git), or a full
    ``refs/...``; ``--commit SHA``: that commit, to ``refs/heads/sync/<sha>`` or to the ref
    given with it; neither: the default branch.
    """
    from modelgit.git import revisions
    from modelgit.git.errors import RepositoryNotFound, RevisionNotFound
    from modelgit.git.repo import open_model

    try:
        repo = open_model(cfg, model["id"])
    except RepositoryNotFound:
        raise Refused(f"the repository of {model['id']} is missing on disk") from None
    for value, what in ((ref, "--ref"), (commit, "--commit")):
        if value is not None and (not value or value.startswith("-") or "\n" in value):
            raise Refused(f"{what}: invalid value {value!r}")
    if commit is not None:
        if not revisions.is_commit_id(commit.lower()):
            raise Refused(f"--commit: {commit!r} is not a commit id (hexadecimal)")
        found = revisions.by_id(repo, commit.lower())
        if found is None:
            raise Refused(f"commit {commit} is not in {model['id']}",
                          hint="push it here first, or give a full commit id")
        sha = str(found.id)
        if ref is None:
            return f"refs/heads/sync/{sha}", sha
        full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        return check_ref_name(full), sha
    name = ref or model.get("default_branch") or "main"
    if name.startswith("refs/"):
        check_ref_name(name)
    try:
        full_name, tip = revisions.find(repo, name)
    except RevisionNotFound:
        full_name = None
    if full_name is None:  # nothing, or a commit id: --ref names branches and tags only
        raise Refused(f"no branch or tag {name!r} in {model['id']}",
                      hint="see its refs with `git ls-remote` on its clone URL")
    return check_ref_name(full_name), str(tip.id)
