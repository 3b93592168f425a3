"""Xet storage: xorbs (stored as objects of the object storage), which models uploaded or
may use them, and the file reconstructions registered by a model's shards."""

from __future__ import annotations

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Xet(StoreBase):
    """SQL of ``xet_xorbs``, ``xet_model_xorbs``, ``xet_dedupe_chunks``, ``xet_files`` and
    ``xet_file_terms``."""

    def add_xorb(self, model_id: str, xorb: str, oid: str, size: int, unpacked: int,
                 chunks: int, footer_at: int | None = None) -> bool:
        """Record a verified xorb (idempotent) and link it to the model; True if it was new.
        ``footer_at``: where its verified footer begins (None: it has none)."""
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO xet_xorbs (hash, oid, size, unpacked, chunks, created, footer_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                (xorb, oid, size, unpacked, chunks, now_iso(), footer_at))
            c.execute("INSERT INTO xet_model_xorbs (model, xorb, created) VALUES (?, ?, ?)"
                      " ON CONFLICT (model, xorb) DO NOTHING", (model_id, xorb, now_iso()))
            return cur.rowcount > 0

    def get_xorb(self, xorb: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM xet_xorbs WHERE hash = ?", (xorb,))

    def model_has_xorb(self, model_id: str, xorb: str) -> bool:
        return self._one("SELECT 1 AS x FROM xet_model_xorbs WHERE model = ? AND xorb = ?",
                         (model_id, xorb)) is not None

    def note_uploader(self, user: str, xorb: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO xet_user_xorbs (user, xorb) VALUES (?, ?)"
                      " ON CONFLICT (user, xorb) DO NOTHING", (user, xorb))

    def uploaded_by(self, user: str, xorb: str) -> bool:
        return self._one("SELECT 1 AS x FROM xet_user_xorbs WHERE user = ? AND xorb = ?",
                         (user, xorb)) is not None

    def models_with_xorb(self, xorb: str) -> list[str]:
        """The models that uploaded (or were given) the xorb."""
        return [str(r["model"]) for r in self._all(
            "SELECT model FROM xet_model_xorbs WHERE xorb = ? ORDER BY model", (xorb,))]

    def link_xorb(self, model_id: str, xorb: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO xet_model_xorbs (model, xorb, created) VALUES (?, ?, ?)"
                      " ON CONFLICT (model, xorb) DO NOTHING", (model_id, xorb, now_iso()))

    def add_dedupe_chunks(self, xorb: str, chunk_hashes: list[str]) -> None:
        """Chunks of a stored xorb the dedupe query may answer for (idempotent)."""
        with self.tx() as c:
            c.executemany("INSERT INTO xet_dedupe_chunks (chunk_hash, xorb) VALUES (?, ?)"
                          " ON CONFLICT DO NOTHING", [(h, xorb) for h in chunk_hashes])

    def dedupe_xorb(self, model_id: str, chunk_hash: str) -> str | None:
        """A xorb this model uploaded that holds the chunk, if the chunk is indexed."""
        row = self._one(
            "SELECT c.xorb FROM xet_dedupe_chunks c JOIN xet_model_xorbs m"
            " ON m.xorb = c.xorb AND m.model = ? WHERE c.chunk_hash = ? LIMIT 1",
            (model_id, chunk_hash))
        return str(row["xorb"]) if row else None

    def xorbs_beside(self, model_id: str, xorb: str, limit: int) -> list[str]:
        """The other xorbs of this model's files that use ``xorb``: the dedupe answer lists
        them with it, as the files that made them are likely to come back together."""
        rows = self._all(
            "SELECT DISTINCT b.xorb FROM xet_file_terms a JOIN xet_file_terms b"
            " ON b.model = a.model AND b.file_hash = a.file_hash"
            " WHERE a.model = ? AND a.xorb = ? AND b.xorb <> ? ORDER BY b.xorb LIMIT ?",
            (model_id, xorb, xorb, limit))
        return [str(r["xorb"]) for r in rows]

    def xorb_bytes(self) -> int:
        """Bytes of every stored xorb (each counted once, however many models use it)."""
        row = self._one("SELECT COALESCE(SUM(size), 0) AS n FROM xet_xorbs")
        return int(row["n"]) if row else 0

    def model_xorb_bytes(self, model_id: str) -> int:
        """Bytes of the stored xorbs the model links (uploaded, or borrowed by a file)."""
        row = self._one("SELECT COALESCE(SUM(x.size), 0) AS n FROM xet_xorbs x"
                        " JOIN xet_model_xorbs m ON m.xorb = x.hash WHERE m.model = ?",
                        (model_id,))
        return int(row["n"]) if row else 0

    def space_xorb_bytes(self, space: str) -> int:
        """Bytes of the stored xorbs the space's models link, each xorb counted once."""
        row = self._one("SELECT COALESCE(SUM(x.size), 0) AS n FROM xet_xorbs x WHERE x.hash IN"
                        " (SELECT m.xorb FROM xet_model_xorbs m JOIN models d ON d.id = m.model"
                        " WHERE d.space = ?)", (space,))
        return int(row["n"]) if row else 0

    def add_file(self, model_id: str, file_hash: str, sha256: str, size: int,
                 terms: list[tuple[str, int, int, int]]) -> None:
        """Register a file's reconstruction for a model: terms are (xorb, start, end, size)."""
        with self.tx() as c:
            c.execute("DELETE FROM xet_file_terms WHERE model = ? AND file_hash = ?",
                      (model_id, file_hash))
            c.execute(
                "INSERT INTO xet_files (model, file_hash, sha256, size, created)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, file_hash)"
                " DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
                (model_id, file_hash, sha256, size, now_iso()))
            c.executemany(
                "INSERT INTO xet_file_terms (model, file_hash, idx, xorb, chunk_start,"
                " chunk_end, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(model_id, file_hash, i, x, s, e, n) for i, (x, s, e, n) in enumerate(terms)])

    def get_file(self, model_id: str, file_hash: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM xet_files WHERE model = ? AND file_hash = ?",
                         (model_id, file_hash))

    def file_by_sha256(self, model_id: str, sha256: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM xet_files WHERE model = ? AND sha256 = ?"
                         " ORDER BY created LIMIT 1", (model_id, sha256))

    def xet_hashes(self, model_id: str, sha256s: list[str]) -> dict[str, str]:
        """The Xet hash of each of these LFS objects of the model that has a reconstruction
        (one query per few hundred, for a tree page)."""
        found: dict[str, str] = {}
        wanted = sorted(set(sha256s))
        for at in range(0, len(wanted), 500):
            part = wanted[at:at + 500]
            marks = ", ".join("?" for _ in part)
            for row in self._all(f"SELECT sha256, file_hash FROM xet_files WHERE model = ?"  # noqa: S608 # nosec B608
                                 f" AND sha256 IN ({marks}) ORDER BY created DESC",
                                 (model_id, *part)):
                found[str(row["sha256"])] = str(row["file_hash"])
        return found

    def file_terms(self, model_id: str, file_hash: str) -> list[dict[str, Any]]:
        return self._all("SELECT xorb, chunk_start, chunk_end, size FROM xet_file_terms"
                         " WHERE model = ? AND file_hash = ? ORDER BY idx", (model_id, file_hash))

    def drop_unreferenced_xorbs(self, *, dry_run: bool = False) -> list[dict[str, Any]]:
        """Forget the xorbs no model links any more (their models were deleted); their bytes
        are then unlinked objects, which ``gc`` removes like any other. Returns them."""
        with self.tx() as c:
            rows = [dict(r) for r in c.execute(
                "SELECT * FROM xet_xorbs x WHERE NOT EXISTS"
                " (SELECT 1 FROM xet_model_xorbs m WHERE m.xorb = x.hash)").fetchall()]
            if not dry_run:
                c.executemany("DELETE FROM xet_xorbs WHERE hash = ?",
                              [(r["hash"],) for r in rows])
        return rows
