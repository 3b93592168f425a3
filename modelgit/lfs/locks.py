"""The LFS locking API's rules and JSON shapes, with no storage and no HTTP.

Who may lock and unlock, how a lock row looks on the wire, and how a list is paged and split
into "ours" and "theirs" for ``git push``'s verification. The lock rows themselves live in the
store (the integrator's SQL); this module only decides and shapes, so the rules are tested with
plain dicts. Spec: git-lfs ``docs/api/locking.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelgit.errors import ModelgitError

# Model role ranks (docs/access.md); the integrator maps its role names onto these.
VISITOR = 0
USER = 1
DEVELOPER = 2
MAINTAINER = 3
OWNER = 4

#: Page size when the client gives none, and the most one page may hold.
DEFAULT_LOCK_LIMIT = 100
MAX_LOCK_LIMIT = 1000

#: Longest lock path accepted (git itself has no limit; filesystems stop near 4096).
MAX_LOCK_PATH = 4096


class LockError(ModelgitError):
    """A refused lock request; the HTTP layer answers ``status`` with ``{"message"}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


def may_lock(role_rank: int) -> bool:
    """Creating a lock needs push access, i.e. developer or above (the spec and docs/access.md)."""
    return role_rank >= DEVELOPER


def may_unlock(lock_owner: str, user: str, force: bool, role_rank: int) -> tuple[bool, int, str]:
    """Whether ``user`` may remove a lock: ``(allowed, http status, message)``.

    Everyone with push access may remove their own lock (``force`` or not). Removing someone
    else's needs ``force`` (the client's ``git lfs unlock --force``), and forcing needs
    maintainer: a developer must not be able to break a colleague's lock. The messages say
    what to do next, since git-lfs prints them as they are.
    """
    if role_rank < DEVELOPER:
        return False, 403, "You must have push access (developer or above) to delete locks"
    if lock_owner == user:
        return True, 200, ""
    if not force:
        return (
            False,
            403,
            f"the lock is owned by {lock_owner}; ask them to unlock it, or a maintainer can "
            "run `git lfs unlock --force`",
        )
    if role_rank < MAINTAINER:
        return False, 403, f"forcing open a lock owned by {lock_owner} needs the maintainer role"
    return True, 200, ""


def validate_lock_path(path: object) -> str:
    """A lock path as the client sent it, or ``LockError(422)``.

    git-lfs sends paths relative to the repository root with ``/`` separators and matches
    them exactly, so nothing is normalized; only what cannot be a path in a repository is
    refused (empty, absolute, ``..``, control characters, absurd length).
    """
    if not isinstance(path, str) or not path:
        raise LockError(422, "path must be a non-empty string")
    if len(path) > MAX_LOCK_PATH:
        raise LockError(422, f"path is longer than {MAX_LOCK_PATH} characters")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in path):
        raise LockError(422, "path must not contain control characters")
    if path.startswith("/") or ".." in path.split("/"):
        raise LockError(422, "path must be relative to the repository root, without '..'")
    return path


def lock_json(lock_row: dict[str, Any]) -> dict[str, Any]:
    """A stored lock as the locking API returns it: ``{"id", "path", "locked_at", "owner"}``.

    ``lock_row`` needs ``id``, ``path``, ``locked_at`` and ``owner`` (the user name; ``user``
    is accepted too). ``locked_at`` may be a datetime, Unix seconds or an ISO 8601 string
    (SQLite's ``YYYY-MM-DD HH:MM:SS`` included); it is always sent as RFC 3339 with a ``T``
    and an offset, because git-lfs decodes it with Go's ``time.Time``, which rejects
    anything else. Naive times are taken as UTC.
    """
    owner = lock_row["owner"] if "owner" in lock_row else lock_row["user"]
    return {
        "id": str(lock_row["id"]),
        "path": lock_row["path"],
        "locked_at": _rfc3339(lock_row["locked_at"]),
        "owner": {"name": owner},
    }


def lock_conflict(existing: dict[str, Any]) -> dict[str, Any]:
    """The 409 body for a path that is already locked: the spec wants the existing lock."""
    lock = lock_json(existing)
    return {"lock": lock, "message": f"already locked by {lock['owner']['name']}"}


def clamp_limit(value: object) -> int:
    """A page size from a query string or JSON body, kept within 1..:data:`MAX_LOCK_LIMIT`.

    Missing or unreadable values get :data:`DEFAULT_LOCK_LIMIT` rather than an error: the
    spec leaves bounds to the server, and a client never needs to be refused over paging.
    """
    if isinstance(value, bool):
        return DEFAULT_LOCK_LIMIT
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isdecimal() and len(text) <= 18 else None
    if not isinstance(value, int) or value < 1:
        return DEFAULT_LOCK_LIMIT
    return min(value, MAX_LOCK_LIMIT)


def list_response(locks: Sequence[dict[str, Any]], cursor: object, limit: int) -> dict[str, Any]:
    """Body of ``GET /locks``: one page of ``locks`` and, when more follow, ``next_cursor``."""
    page, next_cursor = _page(locks, cursor, limit)
    body: dict[str, Any] = {"locks": [lock_json(row) for row in page]}
    if next_cursor is not None:
        body["next_cursor"] = next_cursor
    return body


def verify_response(
    locks: Sequence[dict[str, Any]], user: str, cursor: str | None, limit: int
) -> dict[str, Any]:
    """Body of ``POST /locks/verify``: one page split into ``ours`` and ``theirs``.

    git-lfs halts a push that changes a file in ``theirs`` and only lists ``ours``; both keys
    are always present (the spec requires empty arrays, not missing keys).
    """
    page, next_cursor = _page(locks, cursor, limit)
    body: dict[str, Any] = {
        "ours": [lock_json(row) for row in page if _owner(row) == user],
        "theirs": [lock_json(row) for row in page if _owner(row) != user],
    }
    if next_cursor is not None:
        body["next_cursor"] = next_cursor
    return body


def _owner(row: dict[str, Any]) -> Any:
    return row["owner"] if "owner" in row else row["user"]


def _id_key(value: object) -> tuple[int, int, str]:
    """Order lock ids numerically when they are integers (SQLite rowids), else as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, "")
    text = str(value)
    if text.isdecimal() and len(text) <= 18:
        return (0, int(text), "")
    return (1, 0, text)


def _page(
    locks: Sequence[dict[str, Any]], cursor: object, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The locks from ``cursor`` on, at most ``limit`` of them, and the next page's cursor.

    The cursor is the id of the first lock of the next page, and a page starts at the first
    id not below it, so a lock removed between two requests shifts nothing: no lock is
    skipped (which could let a push past someone's lock) and none is shown twice.
    """
    limit = clamp_limit(limit)
    ordered = sorted(locks, key=lambda row: _id_key(row["id"]))
    if isinstance(cursor, str | int) and not isinstance(cursor, bool) and str(cursor) != "":
        start = _id_key(cursor)
        ordered = [row for row in ordered if _id_key(row["id"]) >= start]
    page = ordered[:limit]
    next_cursor = str(ordered[limit]["id"]) if len(ordered) > limit else None
    return page, next_cursor


def _rfc3339(value: object) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise TypeError(f"locked_at must be a datetime, Unix seconds or ISO string: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")
