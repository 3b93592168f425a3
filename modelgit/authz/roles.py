"""Who may do what: docs/access.md as data, and the rules for granting roles. Pure; no I/O.

The matrix is the one place the model roles are defined. Everything else (``decide``, the
CLI, the HTTP API) asks this module, so a change of policy is a change of one table.
"""

from __future__ import annotations

from modelgit.values import Value

ROLES: tuple[str, ...] = ("visitor", "user", "developer", "maintainer", "owner")
RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
SPACE_ROLES: tuple[str, ...] = ("owner", "maintainer", "user")

ACTIONS: tuple[str, ...] = ("view", "retrieve", "read", "write", "edit", "admin")

# docs/access.md, row for row. Columns follow ROLES: visitor, user, developer, maintainer, owner.
#   view      model info, card, scan summary
#   retrieve  appear in `model list` / search
#   read      clone, fetch, LFS download
#   write     push, LFS upload
#   edit      settings, gating, roles below maintainer, review access requests
#   admin     delete model, grant maintainer
MATRIX: dict[str, tuple[bool, bool, bool, bool, bool]] = {
    "view":     (True,  True,  True,  True,  True),
    "retrieve": (True,  True,  True,  True,  True),
    "read":     (False, True,  True,  True,  True),
    "write":    (False, False, True,  True,  True),
    "edit":     (False, False, False, True,  True),
    "admin":    (False, False, False, False, True),
}

# What a person with no role of `user` or above gets from a public model (docs/access.md).
PUBLIC_OPEN: frozenset[str] = frozenset({"view", "retrieve", "read"})
PUBLIC_GATED: frozenset[str] = frozenset({"view", "retrieve"})


def role_allows(role: str, action: str) -> bool:
    """The matrix cell; unknown roles or actions are not allowed (fail closed)."""
    row = MATRIX.get(action)
    rank = RANK.get(role)
    if row is None or rank is None:
        return False
    return row[rank]


def min_role(action: str) -> str:
    """The lowest role the matrix allows for an action (for messages)."""
    row = MATRIX[action]
    return next(role for role, ok in zip(ROLES, row, strict=True) if ok)


def effective_role(*, user: str | None, is_admin: bool, model_owner: str, space_owner: str,
                   model_role: str | None, space_role: str | None) -> str | None:
    """The role a user holds on a model: site admins, the owner, and the space's owners and
    maintainers have owner rights; otherwise the model grant (space `user` grants nothing
    on other people's models, only the right to create models)."""
    if user is None:
        return None
    if is_admin or user == model_owner or user == space_owner:
        return "owner"
    if space_role in ("owner", "maintainer"):
        return "owner"
    if model_role in RANK:
        return model_role
    return None


class GrantRuling(Value):
    """Whether a grant may be made, and why not."""

    _fields = ("allowed", "reason")
    allowed: bool
    reason: str

    def __init__(self, allowed: bool, reason: str) -> None:
        self._init(allowed=allowed, reason=reason)


def may_grant_model_role(*, actor_role: str | None, actor_is_admin: bool, role: str,
                         target_current: str | None, target_is_owner: bool) -> GrantRuling:
    """Granting (or changing) a model role. The owner is the creator and fixed; owners
    grant up to maintainer; maintainers grant below maintainer and cannot touch a
    maintainer's grant."""
    if role not in RANK:
        return GrantRuling(False, f"unknown role {role!r}; roles are {', '.join(ROLES[:-1])}")
    if role == "owner":
        return GrantRuling(False, "a model has one owner, its creator; grant maintainer instead")
    if target_is_owner:
        return GrantRuling(False, "the model's owner keeps owner rights; nobody can change them")
    if actor_is_admin or actor_role == "owner":
        return GrantRuling(True, "")
    if actor_role == "maintainer":
        if RANK[role] >= RANK["maintainer"]:
            return GrantRuling(False, "only the model's owner may grant maintainer")
        if target_current is not None and RANK.get(target_current, 0) >= RANK["maintainer"]:
            return GrantRuling(False, "only the model's owner may change a maintainer's role")
        return GrantRuling(True, "")
    return GrantRuling(False, "granting roles needs maintainer on the model")


def may_revoke_model_role(*, actor_role: str | None, actor_is_admin: bool,
                          target_current: str | None, target_is_owner: bool) -> GrantRuling:
    """Revoking a model role: nobody removes the owner; maintainers only below maintainer."""
    if target_is_owner:
        return GrantRuling(False, "nobody can remove a model's owner")
    if target_current is None:
        return GrantRuling(False, "that user has no role on this model")
    if actor_is_admin or actor_role == "owner":
        return GrantRuling(True, "")
    if actor_role == "maintainer":
        if RANK.get(target_current, 0) >= RANK["maintainer"]:
            return GrantRuling(False, "only the model's owner may revoke a maintainer")
        return GrantRuling(True, "")
    return GrantRuling(False, "revoking roles needs maintainer on the model")


def may_grant_space_role(*, actor_space_role: str | None, actor_is_admin: bool, role: str,
                         target_current: str | None, target_is_creator: bool) -> GrantRuling:
    """Space roles: owners grant any space role; maintainers grant `user` only."""
    if role not in SPACE_ROLES:
        return GrantRuling(False, f"unknown space role {role!r}; roles are "
                                  f"{', '.join(SPACE_ROLES)}")
    if target_is_creator:
        return GrantRuling(False, "the space's creator is its owner; nobody can change that")
    if actor_is_admin or actor_space_role == "owner":
        return GrantRuling(True, "")
    if actor_space_role == "maintainer":
        if role != "user" or target_current in ("owner", "maintainer"):
            return GrantRuling(False, "a space maintainer cannot grant or revoke maintainer or "
                                      "owner")
        return GrantRuling(True, "")
    return GrantRuling(False, "granting space roles needs owner or maintainer on the space")


def may_revoke_space_role(*, actor_space_role: str | None, actor_is_admin: bool,
                          target_current: str | None, target_is_creator: bool) -> GrantRuling:
    if target_is_creator:
        return GrantRuling(False, "nobody can remove a space's owner")
    if target_current is None:
        return GrantRuling(False, "that user has no role in this space")
    if actor_is_admin or actor_space_role == "owner":
        return GrantRuling(True, "")
    if actor_space_role == "maintainer":
        if target_current in ("owner", "maintainer"):
            return GrantRuling(False, "a space maintainer cannot grant or revoke maintainer or "
                                      "owner")
        return GrantRuling(True, "")
    return GrantRuling(False, "revoking space roles needs owner or maintainer on the space")


def may_create_model(*, is_admin: bool, space_role: str | None) -> bool:
    """Space owners, maintainers and users may create models in the space."""
    return is_admin or space_role in SPACE_ROLES


def may_create_space(*, is_admin: bool, space_creator: bool) -> bool:
    return is_admin or space_creator
