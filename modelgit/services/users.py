"""Users: add, look up and remove them; each change audited here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelgit.errors import Conflict, NotFound
from modelgit.names import check_user

if TYPE_CHECKING:
    from modelgit.store import Store


def require(store: Store, name: str) -> dict[str, Any]:
    """The user's row, or ``NotFound`` pointing at ``modelgit user list``."""
    row = store.get_user(name)
    if row is None:
        raise NotFound(f"unknown user {name!r}", hint="see `modelgit user list`")
    return row


def add(store: Store, name: str, *, email: str = "", fullname: str = "", admin: bool = False,
        space_creator: bool = False, actor: str = "cli") -> None:
    """A new user (a key comes separately, from :mod:`modelgit.services.keys`)."""
    check_user(name)
    if store.get_user(name) is not None:
        raise Conflict(f"user {name!r} already exists")
    store.add_user(name, fullname=fullname, email=email, is_admin=admin,
                   space_creator=space_creator)
    store.audit("user.add", actor=actor, target=name,
                detail={"admin": admin, "space_creator": space_creator})


def set_flags(store: Store, name: str, *, admin: bool | None = None,
              space_creator: bool | None = None, actor: str = "cli") -> None:
    """Make ``name`` a site admin or a space creator, or not (None: leave as it is)."""
    require(store, name)
    store.set_user_flags(name, is_admin=admin, space_creator=space_creator)
    store.audit("user.set", actor=actor, target=name,
                detail={k: v for k, v in (("admin", admin), ("space_creator", space_creator))
                        if v is not None})


def remove(store: Store, name: str, *, actor: str = "cli",
           before: Callable[[], None] | None = None) -> None:
    """The user with their keys and roles; never an owner of a space or model (ownership is
    fixed). ``before`` runs once the rules allow it and before anything changes."""
    require(store, name)
    owned = store.user_ownerships(name)
    if owned:
        raise Conflict(f"{name} owns {', '.join(owned)}; an owner cannot be removed",
                       hint="delete those models or spaces first")
    if before is not None:
        before()
    store.remove_user(name)
    store.audit("user.remove", actor=actor, target=name)
