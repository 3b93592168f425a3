"""Users as the other services need them: a named user or a refusal that says where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelgit.errors import NotFound

if TYPE_CHECKING:
    from modelgit.store import Store


def require(store: Store, name: str) -> dict[str, Any]:
    """The user's row, or ``NotFound`` pointing at ``modelgit user list``."""
    row = store.get_user(name)
    if row is None:
        raise NotFound(f"unknown user {name!r}", hint="see `modelgit user list`")
    return row
