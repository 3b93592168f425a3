"""SQLite schema, migrations and every SQL statement modelgit runs.

Only this module writes SQL (docs/architecture.md: a later PostgreSQL store replaces this one file).
Queries use the standard library's ``sqlite3`` because ``sqlite_utils`` costs ~180 ms to
import, which the hook shims and ``credential-check`` cannot pay on every request;
sqlite-utils' ``Migrations`` is imported only when the schema has to change.

Connections are per thread (the WSGI server is threaded); every write is one short
transaction so that concurrent pushes never see "database is locked" (WAL + busy_timeout +
a retry on SQLITE_BUSY).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
MIGRATION_SET = "modelgit"


class StoreError(Exception):
    """An expected store failure whose message a person can act on."""


class SchemaTooNew(StoreError):
    """The database was written by a newer modelgit; running on it could lose data."""


def now_iso() -> str:
    """UTC timestamp with milliseconds, the form the hubs use (``...T12:00:00.123Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- migrations
# Ordered, named steps. Never edit an applied step: add a new one.
def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run DDL statement by statement: ``executescript`` would COMMIT the migration's
    transaction half-way, and a failed step must leave nothing behind."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m0001_initial(db: Any) -> None:
    _script(db,
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            fullname TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            is_admin INTEGER NOT NULL DEFAULT 0,
            space_creator INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL
        );
        CREATE TABLE keys (
            id TEXT PRIMARY KEY,
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            hash TEXT NOT NULL UNIQUE,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
            created TEXT NOT NULL,
            expires TEXT,
            last_used TEXT,
            revoked TEXT
        );
        CREATE INDEX keys_user ON keys(user);
        CREATE TABLE spaces (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL REFERENCES users(name),
            quota_bytes INTEGER,
            created TEXT NOT NULL
        );
        CREATE TABLE space_roles (
            space TEXT NOT NULL REFERENCES spaces(name) ON DELETE CASCADE,
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'maintainer', 'user')),
            PRIMARY KEY (space, user)
        );
        CREATE INDEX space_roles_user ON space_roles(user);
        CREATE TABLE models (
            id TEXT PRIMARY KEY,
            space TEXT NOT NULL REFERENCES spaces(name),
            name TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            owner TEXT NOT NULL REFERENCES users(name),
            visibility TEXT NOT NULL DEFAULT 'private'
                CHECK (visibility IN ('private', 'public')),
            gated TEXT NOT NULL DEFAULT 'off' CHECK (gated IN ('off', 'auto', 'manual')),
            default_branch TEXT NOT NULL DEFAULT 'main',
            card TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL
        );
        CREATE INDEX models_space ON models(space);
        CREATE TABLE model_roles (
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            role TEXT NOT NULL
                CHECK (role IN ('visitor', 'user', 'developer', 'maintainer', 'owner')),
            PRIMARY KEY (model, user)
        );
        CREATE INDEX model_roles_user ON model_roles(user);
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            address TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_target ON audit(target, at);
        """
    )


def _m0002_lfs(db: Any) -> None:
    _script(db, """
        CREATE TABLE lfs_objects (
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            oid TEXT NOT NULL,
            size INTEGER NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (model, oid)
        );
        CREATE INDEX lfs_objects_oid ON lfs_objects(oid);
        CREATE TABLE lfs_locks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            owner TEXT NOT NULL,
            locked_at TEXT NOT NULL,
            UNIQUE (model, path)
        )
    """)


def _m0003_gating(db: Any) -> None:
    _script(db, """
        CREATE TABLE access_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
            fields TEXT NOT NULL DEFAULT '{}',
            timestamp TEXT NOT NULL,
            reviewed_at TEXT,
            granted_by TEXT,
            reason TEXT,
            notified INTEGER NOT NULL DEFAULT 0,
            UNIQUE (model, user)
        );
        CREATE INDEX access_requests_status ON access_requests(model, status, id);
        ALTER TABLE models ADD COLUMN notify TEXT NOT NULL DEFAULT 'realtime';
        ALTER TABLE models ADD COLUMN notify_email TEXT NOT NULL DEFAULT ''
    """)


def _m0004_auth_failures(db: Any) -> None:
    _script(db, """
        CREATE TABLE auth_failures (
            address TEXT NOT NULL,
            user TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL
        );
        CREATE INDEX auth_failures_address ON auth_failures(address, at)
    """)


def _m0005_sync(db: Any) -> None:
    """Sync tasks (a queue any front end may claim from) and the replicas they made.

    ``worker`` is the claim token of whoever runs a task: updates name it, so a runner that
    lost its task (declared stale and retried elsewhere) cannot overwrite the new attempt.
    ``heartbeat`` is epoch seconds (REAL, as in auth_failures). No column holds a key.
    """
    _script(db, """
        CREATE TABLE sync_tasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            region TEXT NOT NULL,
            ref TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed')),
            objects_total INTEGER,
            bytes_total INTEGER,
            objects_sent INTEGER NOT NULL DEFAULT 0,
            bytes_sent INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            error TEXT,
            worker TEXT,
            heartbeat REAL
        );
        CREATE INDEX sync_tasks_status ON sync_tasks(status, id);
        CREATE INDEX sync_tasks_model ON sync_tasks(model, id);
        CREATE TABLE sync_replicas (
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            region TEXT NOT NULL,
            ref TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            synced TEXT NOT NULL,
            task INTEGER,
            PRIMARY KEY (model, region, ref)
        )
    """)


def _m0006_scans(db: Any) -> None:
    _script(db, """
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            ref TEXT NOT NULL DEFAULT '',
            commit_sha TEXT NOT NULL,
            scanner TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
            started TEXT NOT NULL,
            finished TEXT,
            error TEXT
        );
        CREATE INDEX scans_model ON scans(model, id);
        CREATE TABLE findings (
            scan INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            line INTEGER,
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            confidence TEXT NOT NULL,
            message TEXT NOT NULL,
            commit_sha TEXT NOT NULL
        );
        CREATE INDEX findings_scan ON findings(scan)
    """)


def _m0007_tasks(db: Any) -> None:
    """One task table for every kind of background work (sync, post-push scans), claimed
    with leases: a task whose lease ran out (its worker died or stopped) is taken over by the
    next worker. Sync tasks move here with their ids (``sync_replicas.task`` names them);
    a heartbeat becomes a lease ending when the old staleness limit (120 s) would have (a
    running task without one had none: its lease has run out).
    ``old_sha`` is what a scanned ref named before the push (a scan reads what changed);
    ``gc`` is a repository's ``git gc --auto``, taken off the pusher's time.
    """
    _script(db, """
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('sync', 'scan', 'gc')),
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            region TEXT,
            ref TEXT NOT NULL,
            old_sha TEXT,
            commit_sha TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed')),
            objects_total INTEGER,
            bytes_total INTEGER,
            objects_sent INTEGER NOT NULL DEFAULT 0,
            bytes_sent INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            error TEXT,
            worker TEXT,
            lease_until REAL
        );
        INSERT INTO tasks (id, kind, model, region, ref, commit_sha, status, objects_total,
            bytes_total, objects_sent, bytes_sent, attempts, created, started, finished, error,
            worker, lease_until)
        SELECT id, 'sync', model, region, ref, commit_sha, status, objects_total, bytes_total,
            objects_sent, bytes_sent, attempts, created, started, finished, error, worker,
            COALESCE(heartbeat, 0) + 120 FROM sync_tasks;
        DROP TABLE sync_tasks;
        CREATE INDEX tasks_claim ON tasks(status, id);
        CREATE INDEX tasks_model ON tasks(kind, model, id)
    """)


MIGRATIONS: list[tuple[str, Callable[[Any], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_lfs", _m0002_lfs),
    ("0003_gating", _m0003_gating),
    ("0004_auth_failures", _m0004_auth_failures),
    ("0005_sync", _m0005_sync),
    ("0006_scans", _m0006_scans),
    ("0007_tasks", _m0007_tasks),
]


def _build_migrations() -> Any:
    from sqlite_utils.migrations import Migrations  # heavy; only when migrating

    migrations = Migrations(MIGRATION_SET)
    for name, step in MIGRATIONS:

        def run(db: Any, _step: Callable[[Any], None] = step) -> None:
            _step(db.conn)

        run.__name__ = name
        migrations(name=name)(run)
    return migrations


# --------------------------------------------------------------------------- the store
class Store:
    """The database of one data folder.

    Cheap to construct; the connection is opened lazily per thread. ``Store.open`` checks
    that the schema is current (and refuses a newer one); ``migrate()`` brings it up to date.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    # -- connection ------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection to the file that is at ``path`` now.

        A thread keeps its connection, but a database file that was replaced under a running
        server (restored from a backup, moved away, broken) must not go on answering from the
        old file through an open descriptor: one ``stat`` per use compares the file's identity
        with the one the connection opened, and a changed or missing file reconnects or fails.
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.close()
            raise StoreError(
                f"no modelgit database at {self.path}; run `modelgit init` first"
            ) from None
        identity = (st.st_dev, st.st_ino)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "identity", None) != identity:
            self.close()
            conn = None
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=True,
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            self._local.identity = identity
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction. BEGIN IMMEDIATE takes the write lock up front so a
        transaction never fails half-way on a lock upgrade."""
        conn = self.conn
        _retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _all(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in _retry_busy(lambda: self.conn.execute(sql, params).fetchall())]

    def _one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
             ) -> dict[str, Any] | None:
        row = _retry_busy(lambda: self.conn.execute(sql, params).fetchone())
        return dict(row) if row is not None else None

    # -- schema ----------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path) -> Store:
        """Create (or upgrade) the database file with WAL on."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()
        store = cls(path)
        store.migrate(backup=not fresh)
        return store

    def applied_migrations(self) -> list[str]:
        try:
            rows = self.conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
                (MIGRATION_SET,),
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        return [r[0] for r in rows]

    def schema_version(self) -> int:
        return len(self.applied_migrations())

    def check_schema(self) -> None:
        """Refuse a database that is behind (needs ``migrate``) or ahead (newer code wrote it)."""
        applied = self.applied_migrations()
        known = [name for name, _ in MIGRATIONS]
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise SchemaTooNew(
                f"{self.path} has schema steps this modelgit does not know ({', '.join(unknown)});"
                " upgrade modelgit instead of running an older version on it"
            )
        if len(applied) < len(known):
            raise StoreError(
                f"{self.path} is at schema version {len(applied)} of {len(known)};"
                " run `modelgit init` to migrate it"
            )

    def migrate(self, *, backup: bool = True) -> list[str]:
        """Apply pending steps, each in its own transaction, after a backup copy of the file."""
        applied = self.applied_migrations()
        known = [name for name, _ in MIGRATIONS]
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise SchemaTooNew(
                f"{self.path} was written by a newer modelgit (steps {', '.join(unknown)});"
                " refusing to migrate it"
            )
        pending = [name for name in known if name not in applied]
        if not pending:
            return []
        if backup and applied:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            target = self.path.with_name(f"{self.path.name}.v{len(applied)}-{stamp}.bak")
            src = self.conn
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        import sqlite_utils

        db = sqlite_utils.Database(self.path)
        try:
            db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _build_migrations().apply(db)
        finally:
            db.conn.close()
        return pending

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

    # -- spaces ----------------------------------------------------------------------
    def add_space(self, name: str, owner: str, quota_bytes: int | None) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO spaces (name, owner, quota_bytes, created) VALUES (?, ?, ?, ?)",
                (name, owner, quota_bytes, now_iso()),
            )
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
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (model_id, space, name, display_name, owner, visibility, gated, now_iso()),
            )

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM models WHERE id = ?", (model_id,))

    def list_models(self) -> list[dict[str, Any]]:
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
        )

    # -- LFS objects and locks -------------------------------------------------------
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
        return self._one("SELECT 1 AS x FROM lfs_objects WHERE oid = ? LIMIT 1", (oid,)) is not None

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
            cur = c.execute(
                "INSERT INTO lfs_locks (model, path, owner, locked_at) VALUES (?, ?, ?, ?)",
                (model_id, path, owner, now_iso()),
            )
            new = c.execute("SELECT * FROM lfs_locks WHERE id = ?", (cur.lastrowid,)).fetchone()
            return dict(new), True

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

    # -- access requests (gating) ----------------------------------------------------
    def get_request(self, model_id: str, user: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM access_requests WHERE model = ? AND user = ?",
                        (model_id, user))
        if row is not None:
            row["fields"] = json.loads(row["fields"])
        return row

    def get_request_by_id(self, model_id: str, request_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM access_requests WHERE model = ? AND id = ?",
                        (model_id, request_id))
        if row is not None:
            row["fields"] = json.loads(row["fields"])
        return row

    def save_request(self, model_id: str, user: str, *, status: str, fields: dict[str, str],
                     timestamp: str, reviewed_at: str | None, granted_by: str | None,
                     reason: str | None) -> dict[str, Any]:
        """Insert or update the one row per (model, user); returns it with its id."""
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

    # -- scans -----------------------------------------------------------------------
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
        )
        if row is None:
            return 0, 0, None
        return int(row["pair"] or 0), int(row["addr"] or 0), row["newest"]

    # -- audit -----------------------------------------------------------------------
    def audit(self, action: str, *, actor: str | None = None, target: str | None = None,
              address: str | None = None, detail: dict[str, Any] | None = None) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO audit (at, actor, action, target, address, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (now_iso(), actor, action, target, address, json.dumps(detail or {})),
            )

    def audit_rows(self, *, target: str | None = None, action: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        where, params = [], []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._all(
            # Safe from injection: the clause is fixed text; values are bound.
            f"SELECT * FROM audit {clause} ORDER BY id DESC LIMIT ?",  # noqa: S608  # nosec
            (*params, limit),
        )
        for row in rows:
            row["detail"] = json.loads(row["detail"])
        return rows

    # -- tasks (sync, post-push scans) --------------------------------------------------
    # A queue in the database so that any front end's worker may run a task and a restart
    # loses none (docs/architecture.md). ``worker`` is the claim token that fences updates;
    # ``lease_until`` (epoch seconds) is how long the claim holds without a renewal.
    _TASK_UPDATABLE = frozenset({"status", "objects_total", "bytes_total", "objects_sent",
                                 "bytes_sent", "finished", "error", "lease_until"})

    def add_task(self, kind: str, model_id: str, ref: str, commit: str, *,
                 region: str | None = None, old: str | None = None,
                 worker: str | None = None, lease_seconds: float = 0.0) -> int:
        """A new task: ``queued`` for any front end's worker, or, with ``worker``, claimed at
        birth by a foreground run (``sync start --wait``) so no worker can run it as well.

        PostgreSQL: ``INSERT ... RETURNING id`` instead of ``lastrowid``.
        """
        return self.add_tasks(kind, model_id, [(ref, old, commit)], region=region,
                              worker=worker, lease_seconds=lease_seconds)[0]

    def add_tasks(self, kind: str, model_id: str, revs: list[tuple[str, str | None, str]], *,
                  region: str | None = None, worker: str | None = None,
                  lease_seconds: float = 0.0) -> list[int]:
        """Several tasks of one model in one transaction; ``revs`` are (ref, old, commit)."""
        now = time.time()
        started = now_iso() if worker else None
        ids = []
        with self.tx() as c:
            for ref, old, commit in revs:
                cur = c.execute(
                    "INSERT INTO tasks (kind, model, region, ref, old_sha, commit_sha, status,"
                    " attempts, created, started, worker, lease_until)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (kind, model_id, region, ref, old, commit,
                     "running" if worker else "queued", 1 if worker else 0, now_iso(),
                     started, worker, now + lease_seconds if worker else None),
                )
                ids.append(int(cur.lastrowid or 0))
        return ids

    def add_task_once(self, kind: str, model_id: str) -> int | None:
        """A task of ``kind`` for the model unless one is queued already (None then)."""
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO tasks (kind, model, ref, commit_sha, status, created)"
                " SELECT ?, ?, '', '', 'queued', ? WHERE NOT EXISTS (SELECT 1 FROM tasks"
                " WHERE kind = ? AND model = ? AND status = 'queued')",
                (kind, model_id, now_iso(), kind, model_id))
            return int(cur.lastrowid or 0) if cur.rowcount == 1 else None

    def prune_tasks(self, kinds: tuple[str, ...], finished_before: str) -> int:
        """Delete finished tasks of ``kinds`` older than ``finished_before`` (ISO time)."""
        marks = ",".join("?" * len(kinds))
        with self.tx() as c:
            cur = c.execute(
                # Safe from injection: only "?" placeholders are formatted in.
                f"DELETE FROM tasks WHERE kind IN ({marks}) AND status IN"  # noqa: S608  # nosec
                " ('done', 'failed') AND finished < ?", (*kinds, finished_before))
            return cur.rowcount

    def get_task(self, task_id: int, kind: str | None = None) -> dict[str, Any] | None:
        return self._one("SELECT * FROM tasks WHERE id = :i AND (:k IS NULL OR kind = :k)",
                         {"i": task_id, "k": kind})

    def list_tasks(self, kind: str | None = None, model_id: str | None = None, *,
                   limit: int = 200) -> list[dict[str, Any]]:
        """Tasks newest first, of one kind and model or of all."""
        return self._all(
            "SELECT * FROM tasks WHERE (:k IS NULL OR kind = :k) AND (:m IS NULL OR model = :m)"
            " ORDER BY id DESC LIMIT :n", {"k": kind, "m": model_id, "n": limit},
        )

    def claim_task(self, worker: str, lease_seconds: float, *, task_id: int | None = None,
                   kinds: tuple[str, ...] | None = None, max_attempts: int | None = None
                   ) -> dict[str, Any] | None:
        """Move one claimable task (the oldest, or ``task_id``) to ``running`` under ``worker``
        until ``now + lease_seconds``; a running task whose lease ran out is taken over.

        The claim is the conditional UPDATE: of two front ends racing for the same row one
        updates it and the other updates nothing, on SQLite (one writer) as on PostgreSQL
        (READ COMMITTED re-checks the WHERE on the locked row). A task taken over
        ``max_attempts`` times already fails instead (a task that kills its worker must not
        kill every worker in turn).
        """
        wanted = kinds or ("sync", "scan", "gc")
        marks = ",".join("?" * len(wanted))
        for _ in range(10):
            now = time.time()
            if max_attempts is not None:
                with self.tx() as c:
                    c.execute(
                        "UPDATE tasks SET status = 'failed', finished = ?, worker = NULL,"
                        " error = ? WHERE status = 'running' AND lease_until < ?"
                        " AND attempts >= ?",
                        (now_iso(), f"abandoned: its worker stopped {max_attempts} times"
                         " while running it", now, max_attempts))
            if task_id is None:
                row = self._one(
                    # Safe from injection: only "?" placeholders are formatted in.
                    f"SELECT id FROM tasks WHERE kind IN ({marks}) AND (status = 'queued'"  # noqa: S608  # nosec
                    " OR (status = 'running' AND lease_until < ?)) ORDER BY id LIMIT 1",
                    (*wanted, now))
                if row is None:
                    return None
                candidate = int(row["id"])
            else:
                candidate = task_id
            with self.tx() as c:
                cur = c.execute(
                    "UPDATE tasks SET status = 'running', worker = :w, lease_until = :lease,"
                    " started = :started, finished = NULL, error = NULL,"
                    " attempts = attempts + 1 WHERE id = :i AND (status = 'queued'"
                    " OR (status = 'running' AND lease_until < :now))",
                    {"w": worker, "lease": now + lease_seconds, "started": now_iso(),
                     "i": candidate, "now": now},
                )
                claimed = cur.rowcount == 1
            if claimed:
                return self.get_task(candidate)
            if task_id is not None:
                return None
        return None

    def requeue_task(self, task_id: int, *, worker: str | None = None,
                     lease_seconds: float = 0.0, kind: str | None = None) -> bool:
        """Put a failed task (or a running one whose lease ran out) back in the queue,
        counters reset; with ``worker`` it is claimed straight away by a foreground retry.
        False: not retryable now."""
        now = time.time()
        with self.tx() as c:
            cur = c.execute(
                "UPDATE tasks SET status = :s, worker = :w, lease_until = :lease,"
                " started = :started, finished = NULL, error = NULL, objects_sent = 0,"
                " bytes_sent = 0, attempts = attempts + :a"
                " WHERE id = :i AND (:k IS NULL OR kind = :k) AND (status = 'failed'"
                " OR (status = 'running' AND lease_until < :now))",
                {"s": "running" if worker else "queued", "w": worker,
                 "lease": now + lease_seconds if worker else None,
                 "started": now_iso() if worker else None, "a": 1 if worker else 0,
                 "i": task_id, "k": kind, "now": now},
            )
            return cur.rowcount == 1

    def release_task(self, task_id: int, worker: str) -> bool:
        """Give a running task back to the queue (its worker is stopping): the next worker,
        here or on another front end, runs it again."""
        with self.tx() as c:
            cur = c.execute(
                "UPDATE tasks SET status = 'queued', worker = NULL, lease_until = NULL"
                " WHERE id = ? AND worker = ? AND status = 'running'", (task_id, worker))
            return cur.rowcount == 1

    def update_task(self, task_id: int, worker: str, **values: Any) -> bool:
        """Progress, lease and outcome, written only while ``worker`` still holds the task."""
        bad = set(values) - self._TASK_UPDATABLE
        if bad:
            raise ValueError(f"not task fields: {sorted(bad)}")
        if not values:
            return True
        cols = ", ".join(f"{k} = ?" for k in values)  # keys checked against the fixed set
        with self.tx() as c:
            cur = c.execute(
                # Safe from injection: column names come from _TASK_UPDATABLE; values are bound.
                f"UPDATE tasks SET {cols} WHERE id = ? AND worker = ?"  # noqa: S608  # nosec
                " AND status = 'running'",
                (*values.values(), task_id, worker),
            )
            return cur.rowcount == 1

    def record_replica(self, model_id: str, region: str, ref: str, commit: str,
                       task_id: int) -> None:
        """The last successful sync of (model, region, ref), for ``model show``."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO sync_replicas (model, region, ref, commit_sha, synced, task)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, region, ref) DO UPDATE SET"
                " commit_sha = excluded.commit_sha, synced = excluded.synced,"
                " task = excluded.task",
                (model_id, region, ref, commit, now_iso(), task_id),
            )

    def list_replicas(self, model_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM sync_replicas WHERE model = ? ORDER BY region, ref",
                         (model_id,))

    # -- hub (more) --------------------------------------------------------------------
    def hub_user_spaces(self, user: str) -> list[dict[str, Any]]:
        """Spaces where the user has a role (owners included), for the hub's ``whoami``."""
        return self._all(
            "SELECT name AS space, 'owner' AS role FROM spaces WHERE owner = :u"
            " UNION SELECT space, role FROM space_roles WHERE user = :u"
            " AND space NOT IN (SELECT name FROM spaces WHERE owner = :u)"
            " ORDER BY space",
            {"u": user},
        )

    def hub_models_for(self, user: str | None, after: str, limit: int) -> list[dict[str, Any]]:
        """Models after ``after`` in id order, each with what ``decide()`` needs for ``user``
        (one query per page of the hub listing instead of one per model)."""
        return self._all(
            "SELECT m.*, s.owner AS space_owner,"
            " (SELECT role FROM model_roles WHERE model = m.id AND user = :u) AS model_role,"
            " (SELECT role FROM space_roles WHERE space = m.space AND user = :u) AS space_role,"
            " (SELECT status FROM access_requests WHERE model = m.id AND user = :u)"
            " AS request_status"
            " FROM models m JOIN spaces s ON s.name = m.space WHERE m.id > :a"
            " ORDER BY m.id LIMIT :n",
            {"u": user, "a": after, "n": limit},
        )


def _retry_busy(fn: Callable[[], T], attempts: int = 5) -> T:
    """busy_timeout covers most contention; a BUSY that still escapes is retried briefly."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            msg = str(exc)
            if ("locked" not in msg and "busy" not in msg) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")

