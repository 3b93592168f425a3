"""Renaming a model in every table that names it, and the old names that still redirect."""

from __future__ import annotations

import time
from typing import Any

from modelgit.store.connection import StoreBase


class Redirects(StoreBase):
    """SQL of ``model_redirects`` and of a model's rename.

    A rename changes the model's id in every table with a foreign key to ``models`` or to
    another table's model column (found from the schema, so a table added later moves along
    without a change here), in one transaction with the foreign-key check deferred to its end.
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
            for table, column in self._model_id_columns(c):
                # Names come from the database's own schema, quoted.
                c.execute(f"UPDATE {_quote(table)} SET {_quote(column)} = ?"  # noqa: S608 # nosec
                          f" WHERE {_quote(column)} = ?", (new, old))
            # An earlier name of the model now leads to the new one; the new name is a
            # model again, so it no longer redirects.
            c.execute("UPDATE model_redirects SET new = ? WHERE new = ?", (new, old))
            c.execute("DELETE FROM model_redirects WHERE old = ?", (new,))
            if redirect_seconds > 0:
                c.execute("INSERT OR REPLACE INTO model_redirects (old, new, until, created)"
                          " VALUES (?, ?, ?, ?)", (old, new, until, time.time()))

    def _model_id_columns(self, c: Any) -> list[tuple[str, str]]:
        """Every (table, column) that holds a model id: a foreign key to ``models.id``, or
        to such a column of another table (``xet_file_terms.model`` names
        ``xet_files.model``), followed until nothing new turns up."""
        keys: list[tuple[str, str, str, str]] = []  # (table, column, parent, parent column)
        tables = [r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        for table in tables:
            for fk in c.execute(f"PRAGMA foreign_key_list({_quote(table)})").fetchall():
                keys.append((table, fk[3], fk[2], fk[4] or "id"))
        found: set[tuple[str, str]] = {("models", "id")}
        order: list[tuple[str, str]] = []
        grew = True
        while grew:
            grew = False
            for table, column, parent, parent_column in keys:
                if (parent, parent_column) in found and (table, column) not in found:
                    found.add((table, column))
                    order.append((table, column))
                    grew = True
        return order

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
