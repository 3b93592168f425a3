"""Web sessions: a sign-in with a user name and key becomes a random token in a cookie.

The store keeps the token's sha256 only (a stolen database opens no session), with the key
it was opened with: revoking or expiring that key, or removing the user, ends the session at
once, as it stops the key in git. Each session carries its own CSRF secret for its forms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from modelgit.authz import keys
from modelgit.authz.decide import Subject
from modelgit.store import now_iso

if TYPE_CHECKING:
    from modelgit.store import Store

#: Bytes of randomness in a session token and in a CSRF secret.
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Session:
    """A live session: who it proves and the secret its forms must carry."""

    subject: Subject
    csrf: str
    expires: str
    token_hash: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def open_session(store: Store, user: str, key_id: str, hours: float) -> str:
    """A new session for ``user`` (already proved by the key ``key_id``); returns the token
    for the cookie, which is stored nowhere. Expired sessions are swept on the way."""
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    store.delete_expired_sessions(_iso(now))
    store.add_session(token_hash(token), user, key_id, secrets.token_urlsafe(TOKEN_BYTES),
                      _iso(now), _iso(now + timedelta(hours=hours)))
    store.audit("session.open", actor=user, target=user, detail={"key_id": key_id})
    return token


def lookup(store: Store, token: str | None) -> Session | None:
    """The live session of a cookie's token, or None (unknown, expired, its key revoked or
    expired). The token is hostile input: shape-checked before it is hashed."""
    if not token or len(token) > 100 or not token.replace("-", "").replace("_", "").isalnum():
        return None
    row = store.session_by_hash(token_hash(token))
    if row is None:
        return None
    now = now_iso()
    key = {"revoked": row["key_revoked"], "expires": row["key_expires"]}
    if row["expires"] <= now or not keys.is_live(key, now):
        return None
    subject = Subject(user=row["user"], is_admin=bool(row["is_admin"]), scope=row["scope"])
    return Session(subject, row["csrf"], row["expires"], row["token_hash"])


def close_session(store: Store, token: str | None) -> None:
    """Sign out: the session is deleted, so the cookie opens nothing even if kept."""
    if token:
        store.delete_session(token_hash(token))


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token with the expected one."""
    return bool(given) and hmac.compare_digest(expected.encode("utf-8"),
                                               (given or "").encode("utf-8"))
