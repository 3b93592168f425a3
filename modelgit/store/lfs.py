"""LFS objects linked to models, and LFS locks."""

from __future__ import annotations

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Lfs(StoreBase):
    """SQL of ``lfs_objects`` and ``lfs_locks``."""

    def link_object(self, model_id: str, oid: str, size: int) -> None:
        """Link an object to a model (idempotent): the model may now serve it."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO lfs_objects (model, oid, size, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (model, oid) DO NOTHING",
                (model_id, oid, size, now_iso()),
            )

    def linked_size(self, model_id: str, oid: str) -> int | None:
        row = self._one("SELECT size FROM lfs_objects WHERE model = ? AND oid = ?",
                        (model_id, oid))
        return int(row["size"]) if row else None

    def linked_sizes(self, model_id: str, oids: list[str]) -> dict[str, int]:
        """Sizes of the given oids linked to the model, in chunks (SQL variable limits)."""
        out: dict[str, int] = {}
        for i in range(0, len(oids), 500):
            part = oids[i:i + 500]
            marks = ",".join("?" * len(part))
            for row in self._all(
                # Safe from injection: only "?" placeholders are formatted in.
                f"SELECT oid, size FROM lfs_objects WHERE model = ? AND oid IN ({marks})",  # noqa: S608  # nosec
                (model_id, *part),
            ):
                out[row["oid"]] = int(row["size"])
        return out

    def is_linked_anywhere(self, oid: str) -> bool:
        """Whether a model links the object, or it holds a Xet xorb that is still recorded
        (xorbs share the object storage; ``drop_unreferenced_xorbs`` forgets unused ones)."""
        return self._one("SELECT 1 AS x FROM lfs_objects WHERE oid = ?"
                         " UNION ALL SELECT 1 AS x FROM xet_xorbs WHERE oid = ? LIMIT 1",
                         (oid, oid)) is not None

    def lfs_bytes(self, *, space: str | None = None, model_id: str | None = None) -> int:
        if model_id is not None:
            row = self._one("SELECT COALESCE(SUM(size), 0) AS n FROM lfs_objects WHERE model = ?",
                            (model_id,))
        else:
            row = self._one(
                "SELECT COALESCE(SUM(o.size), 0) AS n FROM lfs_objects o"
                " JOIN models m ON m.id = o.model WHERE m.space = ?", (space,))
        return int(row["n"]) if row else 0

    def add_lock(self, model_id: str, path: str, owner: str) -> tuple[dict[str, Any], bool]:
        """(lock, created): an existing lock on the path comes back with created False."""
        with self.tx() as c:
            row = c.execute("SELECT * FROM lfs_locks WHERE model = ? AND path = ?",
                            (model_id, path)).fetchone()
            if row is not None:
                return dict(row), False
            # Two front ends may race past the check above: UNIQUE (model, path) decides,
            # and the loser gets the winner's lock back, as if it had come second.
            cur = c.execute(
                "INSERT INTO lfs_locks (model, path, owner, locked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (model, path) DO NOTHING",
                (model_id, path, owner, now_iso()),
            )
            created = cur.rowcount == 1
            new = c.execute("SELECT * FROM lfs_locks WHERE model = ? AND path = ?",
                            (model_id, path)).fetchone()
            return dict(new), created

    def get_lock(self, model_id: str, lock_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM lfs_locks WHERE model = ? AND id = ?", (model_id, lock_id))

    def list_locks(self, model_id: str, *, path: str | None = None, lock_id: int | None = None,
                   from_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        return self._all(
            "SELECT * FROM lfs_locks WHERE model = :m AND id >= :f"
            " AND (:p IS NULL OR path = :p) AND (:i IS NULL OR id = :i)"
            " ORDER BY id LIMIT :n",
            {"m": model_id, "f": from_id, "p": path, "i": lock_id, "n": limit},
        )

    def delete_lock(self, model_id: str, lock_id: int) -> bool:
        with self.tx() as c:
            cur = c.execute("DELETE FROM lfs_locks WHERE model = ? AND id = ?", (model_id, lock_id))
            return cur.rowcount > 0

    def unlinked_oids(self, candidates: list[str]) -> list[str]:
        """Of the given oids, those no model links (garbage to collect)."""
        return [oid for oid in candidates if not self.is_linked_anywhere(oid)]
