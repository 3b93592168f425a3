"""Scan runs and their findings."""

from __future__ import annotations

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Scans(StoreBase):
    """SQL of ``scans`` and ``findings``."""

    def start_scan(self, model_id: str, ref: str, commit: str, scanner: str) -> int:
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO scans (model, ref, commit_sha, scanner, status, started)"
                " VALUES (?, ?, ?, ?, 'running', ?)", (model_id, ref, commit, scanner, now_iso()))
            return int(cur.lastrowid or 0)

    def finish_scan(self, scan_id: int, findings: list[dict[str, Any]],
                    error: str | None = None) -> None:
        """Findings and the final status in one transaction (never a half-written scan)."""
        with self.tx() as c:
            c.executemany(
                "INSERT INTO findings (scan, path, line, rule, severity, confidence, message,"
                " commit_sha) VALUES (:scan, :path, :line, :rule, :severity, :confidence,"
                " :message, :commit)", [{**f, "scan": scan_id} for f in findings])
            c.execute("UPDATE scans SET status = ?, finished = ?, error = ? WHERE id = ?",
                      ("failed" if error else "done", now_iso(), error, scan_id))

    def latest_scans(self, model_id: str, commit: str | None = None) -> list[dict[str, Any]]:
        """The newest scan of each scanner (for one commit, or the newest commit scanned)."""
        if commit is None:
            row = self._one("SELECT commit_sha FROM scans WHERE model = ? ORDER BY id DESC"
                            " LIMIT 1", (model_id,))
            if row is None:
                return []
            commit = row["commit_sha"]
        return self._all(
            "SELECT s.*, (SELECT COUNT(*) FROM findings f WHERE f.scan = s.id) AS findings"
            " FROM scans s WHERE s.id IN (SELECT MAX(id) FROM scans WHERE model = ?"
            " AND commit_sha = ? GROUP BY scanner) ORDER BY s.scanner", (model_id, commit))

    def scan_findings(self, scan_ids: list[int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for scan_id in scan_ids:
            out += self._all("SELECT * FROM findings WHERE scan = ? ORDER BY path, line",
                             (scan_id,))
        return out
