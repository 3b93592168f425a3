"""Keys (docs/access.md): ``mg_`` + 40 base62 characters, stored as sha256 hex with a short
public prefix, verified in constant time, with an optional expiry."""

from __future__ import annotations

import hashlib
import re
import string
from datetime import UTC, datetime, timedelta

import pytest

from modelgit.authz import keys

SHAPE = re.compile(r"mg_[A-Za-z0-9]{40}")
BASE62 = set(string.ascii_letters + string.digits)


def iso(when: datetime) -> str:
    """The store's timestamp form: UTC, milliseconds, ``Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_key_shape() -> None:
    new = keys.make_key()
    assert SHAPE.fullmatch(new.key), new.key
    assert len(new.key) == 43
    assert set(new.key[3:]) <= BASE62
    assert keys.looks_like_key(new.key)


def test_public_id_is_a_short_prefix_of_the_key() -> None:
    new = keys.make_key()
    assert new.key.startswith(new.key_id)
    assert new.key_id.startswith("mg_")
    # Short: enough to tell keys apart in a listing, far too little to use as the key.
    assert len(new.key_id) - 3 <= 12
    assert new.key_id != new.key
    assert keys.public_id(new.key) == new.key_id


def test_keys_are_unique_and_use_the_whole_alphabet() -> None:
    made = [keys.make_key() for _ in range(3000)]
    assert len({k.key for k in made}) == len(made)
    assert len({k.digest for k in made}) == len(made)
    # 3000 * 40 characters from 62 symbols: every symbol shows up (a biased or
    # narrowed alphabet would not).
    seen = set("".join(k.key[3:] for k in made))
    assert seen == BASE62


def test_digest_is_sha256_hex() -> None:
    new = keys.make_key()
    assert new.digest == hashlib.sha256(new.key.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", new.digest)
    assert keys.digest(new.key) == new.digest
    # The digest never contains the key.
    assert new.key not in new.digest and new.key[3:] not in new.digest


def test_verify() -> None:
    new = keys.make_key()
    other = keys.make_key()
    assert keys.verify(new.key, new.digest)
    assert not keys.verify(other.key, new.digest)
    flipped = new.key[:-1] + ("A" if new.key[-1] != "A" else "B")
    assert not keys.verify(flipped, new.digest)
    assert not keys.verify(new.key + "x", new.digest)
    assert not keys.verify(new.key[:-1], new.digest)
    assert not keys.verify("", new.digest)
    assert not keys.verify(new.key, "")
    assert not keys.verify(new.key, new.digest.upper()) or new.digest == new.digest.upper()
    # The digest itself is not a password.
    assert not keys.verify(new.digest, new.digest)


GOOD_BODY = "aB3" * 13 + "Z"  # 40 base62 characters

HOSTILE = [
    "",
    "mg_",
    "mg",
    "mg_" + GOOD_BODY[:-1],                 # 39
    "mg_" + GOOD_BODY + "a",                # 41
    "MG_" + GOOD_BODY,                      # wrong prefix case
    "mk_" + GOOD_BODY,
    "_mg" + GOOD_BODY,
    GOOD_BODY + "abc",                      # no prefix at all
    " mg_" + GOOD_BODY,
    "mg_" + GOOD_BODY + " ",
    "mg_" + GOOD_BODY + "\n",               # a trailing newline is not part of a key
    "mg_" + GOOD_BODY + "\r\n",
    "mg_" + GOOD_BODY + "\x00",
    "mg_" + GOOD_BODY[:-1] + "\x00",
    "mg_" + GOOD_BODY[:-1] + "-",
    "mg_" + GOOD_BODY[:-1] + "_",
    "mg_" + GOOD_BODY[:-1] + "=",
    "mg_" + GOOD_BODY[:-1] + "/",
    "mg_" + GOOD_BODY[:-1] + "é",           # Latin letter outside ASCII
    "mg_" + GOOD_BODY[:-1] + "٣",           # Arabic-Indic digit: a Unicode \d
    "mg_" + GOOD_BODY[:-1] + "Ａ",          # full-width A
    "mg_" + GOOD_BODY[:-1] + "а",           # Cyrillic a
    "ｍｇ_" + GOOD_BODY,                     # full-width prefix
    "mg_" + "a" * 40 + "mg_" + "a" * 40,
    "mg_" + "a" * 1_000_000,                # huge input is refused, quickly
    "' OR '1'='1",
    "mg_" + "%00" * 13 + "a",
    "Basic bWc6eA==",
]


def _short(c: str) -> str:
    return repr(c if len(c) <= 48 else f"{c[:12]}...{c[-12:]} ({len(c)} chars)")


@pytest.mark.parametrize("candidate", HOSTILE, ids=_short)
def test_looks_like_key_refuses_hostile_input(candidate: str) -> None:
    assert keys.looks_like_key(candidate) is False


def test_looks_like_key_accepts_only_the_shape() -> None:
    assert keys.looks_like_key("mg_" + GOOD_BODY) is True
    assert keys.looks_like_key("mg_" + "0" * 40) is True


def test_expiry_none_means_never() -> None:
    assert keys.expiry(None) is None


@pytest.mark.parametrize("days", [1, 7, 30, 365, 3650])
def test_expiry_math(days: int) -> None:
    now = datetime(2025, 2, 27, 23, 30, 15, tzinfo=UTC)
    text = keys.expiry(days, now=now)
    assert text is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text), text
    when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert when - now == timedelta(days=days)


def test_expiry_crosses_leap_day() -> None:
    now = datetime(2024, 2, 28, 12, 0, 0, tzinfo=UTC)
    assert keys.expiry(1, now=now) == "2024-02-29T12:00:00.000Z"
    assert keys.expiry(2, now=now) == "2024-03-01T12:00:00.000Z"


def test_expiry_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    text = keys.expiry(10)
    after = datetime.now(UTC)
    assert text is not None
    assert iso(before + timedelta(days=10) - timedelta(seconds=1)) <= text
    assert text <= iso(after + timedelta(days=10) + timedelta(seconds=1))


@pytest.mark.parametrize("days", [0, -1, -365])
def test_expiry_refuses_non_positive_days(days: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        keys.expiry(days)


def test_is_live() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    now_iso = iso(now)
    expires_tomorrow = keys.expiry(1, now=now)
    assert keys.is_live({"revoked": None, "expires": None}, now_iso)
    assert keys.is_live({}, now_iso)
    assert keys.is_live({"revoked": None, "expires": expires_tomorrow}, now_iso)
    # A day and a bit later the same key is dead.
    later = iso(now + timedelta(days=1, milliseconds=1))
    assert not keys.is_live({"revoked": None, "expires": expires_tomorrow}, later)
    # At the very instant of expiry it is dead (expiry is exclusive).
    assert not keys.is_live({"revoked": None, "expires": expires_tomorrow},
                            iso(now + timedelta(days=1)))
    # A millisecond before, alive.
    assert keys.is_live({"revoked": None, "expires": expires_tomorrow},
                        iso(now + timedelta(days=1) - timedelta(milliseconds=1)))
    # Revoked beats everything.
    assert not keys.is_live({"revoked": now_iso, "expires": None}, now_iso)
    assert not keys.is_live({"revoked": now_iso, "expires": expires_tomorrow}, now_iso)
    # Already expired.
    assert not keys.is_live({"revoked": None, "expires": iso(now - timedelta(seconds=1))},
                            now_iso)


def test_is_live_with_the_store_clock() -> None:
    """``is_live`` compares strings; the store's clock and ``expiry`` must agree on form."""
    from modelgit.store import now_iso

    current = now_iso()
    assert len(current) == len(keys.expiry(1) or "")
    assert keys.is_live({"revoked": None, "expires": keys.expiry(1)}, current)
    yesterday = iso(datetime.now(UTC) - timedelta(days=1))
    assert not keys.is_live({"revoked": None, "expires": yesterday}, current)
