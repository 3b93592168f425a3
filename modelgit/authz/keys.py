"""Keys: the one credential for git over HTTPS.

A key is ``mg_`` + 40 base62 characters from ``secrets`` (~238 bits). Only its sha256 is
stored; a fast hash is right here because the key is random, not a password a person chose,
so there is nothing to brute-force from the digest. Its public id (``mg_`` + the first eight
characters) is what listings show and what ``key revoke`` takes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

from modelgit.values import Value

#: ``string.ascii_letters + string.digits``, written out: ``string`` and ``secrets`` (imported
#: where a key is made) are start-up cost for ``credential-check``, which only checks keys.
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
PREFIX = "mg_"
BODY_LEN = 40
KEY_RE = re.compile(r"^mg_[A-Za-z0-9]{40}$")
SCOPES = ("read", "write")


class NewKey(Value):
    """A key just made: the key itself is shown once and never stored."""

    _fields = ("key", "key_id", "digest")
    key: str         # shown once, never stored
    key_id: str      # public id for listings
    digest: str      # sha256 hex stored in the database

    def __init__(self, key: str, key_id: str, digest: str) -> None:
        self._init(key=key, key_id=key_id, digest=digest)


def make_key() -> NewKey:
    import secrets

    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    key = PREFIX + body
    return NewKey(key=key, key_id=public_id(key), digest=digest(key))


def public_id(key: str) -> str:
    return key[: len(PREFIX) + 8]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(candidate: str) -> bool:
    """Cheap shape check before any database work (and before hashing hostile input)."""
    return isinstance(candidate, str) and KEY_RE.fullmatch(candidate) is not None


def verify(candidate: str, stored_digest: str) -> bool:
    """Constant-time comparison of the candidate's digest with the stored one."""
    return hmac.compare_digest(digest(candidate), stored_digest)


def expiry(days: int | None, now: datetime | None = None) -> str | None:
    if days is None:
        return None
    if days <= 0:
        raise ValueError("--expires takes a positive number of days")
    when = (now or datetime.now(UTC)) + timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def is_live(row: dict[str, object], now_iso: str) -> bool:
    """Not revoked and not expired. ISO strings in one format compare as times."""
    if row.get("revoked"):
        return False
    expires = row.get("expires")
    return not (isinstance(expires, str) and expires <= now_iso)
