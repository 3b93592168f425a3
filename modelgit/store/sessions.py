"""Sign-in sessions of the web pages (``web_sessions``): only the token's digest is stored."""

from __future__ import annotations

from modelgit.store.connection import StoreBase

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Sessions(StoreBase):
    """SQL of ``web_sessions``."""

    def add_session(self, token_hash: str, user: str, key_id: str, csrf: str, created: str,
                    expires: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO web_sessions (token_hash, user, key_id, csrf, created, expires)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, user, key_id, csrf, created, expires),
            )

    def session_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The session with its user's admin flag and its key's scope, expiry and revocation;
        one indexed lookup (the caller decides whether it is still live)."""
        return self._one(
            "SELECT s.token_hash, s.user, s.key_id, s.csrf, s.created, s.expires,"
            " u.is_admin, k.scope, k.expires AS key_expires, k.revoked AS key_revoked"
            " FROM web_sessions s JOIN users u ON u.name = s.user"
            " JOIN keys k ON k.id = s.key_id WHERE s.token_hash = ?",
            (token_hash,),
        )

    def delete_session(self, token_hash: str) -> bool:
        with self.tx() as c:
            return c.execute("DELETE FROM web_sessions WHERE token_hash = ?",
                             (token_hash,)).rowcount > 0

    def delete_expired_sessions(self, now: str) -> int:
        with self.tx() as c:
            return c.execute("DELETE FROM web_sessions WHERE expires <= ?", (now,)).rowcount

    def delete_user_sessions(self, user: str) -> int:
        with self.tx() as c:
            return c.execute("DELETE FROM web_sessions WHERE user = ?", (user,)).rowcount
