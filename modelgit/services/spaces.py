"""Spaces: create one, look it up, grant and revoke its roles, set its quota and full name;
each change audited here.

The rules are :mod:`modelgit.authz.roles`'; this module applies them to the store so that
every front end changes a space the same way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelgit.authz import roles
from modelgit.errors import Conflict, Forbidden, Invalid, NotFound
from modelgit.names import check_space
from modelgit.services import users

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store


#: Characters a space's full name may have (the hubs allow organisation names of this order).
FULLNAME_MAX = 100


def require(store: Store, name: str) -> dict[str, Any]:
    """The space's row, or ``NotFound`` pointing at ``modelgit space list``."""
    check_space(name)
    row = store.get_space(name)
    if row is None:
        raise NotFound(f"unknown space {name!r}", hint="see `modelgit space list`")
    return row


def check_fullname(fullname: str) -> str | None:
    """A space's full name as stored (None for none): one line of at most
    :data:`FULLNAME_MAX` characters, no control characters; Invalid otherwise."""
    text = fullname.strip()
    if not text:
        return None
    if len(text) > FULLNAME_MAX or any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise Invalid(f"a space's full name is one line of at most {FULLNAME_MAX} characters"
                      " without control characters")
    return text


def create(store: Store, name: str, owner: str, quota_bytes: int | None = None, *,
           fullname: str = "", actor: str = "cli") -> None:
    """A new space; its owner (fixed) must be a site admin or a space creator."""
    check_space(name)
    shown = check_fullname(fullname)
    user = users.require(store, owner)
    if not roles.may_create_space(is_admin=bool(user["is_admin"]),
                                  space_creator=bool(user["space_creator"])):
        raise Forbidden(f"{owner} may not create spaces",
                        hint="make them a space creator: `modelgit user add --space-creator`"
                             " or an admin")
    if store.get_space(name) is not None:
        raise Conflict(f"space {name!r} already exists")
    store.add_space(name, owner, quota_bytes, shown)
    store.audit("space.create", actor=actor, target=name, detail={"owner": owner})


def personal_allowed(cfg: Config) -> bool:
    """Whether every user may have a space named like them (``models.personal_spaces``)."""
    return bool(cfg.get("models.personal_spaces"))


def create_personal(store: Store, user: str, *, actor: str = "cli") -> None:
    """The user's own space, named like them and owned by them, as on the public hubs; made
    the first time they create a model in it. Callers check :func:`personal_allowed`."""
    check_space(user)
    users.require(store, user)
    if store.get_space(user) is not None:
        raise Conflict(f"space {user!r} already exists")
    store.add_space(user, user, None)
    store.audit("space.create", actor=actor, target=user,
                detail={"owner": user, "personal": True})


def grant(store: Store, name: str, user: str, role: str, *, actor: str = "cli",
          actor_space_role: str | None = None, actor_is_admin: bool = True) -> None:
    """Give ``user`` a role in the space: as a site administrator (the CLI), or with the
    actor's own space role for the rules to check (a page)."""
    row = require(store, name)
    users.require(store, user)
    ruling = roles.may_grant_space_role(
        actor_space_role=actor_space_role, actor_is_admin=actor_is_admin, role=role,
        target_current=store.space_role(name, user), target_is_creator=user == row["owner"])
    if not ruling.allowed:
        raise Forbidden(ruling.reason)
    store.set_space_role(name, user, role)
    store.audit("space.grant", actor=actor, target=name, detail={"user": user, "role": role})


def revoke(store: Store, name: str, user: str, *, actor: str = "cli",
           before: Callable[[str | None], None] | None = None,
           actor_space_role: str | None = None, actor_is_admin: bool = True) -> None:
    """Take ``user``'s role in the space away. ``before`` sees the current role once the
    rules allow the change and before anything changes (the CLI asks there). The actor's
    rights as for :func:`grant`."""
    row = require(store, name)
    current = store.space_role(name, user)
    ruling = roles.may_revoke_space_role(
        actor_space_role=actor_space_role, actor_is_admin=actor_is_admin, target_current=current,
        target_is_creator=user == row["owner"])
    if not ruling.allowed:
        raise Forbidden(ruling.reason)
    if before is not None:
        before(current)
    store.remove_space_role(name, user)
    store.audit("space.revoke", actor=actor, target=name, detail={"user": user})


def role_in(store: Store, name: str, user: str | None) -> str | None:
    """``user``'s role in the space, its creator counted as owner."""
    if user is None:
        return None
    row = require(store, name)
    return "owner" if row["owner"] == user else store.space_role(name, user)


def members(store: Store, name: str) -> list[dict[str, Any]]:
    """The space's creator (its owner) and every granted role, as ``{"user", "role"}``."""
    row = require(store, name)
    out = [{"user": row["owner"], "role": "owner", "creator": True}]
    out += [{"user": r["user"], "role": r["role"], "creator": False}
            for r in store.space_roles(name) if r["user"] != row["owner"]]
    return out


def set_fullname(store: Store, name: str, fullname: str, *, actor: str = "cli") -> None:
    """A new full name for the space ("" removes it)."""
    require(store, name)
    shown = check_fullname(fullname)
    store.set_space_fullname(name, shown)
    store.audit("space.set", actor=actor, target=name, detail={"fullname": shown})


def set_quota(store: Store, name: str, quota_bytes: int | None, *, actor: str = "cli") -> None:
    """A new quota for the space (None: no quota)."""
    require(store, name)
    store.set_space_quota(name, quota_bytes)
    store.audit("space.set", actor=actor, target=name, detail={"quota_bytes": quota_bytes})
