"""Lock rules and JSON shapes for git lfs lock / locks / unlock and push verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from modelgit.authz.roles import ROLES
from modelgit.lfs.locks import (
    DEFAULT_LOCK_LIMIT,
    DEVELOPER,
    MAINTAINER,
    MAX_LOCK_LIMIT,
    OWNER,
    USER,
    VISITOR,
    LockError,
    clamp_limit,
    list_response,
    lock_conflict,
    lock_json,
    may_lock,
    may_unlock,
    validate_lock_path,
    verify_response,
)


def row(lock_id: object, owner: str, path: str = "w.bin") -> dict[str, Any]:
    return {"id": lock_id, "path": path, "locked_at": 1_700_000_000, "owner": owner}


def test_rank_order_matches_design() -> None:
    """may_lock and may_unlock compare ranks, so the lock ranks must rise, without ties, in
    the order of the roles that modelgit.authz.roles defines (their values do not matter)."""
    assert VISITOR < USER < DEVELOPER < MAINTAINER < OWNER
    by_role = {"visitor": VISITOR, "user": USER, "developer": DEVELOPER,
               "maintainer": MAINTAINER, "owner": OWNER}
    assert sorted(by_role, key=by_role.__getitem__) == list(ROLES)


@pytest.mark.parametrize(
    ("rank", "allowed"),
    [(VISITOR, False), (USER, False), (DEVELOPER, True), (MAINTAINER, True), (OWNER, True)],
)
def test_may_lock_needs_developer(rank: int, allowed: bool) -> None:
    assert may_lock(rank) is allowed


@pytest.mark.parametrize("rank", [DEVELOPER, MAINTAINER, OWNER])
@pytest.mark.parametrize("force", [False, True])
def test_own_lock_may_always_be_unlocked(rank: int, force: bool) -> None:
    assert may_unlock("alice", "alice", force, rank) == (True, 200, "")


@pytest.mark.parametrize("rank", [VISITOR, USER])
def test_unlock_needs_push_access_even_for_own_lock(rank: int) -> None:
    allowed, status, message = may_unlock("alice", "alice", False, rank)
    assert (allowed, status) == (False, 403)
    assert "push access" in message


@pytest.mark.parametrize("rank", [DEVELOPER, MAINTAINER, OWNER])
def test_other_users_lock_needs_force(rank: int) -> None:
    allowed, status, message = may_unlock("bob", "alice", False, rank)
    assert (allowed, status) == (False, 403)
    assert "bob" in message
    assert "--force" in message


def test_developer_cannot_force() -> None:
    allowed, status, message = may_unlock("bob", "alice", True, DEVELOPER)
    assert (allowed, status) == (False, 403)
    assert "maintainer" in message


@pytest.mark.parametrize("rank", [MAINTAINER, OWNER])
def test_maintainer_and_owner_may_force(rank: int) -> None:
    assert may_unlock("bob", "alice", True, rank) == (True, 200, "")


@pytest.mark.parametrize(
    ("locked_at", "expected"),
    [
        (1_700_000_000, "2023-11-14T22:13:20+00:00"),
        (datetime(2024, 5, 1, 12, 0, 0), "2024-05-01T12:00:00+00:00"),
        (
            datetime(2024, 5, 1, 12, 0, 0, 123, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-01T12:00:00+02:00",
        ),
        ("2024-05-01 12:00:00", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T12:00:00.5+00:00", "2024-05-01T12:00:00+00:00"),
    ],
)
def test_lock_json_shape_and_rfc3339_time(locked_at: object, expected: str) -> None:
    body = lock_json({"id": 7, "path": "models/w.bin", "locked_at": locked_at, "owner": "alice"})
    assert body == {
        "id": "7",
        "path": "models/w.bin",
        "locked_at": expected,
        "owner": {"name": "alice"},
    }
    # What Go's time.Time accepts: RFC 3339 with a T and an offset.
    assert datetime.fromisoformat(body["locked_at"]).tzinfo is not None
    assert "T" in body["locked_at"]


def test_lock_json_accepts_user_key() -> None:
    body = lock_json({"id": "x", "path": "p", "locked_at": datetime.now(UTC), "user": "bob"})
    assert body["owner"] == {"name": "bob"}


def test_lock_json_refuses_unknown_time() -> None:
    with pytest.raises(TypeError):
        lock_json({"id": 1, "path": "p", "locked_at": None, "owner": "a"})


def test_lock_conflict_carries_the_existing_lock() -> None:
    body = lock_conflict(row(3, "bob"))
    assert body["lock"]["id"] == "3"
    assert "bob" in body["message"]


def test_verify_splits_ours_and_theirs() -> None:
    locks = [row(1, "alice", "a.bin"), row(2, "bob", "b.bin"), row(3, "alice", "c.bin")]
    body = verify_response(locks, "alice", None, 100)
    assert [lock["path"] for lock in body["ours"]] == ["a.bin", "c.bin"]
    assert [lock["path"] for lock in body["theirs"]] == ["b.bin"]
    assert "next_cursor" not in body
    json.dumps(body)


def test_verify_with_no_locks_has_empty_arrays() -> None:
    assert verify_response([], "alice", None, 100) == {"ours": [], "theirs": []}


def test_verify_pages_with_cursor() -> None:
    locks = [row(i, "alice" if i % 2 else "bob") for i in range(1, 8)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        body = verify_response(locks, "alice", cursor, 3)
        pages += 1
        seen += [lock["id"] for lock in body["ours"] + body["theirs"]]
        cursor = body.get("next_cursor")
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen, key=int) == [str(i) for i in range(1, 8)]


def test_cursor_survives_a_lock_removed_between_pages() -> None:
    locks = [row(i, "bob") for i in range(1, 7)]
    first = verify_response(locks, "alice", None, 3)
    assert first["next_cursor"] == "4"
    remaining = [lock for lock in locks if lock["id"] != 4]  # lock 4 removed meanwhile
    second = verify_response(remaining, "alice", first["next_cursor"], 3)
    assert [lock["id"] for lock in second["theirs"]] == ["5", "6"]


def test_numeric_ids_sort_numerically() -> None:
    locks = [row(10, "a"), row(9, "a"), row(100, "a")]
    body = list_response(locks, None, 2)
    assert [lock["id"] for lock in body["locks"]] == ["9", "10"]
    assert body["next_cursor"] == "100"
    assert list_response(locks, "100", 2) == {"locks": [lock_json(row(100, "a"))]}


def test_text_ids_page_too() -> None:
    locks = [row("c", "a"), row("a", "a"), row("b", "a")]
    body = list_response(locks, None, 2)
    assert [lock["id"] for lock in body["locks"]] == ["a", "b"]
    assert list_response(locks, body["next_cursor"], 2)["locks"][0]["id"] == "c"


def test_list_with_no_locks() -> None:
    assert list_response([], None, 10) == {"locks": []}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_LOCK_LIMIT),
        ("", DEFAULT_LOCK_LIMIT),
        ("abc", DEFAULT_LOCK_LIMIT),
        ("²", DEFAULT_LOCK_LIMIT),
        ("9" * 5000, DEFAULT_LOCK_LIMIT),
        (0, DEFAULT_LOCK_LIMIT),
        (-5, DEFAULT_LOCK_LIMIT),
        (True, DEFAULT_LOCK_LIMIT),
        (1.5, DEFAULT_LOCK_LIMIT),
        (7, 7),
        ("7", 7),
        (10**9, MAX_LOCK_LIMIT),
    ],
)
def test_clamp_limit(value: object, expected: int) -> None:
    assert clamp_limit(value) == expected


@pytest.mark.parametrize("path", ["w.bin", "models/w.bin", "dir with space/ünïcode.bin"])
def test_valid_lock_paths(path: str) -> None:
    assert validate_lock_path(path) == path


@pytest.mark.parametrize(
    "path", ["", None, 3, "/etc/passwd", "../x", "a/../b", "a\x00b", "a\nb", "x" * 5000]
)
def test_invalid_lock_paths(path: object) -> None:
    with pytest.raises(LockError) as err:
        validate_lock_path(path)
    assert err.value.status == 422
