"""Access requests to gated models.

``json`` is imported where it is used: ``credential-check``'s cold start loads this
module and must not pay for it.
"""

from __future__ import annotations

from modelgit.store.connection import StoreBase

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class AccessRequests(StoreBase):
    """SQL of ``access_requests``."""

    def get_request(self, model_id: str, user: str) -> dict[str, Any] | None:
        import json

        row = self._one("SELECT * FROM access_requests WHERE model = ? AND user = ?",
                        (model_id, user))
        if row is not None:
            row["fields"] = json.loads(row["fields"])
        return row

    def get_request_by_id(self, model_id: str, request_id: int) -> dict[str, Any] | None:
        import json

        row = self._one("SELECT * FROM access_requests WHERE model = ? AND id = ?",
                        (model_id, request_id))
        if row is not None:
            row["fields"] = json.loads(row["fields"])
        return row

    def save_request(self, model_id: str, user: str, *, status: str, fields: dict[str, str],
                     timestamp: str, reviewed_at: str | None, granted_by: str | None,
                     reason: str | None) -> dict[str, Any]:
        """Insert or update the one row per (model, user); returns it with its id."""
        import json

        with self.tx() as c:
            c.execute(
                "INSERT INTO access_requests (model, user, status, fields, timestamp,"
                " reviewed_at, granted_by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (model, user) DO UPDATE SET status = excluded.status,"
                " fields = excluded.fields, reviewed_at = excluded.reviewed_at,"
                " granted_by = excluded.granted_by, reason = excluded.reason",
                (model_id, user, status, json.dumps(fields), timestamp, reviewed_at,
                 granted_by, reason),
            )
        row = self.get_request(model_id, user)
        assert row is not None
        return row

    def list_requests(self, model_id: str, *, status: str | None = None, after_id: int = 0,
                      limit: int = 1000) -> list[dict[str, Any]]:
        import json

        rows = self._all(
            "SELECT r.*, u.fullname, u.email FROM access_requests r"
            " JOIN users u ON u.name = r.user"
            " WHERE r.model = :m AND (:s IS NULL OR r.status = :s) AND r.id > :a"
            " ORDER BY r.id LIMIT :n",
            {"m": model_id, "s": status, "a": after_id, "n": limit},
        )
        for row in rows:
            row["fields"] = json.loads(row["fields"])
        return rows

    def unnotified_requests(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Pending requests not yet in any notification (for the daily digest)."""
        import json

        rows = self._all(
            "SELECT r.*, u.fullname, u.email FROM access_requests r"
            " JOIN users u ON u.name = r.user"
            " WHERE r.status = 'pending' AND r.notified = 0 AND (:m IS NULL OR r.model = :m)"
            " ORDER BY r.model, r.id",
            {"m": model_id},
        )
        for row in rows:
            row["fields"] = json.loads(row["fields"])
        return rows

    def mark_notified(self, request_ids: list[int]) -> None:
        with self.tx() as c:
            c.executemany("UPDATE access_requests SET notified = 1 WHERE id = ?",
                          [(i,) for i in request_ids])
