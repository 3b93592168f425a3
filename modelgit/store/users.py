"""Users and their access keys."""

from __future__ import annotations

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Users(StoreBase):
    """SQL of ``users`` and ``keys``."""

    # -- users -----------------------------------------------------------------------
    def add_user(self, name: str, *, fullname: str = "", email: str = "",
                 is_admin: bool = False, space_creator: bool = False) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO users (name, fullname, email, is_admin, space_creator, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, fullname, email, int(is_admin), int(space_creator), now_iso()),
            )

    def get_user(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM users WHERE name = ?", (name,))

    def list_users(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM users ORDER BY name")

    def set_user_flags(self, name: str, *, is_admin: bool | None = None,
                       space_creator: bool | None = None) -> None:
        with self.tx() as c:
            if is_admin is not None:
                c.execute("UPDATE users SET is_admin = ? WHERE name = ?", (int(is_admin), name))
            if space_creator is not None:
                c.execute("UPDATE users SET space_creator = ? WHERE name = ?",
                          (int(space_creator), name))

    def user_ownerships(self, name: str) -> list[str]:
        """Spaces and models the user owns (an owner is fixed, so these block removal)."""
        rows = self._all(
            "SELECT 'space ' || name AS what FROM spaces WHERE owner = ?"
            " UNION ALL SELECT 'model ' || id FROM models WHERE owner = ?",
            (name, name),
        )
        return [r["what"] for r in rows]

    def remove_user(self, name: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM users WHERE name = ?", (name,))

    # -- keys ------------------------------------------------------------------------
    def add_key(self, key_id: str, user: str, digest: str, scope: str,
                expires: str | None) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO keys (id, user, hash, scope, created, expires)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, user, digest, scope, now_iso(), expires),
            )

    def key_by_hash(self, digest: str) -> dict[str, Any] | None:
        """The live key row with its owner's flags, or None. One indexed lookup."""
        return self._one(
            "SELECT k.id, k.user, k.hash, k.scope, k.expires, k.last_used, k.revoked,"
            " u.is_admin FROM keys k JOIN users u ON u.name = k.user WHERE k.hash = ?",
            (digest,),
            prepared=True,
        )

    def touch_key(self, key_id: str, when: str) -> None:
        with self.tx() as c:
            c.execute("UPDATE keys SET last_used = ? WHERE id = ?", (when, key_id))

    def list_keys(self, user: str) -> list[dict[str, Any]]:
        return self._all(
            "SELECT id, user, scope, created, expires, last_used, revoked FROM keys"
            " WHERE user = ? ORDER BY created", (user,),
        )

    def get_key(self, key_id: str) -> dict[str, Any] | None:
        return self._one("SELECT id, user, scope, expires, revoked FROM keys WHERE id = ?",
                         (key_id,))

    def revoke_key(self, key_id: str) -> bool:
        with self.tx() as c:
            cur = c.execute(
                "UPDATE keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (now_iso(), key_id),
            )
            return cur.rowcount > 0

    def replace_keys(self, user: str, key_id: str, digest: str, scope: str,
                     expires: str | None) -> int:
        """Revoke all of the user's keys and add one new one, atomically."""
        when = now_iso()
        with self.tx() as c:
            cur = c.execute(
                "UPDATE keys SET revoked = ? WHERE user = ? AND revoked IS NULL", (when, user)
            )
            c.execute(
                "INSERT INTO keys (id, user, hash, scope, created, expires)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, user, digest, scope, when, expires),
            )
            return cur.rowcount
