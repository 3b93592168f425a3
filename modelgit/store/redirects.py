"""Renaming a model in every table that names it, and the old names that still redirect."""

from __future__ import annotations

import time

from modelgit.store.connection import StoreBase
from modelgit.store.models import refresh_search_text


class Redirects(StoreBase):
    """SQL of ``model_redirects`` and of a model's rename.

    A rename changes the model's id in every table with a foreign key to ``models`` (found
    from the schema by ``references_to``, on either backend, so a table added later moves
    along without a change here; a table whose model column is part of a key to another
    table also references ``models`` directly, as ``xet_file_terms`` does), in one
    transaction with the foreign-key check deferred to its end.
    """

    def rename_model(self, old: str, new: str, *, space: str, name: str,
                     redirect_seconds: float) -> None:
        """Move ``old`` to ``new`` with its roles, requests, LFS links, scans, tasks and
        replicas; ``old`` answers with a redirect for ``redirect_seconds`` (0: none)."""
        until = time.time() + redirect_seconds
        with self.tx() as c:
            c.execute("PRAGMA defer_foreign_keys = ON")
            c.execute("UPDATE models SET id = ?, space = ?, name = ? WHERE id = ?",
                      (new, space, name, old))
            refresh_search_text(c, new)  # the id is part of what a search looks in
            for table, column in self.references_to("models"):
                # Names come from the database's own schema, quoted.
                c.execute(f"UPDATE {_quote(table)} SET {_quote(column)} = ?"  # noqa: S608 # nosec
                          f" WHERE {_quote(column)} = ?", (new, old))
            # An earlier name of the model now leads to the new one; the new name is a
            # model again, so it no longer redirects.
            c.execute("UPDATE model_redirects SET new = ? WHERE new = ?", (new, old))
            c.execute("DELETE FROM model_redirects WHERE old = ?", (new,))
            if redirect_seconds > 0:
                c.execute("INSERT INTO model_redirects (old, new, until, created)"
                          " VALUES (?, ?, ?, ?) ON CONFLICT (old) DO UPDATE SET"
                          " new = excluded.new, until = excluded.until,"
                          " created = excluded.created", (old, new, until, time.time()))

    def redirect_of(self, old: str) -> str | None:
        """The model an old name leads to while its redirect lasts."""
        row = self._one("SELECT new FROM model_redirects WHERE old = ? AND until > ?",
                        (old, time.time()))
        return str(row["new"]) if row else None

    def drop_redirects(self, model_id: str) -> None:
        """Forget every old name of a model (it is deleted) and the name itself."""
        with self.tx() as c:
            c.execute("DELETE FROM model_redirects WHERE new = ? OR old = ?",
                      (model_id, model_id))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
