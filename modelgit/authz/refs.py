"""Ref rules (docs/access.md): which ref changes a role may make. Pure; no I/O.

Every route that moves a ref asks :func:`ref_ruling` through the pre-receive checks (git push
and the hub API's commits run the same ``check_ref_rules``), so the rules live here once:

- only ``refs/heads/*`` and ``refs/tags/*``; no name part starting with ``-`` (it turns into
  an option in other tools); ``HEAD`` is neither a branch nor a tag name (``resolve/HEAD``
  and ``git rev-parse HEAD`` would pick it instead of the repository's HEAD). A ref of that
  name made before the rule may still be deleted;
- every ref that is created or moved points at an object that exists and peels to a commit: a
  branch at a commit, a tag at a commit or at annotated tags that end in one. A tag to a blob
  or a tree would put bytes behind a ref that no commit-walking check ever reads;
- any ref change needs developer; moving or deleting an existing tag needs maintainer
  (creating one needs developer); deleting or force-pushing the default branch needs
  maintainer.

The caller supplies the facts: the object types (``None`` when the object is missing) and,
lazily, whether an update of the default branch is a fast-forward (a history walk, asked for
only when the answer matters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelgit.authz.roles import RANK

NAMESPACES = ("refs/heads/", "refs/tags/")
#: Object types as git names them.
OBJECT_TYPES = ("commit", "tree", "blob", "tag")


@dataclass(frozen=True)
class RefRuling:
    allowed: bool
    reason: str  # empty when allowed; otherwise a sentence starting with the ref's name

    def __bool__(self) -> bool:
        return self.allowed


OK = RefRuling(True, "")


def _no(reason: str) -> RefRuling:
    return RefRuling(False, reason)


def ref_ruling(*, ref: str, role: str | None, model_id: str, default_branch: str,
               create: bool, delete: bool, new_type: str | None, peeled_type: str | None,
               fast_forward: Callable[[], bool]) -> RefRuling:
    """May a holder of ``role`` make this change to ``ref``?

    ``create``: the ref does not exist yet; ``delete``: the change removes it (then the types
    are not looked at). ``new_type`` is the type of the object the ref would name, and
    ``peeled_type`` the type after following annotated tags (``None``: missing, or a chain of
    tags that does not end). ``fast_forward()`` says whether the new commit descends from the
    old one; it is called only for an update of the default branch by someone below
    maintainer. Anything unexpected refuses.
    """
    if create and delete:
        return _no(f"{ref}: a change cannot both create and delete a ref.")
    namespace = next((n for n in NAMESPACES if ref.startswith(n)), None)
    if namespace is None:
        return _no(f"{ref}: only branches (refs/heads/) and tags (refs/tags/) can be pushed"
                   f" to {model_id}.")
    is_tag = namespace == "refs/tags/"
    what = "tag" if is_tag else "branch"
    name = ref[len(namespace):]
    if not name:
        return _no(f"{ref}: a {what} needs a name.")
    if any(part.startswith("-") for part in name.split("/")):
        return _no(f"{ref}: branch and tag names may not start with '-'; rename it and push"
                   " again.")
    if name == "HEAD" and not delete:
        return _no(f"{ref}: 'HEAD' is not a {what} name here (it would be taken for the"
                   f" repository's HEAD); choose another name. (Deleting it is allowed.)")
    if not delete:
        if new_type is None or peeled_type is None:
            return _no(f"{ref}: the object it would point at is missing or is a chain of"
                       " tags that does not end in a commit; nothing was changed.")
        if is_tag and peeled_type != "commit":
            return _no(f"{ref} points at a {peeled_type}; only commits may be tagged here.")
        if not is_tag and new_type != "commit":
            return _no(f"{ref} points at a {new_type}; a branch must point at a commit.")
    rank = RANK.get(role or "", -1)
    if rank < RANK["developer"]:
        return _no(f"{ref}: changing branches and tags of {model_id} needs developer.")
    if is_tag:
        if not create and rank < RANK["maintainer"]:
            verb = "deleting" if delete else "moving"
            return _no(f"{ref}: {verb} an existing tag of {model_id} needs maintainer; push a"
                       " new tag instead (e.g. v1.1), or ask a maintainer.")
        return OK
    if name != default_branch or rank >= RANK["maintainer"]:
        return OK
    if delete:
        return _no(f"{ref}: deleting the default branch of {model_id} needs maintainer; ask"
                   " a maintainer, or push to another branch.")
    if not create and not fast_forward():
        return _no(f"{ref}: force-pushing the default branch of {model_id} needs maintainer;"
                   " pull and merge (git pull --rebase), then push again.")
    return OK
