"""Keys: make, revoke and regenerate them; each change audited here. A new key is returned
once, to be shown once: only its digest is stored, and it is never logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelgit.authz import keys
from modelgit.errors import Conflict, Invalid, NotFound
from modelgit.services import users

if TYPE_CHECKING:
    from modelgit.store import Store


def _expiry(days: int | None) -> str | None:
    try:
        return keys.expiry(days)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def create(store: Store, user: str, scope: str = "write", expires_days: int | None = None, *,
           actor: str = "cli") -> str:
    """A new key for ``user``; the key itself, to be shown once."""
    users.require(store, user)
    when = _expiry(expires_days)
    new = keys.make_key()
    store.add_key(new.key_id, user, new.digest, scope, when)
    store.audit("key.create", actor=actor, target=user,
                detail={"key_id": new.key_id, "scope": scope})
    return new.key


def revoke(store: Store, key_id: str, *, actor: str = "cli",
           before: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Revoke one key by its public id; returns its row. ``before`` sees the row once the
    key is known to be live and before it is revoked."""
    row = store.get_key(key_id)
    if row is None:
        raise NotFound(f"unknown key id {key_id!r}", hint="see `modelgit key list USER`")
    if row["revoked"]:
        raise Conflict(f"key {key_id} is already revoked")
    if before is not None:
        before(row)
    if not store.revoke_key(key_id):
        raise Conflict(f"key {key_id} is already revoked")
    store.audit("key.revoke", actor=actor, target=row["user"], detail={"key_id": key_id})
    return row


def regenerate(store: Store, user: str, scope: str = "write", expires_days: int | None = None,
               *, actor: str = "cli", before: Callable[[], None] | None = None
               ) -> tuple[str, int]:
    """Revoke every key of ``user`` and make one new one, in one transaction; returns the new
    key (to be shown once) and how many keys were revoked."""
    users.require(store, user)
    when = _expiry(expires_days)
    if before is not None:
        before()
    new = keys.make_key()
    revoked = store.replace_keys(user, new.key_id, new.digest, scope, when)
    store.audit("key.regenerate", actor=actor, target=user,
                detail={"revoked": revoked, "key_id": new.key_id})
    return new.key, revoked


def listing(store: Store, user: str) -> list[dict[str, Any]]:
    """The user's keys, oldest first: public id (the key's first characters), scope, created,
    expires, last used, revoked. Never the key or its digest."""
    users.require(store, user)
    return store.list_keys(user)
