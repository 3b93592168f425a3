"""Signed href tokens: bound to repo, oid, op and user; expiring; unforgeable."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelgit.lfs.tokens import (
    MAX_TOKEN_CHARS,
    SECRET_BYTES,
    Claims,
    check_claims,
    check_token,
    load_or_create_secret,
    make_token,
)

SECRET = b"s" * 32
OID = "a" * 64
OTHER_OID = "b" * 64
NOW = 1_700_000_000


def token(**overrides: object) -> str:
    args: dict[str, object] = {
        "repo": "space/model",
        "oid": OID,
        "op": "download",
        "user": "alice",
        "expires_at": NOW + 60,
    }
    args.update(overrides)
    return make_token(SECRET, **args)  # type: ignore[arg-type]


def check(tok: str, **overrides: object) -> str | None:
    args: dict[str, object] = {"repo": "space/model", "oid": OID, "op": "download", "now": NOW}
    args.update(overrides)
    secret = args.pop("secret", SECRET)
    return check_token(secret, tok, **args)  # type: ignore[arg-type]


def test_round_trip_returns_the_user() -> None:
    assert check(token()) == "alice"


def test_anonymous_user_round_trips() -> None:
    assert check(token(user="")) == ""


def test_token_is_query_string_safe() -> None:
    tok = token(user="ålice with spaces & symbols")
    assert all(ch.isalnum() or ch in "-_." for ch in tok)
    assert check(tok) == "ålice with spaces & symbols"


@pytest.mark.parametrize(
    "wrong",
    [
        {"repo": "space/other"},
        {"repo": "other/model"},
        {"oid": OTHER_OID},
        {"op": "upload"},
        {"op": "verify"},
        {"secret": b"t" * 32},
    ],
    ids=repr,
)
def test_token_for_something_else_is_refused(wrong: dict[str, object]) -> None:
    assert check(token(), **wrong) is None


def test_expired() -> None:
    tok = token(expires_at=NOW + 10)
    assert check(tok, now=NOW + 9) == "alice"
    assert check(tok, now=NOW + 10) is None
    assert check(tok, now=NOW + 10_000) is None


def test_tampering_with_any_character_is_refused() -> None:
    tok = token()
    for i, ch in enumerate(tok):
        for replacement in {"A", "b", "_", "-", "."} - {ch}:
            tampered = tok[:i] + replacement + tok[i + 1 :]
            assert check(tampered) is None, (i, replacement)


def test_swapping_payload_to_another_user_or_later_expiry_is_refused() -> None:
    mine = token(user="mallory")
    theirs = token(user="alice", expires_at=NOW + 10**6)
    forged = theirs.split(".")[0] + "." + mine.split(".")[1]
    assert check(forged) is None


def test_key_and_size_are_signed_and_returned() -> None:
    """The transfer endpoint re-checks the key (revoked links stop) and holds an upload to
    the approved size: neither can be swapped into another token's payload."""
    tok = token(key_id="mg_abcdefgh", size=5, op="upload")
    claims = check_claims(SECRET, tok, repo="space/model", oid=OID, op="upload", now=NOW)
    assert claims == Claims("alice", "mg_abcdefgh", 5)
    for other in (token(key_id="mg_zzzzzzzz", size=5, op="upload"),
                  token(key_id="mg_abcdefgh", size=10**9, op="upload")):
        forged = other.split(".")[0] + "." + tok.split(".")[1]
        assert check(forged, op="upload") is None


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "a.b.c", "abc", "é.é", "x" * (MAX_TOKEN_CHARS + 1), "=.=", "AAAA.AAAA"],
)
def test_garbage_is_refused(garbage: str) -> None:
    assert check(garbage) is None


@given(st.text(max_size=200))
def test_arbitrary_text_never_validates_or_raises(text: str) -> None:
    assert check(text) is None


def test_make_token_refuses_bugs() -> None:
    with pytest.raises(ValueError):
        make_token(b"short", repo="s/m", oid=OID, op="download", user="a", expires_at=NOW)
    with pytest.raises(ValueError):
        make_token(SECRET, repo="s/m", oid=OID, op="delete", user="a", expires_at=NOW)
    with pytest.raises(ValueError):
        make_token(SECRET, repo="s/m", oid=OID, op="download", user="a", expires_at=True)


def test_secret_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "lfs-token.key"
    first = load_or_create_secret(path)
    assert len(first) == SECRET_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["lfs-token.key"]


def test_secret_is_random(tmp_path: Path) -> None:
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


def test_concurrent_first_use_agrees_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "lfs-token.key"
    workers = 8
    barrier = threading.Barrier(workers)
    seen: list[bytes] = []

    def start() -> None:
        barrier.wait()
        seen.append(load_or_create_secret(path))

    threads = [threading.Thread(target=start) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == workers
    assert len(set(seen)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lfs-token.key"]


def test_corrupt_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(ValueError, match="expected 32 bytes"):
        load_or_create_secret(path)


def test_world_readable_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(os.urandom(SECRET_BYTES))
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_secret(path)
