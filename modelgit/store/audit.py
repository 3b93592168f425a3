"""The audit log and the failed authentications the brute-force brake counts.

``json`` is imported where it is used: ``credential-check``'s cold start loads this
module and must not pay for it.
"""

from __future__ import annotations

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Audit(StoreBase):
    """SQL of ``audit`` and ``auth_failures``."""

    # -- failed authentications (brute-force brake) ------------------------------------
    def record_auth_failure(self, address: str, user: str | None, at: float) -> None:
        """Count a failure; rows older than an hour are dropped on the way (bounded table)."""
        with self.tx() as c:
            c.execute("INSERT INTO auth_failures (address, user, at) VALUES (?, ?, ?)",
                      (address, user or "", at))
            c.execute("DELETE FROM auth_failures WHERE at < ?", (at - 3600,))

    def auth_failures_since(self, address: str, user: str | None, since: float
                            ) -> tuple[int, int, float | None]:
        """(failures of this user from this address, failures from this address, newest)."""
        row = self._one(
            "SELECT SUM(CASE WHEN user = :u THEN 1 ELSE 0 END) AS pair, COUNT(*) AS addr,"
            " MAX(at) AS newest FROM auth_failures WHERE address = :a AND at >= :s",
            {"a": address, "u": user or "", "s": since},
            prepared=True,
        )
        if row is None:
            return 0, 0, None
        return int(row["pair"] or 0), int(row["addr"] or 0), row["newest"]

    # -- audit -----------------------------------------------------------------------
    def audit(self, action: str, *, actor: str | None = None, target: str | None = None,
              address: str | None = None, detail: dict[str, Any] | None = None) -> None:
        import json

        with self.tx() as c:
            c.execute(
                "INSERT INTO audit (at, actor, action, target, address, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (now_iso(), actor, action, target, address, json.dumps(detail or {})),
            )

    def audit_rows(self, *, target: str | None = None, action: str | None = None,
                   limit: int = 100, actions: tuple[str, ...] | None = None,
                   actor: str | None = None, before_id: int | None = None
                   ) -> list[dict[str, Any]]:
        """Newest first; ``actions`` any of these actions, ``before_id`` the next page."""
        import json

        where: list[str] = []
        params: list[Any] = []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        if actions is not None:
            where.append("action IN (" + ",".join("?" * len(actions)) + ")" if actions
                         else "0")
            params.extend(actions)
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._all(
            # Safe from injection: the clause is fixed text; values are bound.
            f"SELECT * FROM audit {clause} ORDER BY id DESC LIMIT ?",  # noqa: S608  # nosec
            (*params, limit),
        )
        for row in rows:
            row["detail"] = json.loads(row["detail"])
        return rows
