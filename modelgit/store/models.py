"""Spaces, models and the roles granted on them."""

from __future__ import annotations

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


def search_text(model_id: str, display_name: str, tags: object) -> str:
    """What a model's text search looks in: its id, display name and tags, lower-cased and
    joined by spaces. One definition for the SQL pre-filter (the ``search_text`` column) and
    the exact check in ``services.models.card_matches``, so both always agree."""
    if isinstance(tags, str):
        tags = [tags]
    words = [str(t) for t in tags] if isinstance(tags, list) else []
    return " ".join([model_id, display_name or "", *words]).lower()


def card_tags(card: str | None) -> object:
    """The ``tags`` of a stored card's index (``models.card``, JSON), or None."""
    import json  # only on writes; the credential check never gets here

    try:
        value = json.loads(card or "{}")
    except ValueError:
        return None
    index = value.get("index") if isinstance(value, dict) else None
    return index.get("tags") if isinstance(index, dict) else None


def like_pattern(text: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern for rows containing ``text`` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def refresh_search_text(c: Any, model_id: str) -> None:
    """Recompute the model's ``search_text`` from its row, inside the caller's transaction
    (after a change of its id, display name or card)."""
    row = c.execute("SELECT display_name, card FROM models WHERE id = ?",
                    (model_id,)).fetchone()
    if row is not None:
        c.execute("UPDATE models SET search_text = ? WHERE id = ?",
                  (search_text(model_id, row[0], card_tags(row[1])), model_id))


class Models(StoreBase):
    """SQL of ``spaces``, ``models``, ``space_roles`` and ``model_roles``."""

    # -- spaces ----------------------------------------------------------------------
    def add_space(self, name: str, owner: str, quota_bytes: int | None,
                  fullname: str | None = None) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO spaces (name, owner, quota_bytes, created) VALUES (?, ?, ?, ?)",
                (name, owner, quota_bytes, now_iso()),
            )
            if fullname is not None:  # (the migration tests add spaces to older schemas)
                c.execute("UPDATE spaces SET fullname = ? WHERE name = ?", (fullname, name))
            c.execute(
                "INSERT INTO space_roles (space, user, role) VALUES (?, ?, 'owner')",
                (name, owner),
            )

    def get_space(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM spaces WHERE name = ?", (name,))

    def list_spaces(self) -> list[dict[str, Any]]:
        return self._all(
            "SELECT s.*, (SELECT COUNT(*) FROM models m WHERE m.space = s.name) AS models"
            " FROM spaces s ORDER BY s.name"
        )

    def set_space_quota(self, name: str, quota_bytes: int | None) -> None:
        with self.tx() as c:
            c.execute("UPDATE spaces SET quota_bytes = ? WHERE name = ?", (quota_bytes, name))

    def set_space_fullname(self, name: str, fullname: str | None) -> None:
        with self.tx() as c:
            c.execute("UPDATE spaces SET fullname = ? WHERE name = ?", (fullname, name))

    def space_role(self, space: str, user: str) -> str | None:
        row = self._one(
            "SELECT role FROM space_roles WHERE space = ? AND user = ?", (space, user)
        )
        return row["role"] if row else None

    def set_space_role(self, space: str, user: str, role: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO space_roles (space, user, role) VALUES (?, ?, ?)"
                " ON CONFLICT (space, user) DO UPDATE SET role = excluded.role",
                (space, user, role),
            )

    def remove_space_role(self, space: str, user: str) -> bool:
        with self.tx() as c:
            cur = c.execute(
                "DELETE FROM space_roles WHERE space = ? AND user = ?", (space, user)
            )
            return cur.rowcount > 0

    def space_roles(self, space: str) -> list[dict[str, Any]]:
        return self._all(
            "SELECT user, role FROM space_roles WHERE space = ?"
            " ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'maintainer' THEN 1 ELSE 2 END, user",
            (space,),
        )

    # -- models ----------------------------------------------------------------------
    def add_model(self, model_id: str, owner: str, *, display_name: str = "",
                  visibility: str = "private", gated: str = "off") -> None:
        space, name = model_id.split("/", 1)
        with self.tx() as c:
            c.execute(
                "INSERT INTO models (id, space, name, display_name, owner, visibility, gated,"
                " created, search_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (model_id, space, name, display_name, owner, visibility, gated, now_iso(),
                 search_text(model_id, display_name, None)),
            )

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM models WHERE id = ?", (model_id,))

    def list_models(self, contains: str | None = None) -> list[dict[str, Any]]:
        """Every model, by id; ``contains`` pre-filters on ``search_text`` as in
        :meth:`hub_models_for` (the caller still checks the card exactly)."""
        if contains:
            return self._all("SELECT * FROM models WHERE search_text IS NULL OR search_text"
                             " LIKE ? ESCAPE '\\' ORDER BY id", (like_pattern(contains),))
        return self._all("SELECT * FROM models ORDER BY id")

    def update_model(self, model_id: str, **values: Any) -> None:
        allowed = {"visibility", "gated", "display_name", "default_branch", "card", "notify",
                   "notify_email"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"not model settings: {sorted(bad)}")
        if not values:
            return
        cols = ", ".join(f"{k} = ?" for k in values)  # keys checked against `allowed`
        with self.tx() as c:
            # Safe from injection: column names come from the fixed `allowed` set.
            c.execute(f"UPDATE models SET {cols} WHERE id = ?",  # noqa: S608  # nosec
                      (*values.values(), model_id))
            if "card" in values or "display_name" in values:
                refresh_search_text(c, model_id)

    def fill_search_text(self) -> int:
        """Compute ``search_text`` where it is NULL (rows written by SQL that does not know
        the column, e.g. a bulk load); the number of rows filled. Such rows are still found
        meanwhile, only more slowly: NULL never hides a model from a search."""
        filled = 0
        with self.tx() as c:
            rows = c.execute("SELECT id, display_name, card FROM models"
                             " WHERE search_text IS NULL").fetchall()
            for row in rows:
                c.execute("UPDATE models SET search_text = ? WHERE id = ?",
                          (search_text(row[0], row[1], card_tags(row[2])), row[0]))
                filled += 1
        return filled

    def touch_model(self, model_id: str) -> None:
        """Record that a ref of the model moved now (its ``last_modified``)."""
        with self.tx() as c:
            c.execute("UPDATE models SET last_modified = ? WHERE id = ?", (now_iso(), model_id))

    def delete_model(self, model_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM models WHERE id = ?", (model_id,))

    def model_role(self, model_id: str, user: str) -> str | None:
        row = self._one(
            "SELECT role FROM model_roles WHERE model = ? AND user = ?", (model_id, user)
        )
        return row["role"] if row else None

    def set_model_role(self, model_id: str, user: str, role: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO model_roles (model, user, role) VALUES (?, ?, ?)"
                " ON CONFLICT (model, user) DO UPDATE SET role = excluded.role",
                (model_id, user, role),
            )

    def remove_model_role(self, model_id: str, user: str) -> bool:
        with self.tx() as c:
            cur = c.execute(
                "DELETE FROM model_roles WHERE model = ? AND user = ?", (model_id, user)
            )
            return cur.rowcount > 0

    def model_roles(self, model_id: str) -> list[dict[str, Any]]:
        return self._all(
            "SELECT user, role FROM model_roles WHERE model = ? ORDER BY user", (model_id,)
        )

    def access_facts(self, model_id: str, user: str | None) -> dict[str, Any] | None:
        """Everything ``decide()`` needs about (model, user), in one round trip."""
        return self._one(
            "SELECT m.id, m.space, m.owner, m.visibility, m.gated, m.default_branch,"
            " s.owner AS space_owner,"
            " (SELECT role FROM model_roles WHERE model = m.id AND user = :u) AS model_role,"
            " (SELECT role FROM space_roles WHERE space = m.space AND user = :u) AS space_role,"
            " (SELECT status FROM access_requests WHERE model = m.id AND user = :u)"
            " AS request_status"
            " FROM models m JOIN spaces s ON s.name = m.space WHERE m.id = :m",
            {"m": model_id, "u": user},
            prepared=True,
        )


    # -- hub listings ----------------------------------------------------------------
    def hub_user_spaces(self, user: str) -> list[dict[str, Any]]:
        """Spaces where the user has a role (owners included), with their full names, for
        the hub's ``whoami``."""
        return self._all(
            "SELECT name AS space, 'owner' AS role, fullname FROM spaces WHERE owner = :u"
            " UNION SELECT r.space, r.role, s.fullname FROM space_roles r"
            " JOIN spaces s ON s.name = r.space WHERE r.user = :u"
            " AND r.space NOT IN (SELECT name FROM spaces WHERE owner = :u)"
            " ORDER BY space",
            {"u": user},
        )

    def hub_models_for(self, user: str | None, after: str, limit: int, *,
                       sort: str = "id", descending: bool = False, after_key: str = "",
                       contains: str | None = None) -> list[dict[str, Any]]:
        """Models after the cursor in the asked order, each with what ``decide()`` needs for
        ``user`` (one query per page of the hub listing instead of one per model). ``sort``:
        ``id``, ``created`` or ``last_modified`` (the creation time before any ref moved);
        the cursor is the last row's ``id`` and, for the time sorts, its ``sort_key``; ties
        are broken by id, so no model is skipped or shown twice across pages.

        ``contains``: only models whose ``search_text`` holds this (lower-case) text, or is
        not computed yet (NULL) - a pre-filter the caller still checks exactly; it turns a
        text search from reading every model's card into reading the few that match."""
        key = {"id": "m.id", "created": "m.created",
               "last_modified": "COALESCE(m.last_modified, m.created)"}[sort]
        op, direction = ("<", "DESC") if descending else (">", "ASC")
        if sort == "id":
            where = f"m.id {op} :a" if after else "TRUE"
        elif after:
            where = f"({key} {op} :k OR ({key} = :k AND m.id {op} :a))"
        else:
            where = "TRUE"
        if contains:
            where += " AND (m.search_text IS NULL OR m.search_text LIKE :s ESCAPE '\\')"
        # Safe from injection: key, op and direction come from the fixed choices above.
        return self._all(
            f"SELECT m.*, {key} AS sort_key, s.owner AS space_owner,"  # noqa: S608  # nosec
            " (SELECT role FROM model_roles WHERE model = m.id AND user = :u) AS model_role,"
            " (SELECT role FROM space_roles WHERE space = m.space AND user = :u) AS space_role,"
            " (SELECT status FROM access_requests WHERE model = m.id AND user = :u)"
            " AS request_status"
            f" FROM models m JOIN spaces s ON s.name = m.space WHERE {where}"
            f" ORDER BY {key} {direction}, m.id {direction} LIMIT :n",
            {"u": user, "a": after, "k": after_key, "n": limit,
             "s": like_pattern(contains) if contains else None},
        )
