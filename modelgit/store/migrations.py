"""The schema: ordered, named migration steps and the checks that the database is current.

sqlite-utils' ``Migrations`` is imported only when the schema has to change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from modelgit.store.connection import (
    BUSY_TIMEOUT_MS,
    SchemaTooNew,
    StoreBase,
    StoreError,
    is_postgres,
    now_iso,
)

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any, Self

MIGRATION_SET = "modelgit"
# On PostgreSQL the applied steps are recorded here (sqlite-utils keeps _sqlite_migrations).
PG_MIGRATIONS = "_modelgit_migrations"
# pg_advisory_lock key: one migrator at a time when several front ends start together.
PG_MIGRATE_LOCK = 0x6D6F64656C676974 & 0x7FFFFFFFFFFFFFFF


# Ordered, named steps. Never edit an applied step: add a new one.
# A step is written once in SQLite's dialect and runs on PostgreSQL through store/pg.py's
# translation (placeholders, the quoted ``user`` column, INTEGER as BIGINT, REAL as DOUBLE
# PRECISION, AUTOINCREMENT as an identity). What has no translation (PRAGMA, a table rebuilt
# to change a column, sqlite_master) goes in a branch on ``dialect(db)``.
def dialect(db: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend a migration step is running on."""
    return str(getattr(db, "dialect", "sqlite"))


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


def _m0008_model_times(db: Any) -> None:
    """When a model last changed (a ref update: push, hub commit, branch or tag), for the hub
    listing's ``lastModified`` and its sort; NULL until the first one (readers fall back to
    the creation time)."""
    _script(db, """
        ALTER TABLE models ADD COLUMN last_modified TEXT
    """)


def _m0009_model_redirects(db: Any) -> None:
    """Old names of moved models: each answers with a redirect to ``new`` until ``until``
    (epoch seconds), as the public hubs do after a rename."""
    _script(db, """
        CREATE TABLE model_redirects (
            old TEXT PRIMARY KEY,
            new TEXT NOT NULL,
            until REAL NOT NULL,
            created REAL NOT NULL
        );
        CREATE INDEX model_redirects_new ON model_redirects(new)
    """)


def _m0010_web_sessions(db: Any) -> None:
    """Sign-ins of the web pages, kept here so that every front end (and a second server on
    the same data folder) sees them. Only the sha256 of the cookie's token is stored; the
    session names the key it was opened with, so revoking that key ends it. ``csrf`` is the
    secret every form of the session carries."""
    _script(db, """
        CREATE TABLE web_sessions (
            token_hash TEXT PRIMARY KEY,
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created TEXT NOT NULL,
            expires TEXT NOT NULL
        );
        CREATE INDEX web_sessions_user ON web_sessions(user);
        CREATE INDEX web_sessions_expires ON web_sessions(expires)
    """)


def _m0011_xet(db: Any) -> None:
    """Xet storage: xorbs are objects of the object storage (``oid`` is the sha256 of their
    bytes) known by their Xet hash; a model links the xorbs it uploaded (it may then read and
    dedupe against them: ``xet_dedupe_chunks`` names the chunks the dedupe query answers
    for, those the protocol makes eligible) and the file reconstructions its shards
    registered, each a list of chunk ranges of xorbs, with the sha256 of the reconstructed
    file (an LFS object)."""
    _script(db, """
        CREATE TABLE xet_xorbs (
            hash TEXT PRIMARY KEY,
            oid TEXT NOT NULL,
            size INTEGER NOT NULL,
            unpacked INTEGER NOT NULL,
            chunks INTEGER NOT NULL,
            created TEXT NOT NULL
        );
        CREATE TABLE xet_model_xorbs (
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            xorb TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (model, xorb)
        );
        CREATE INDEX xet_model_xorbs_xorb ON xet_model_xorbs(xorb);
        CREATE TABLE xet_dedupe_chunks (
            chunk_hash TEXT NOT NULL,
            xorb TEXT NOT NULL REFERENCES xet_xorbs(hash) ON DELETE CASCADE,
            PRIMARY KEY (chunk_hash, xorb)
        );
        CREATE INDEX xet_dedupe_chunks_xorb ON xet_dedupe_chunks(xorb);
        CREATE TABLE xet_files (
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            file_hash TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (model, file_hash)
        );
        CREATE INDEX xet_files_sha256 ON xet_files(model, sha256);
        CREATE TABLE xet_file_terms (
            model TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            file_hash TEXT NOT NULL,
            idx INTEGER NOT NULL,
            xorb TEXT NOT NULL,
            chunk_start INTEGER NOT NULL,
            chunk_end INTEGER NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (model, file_hash, idx),
            FOREIGN KEY (model, file_hash) REFERENCES xet_files(model, file_hash)
                ON DELETE CASCADE
        )
    """)


def _m0012_model_search(db: Any) -> None:
    """What a model's text search looks in (id, display name, tags; lower-case), kept by the
    store on every change of those, so a search filters in SQL instead of reading every
    model's card. NULL means not computed yet: such a row is always a search candidate."""
    from modelgit.store.models import card_tags, search_text

    _script(db, """
        ALTER TABLE models ADD COLUMN search_text TEXT
    """)
    rows = db.execute("SELECT id, display_name, card FROM models").fetchall()
    for row in rows:
        db.execute("UPDATE models SET search_text = ? WHERE id = ?",
                   (search_text(row[0], row[1], card_tags(row[2])), row[0]))


def _m0013_xet_uploaders(db: Any) -> None:
    """Who uploaded each xorb: hf_xet does not send again a xorb its cache says it sent,
    whichever model the next file goes to (even one made after the first was deleted), so a
    user's own xorbs may serve any model they write."""
    _script(db, """
        CREATE TABLE xet_user_xorbs (
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            xorb TEXT NOT NULL REFERENCES xet_xorbs(hash) ON DELETE CASCADE,
            PRIMARY KEY (user, xorb)
        );
        CREATE INDEX xet_user_xorbs_xorb ON xet_user_xorbs(xorb)
    """)


def _m0014_xorb_footer(db: Any) -> None:
    """Where a stored xorb's footer begins: the end of its chunks as ``xorb.parse`` found them
    at upload (the client's footer, verified, or the one the server wrote after the chunks).
    NULL for a xorb stored before this column. A reconstruction then reads the footer alone
    (chunk hashes and boundaries) instead of the whole xorb: 40 KB instead of 64 MB per xorb
    before the first byte goes out. Only the recorded offset is trusted: a xorb sent without
    footer could end in bytes shaped like one."""
    _script(db, """
        ALTER TABLE xet_xorbs ADD COLUMN footer_at INTEGER
    """)


def _m0015_space_fullname(db: Any) -> None:
    """A space's full name, shown beside its name (the hubs' organisation name: the hub
    API's ``whoami`` gives it as ``fullname``, the pages as the space's title). NULL: none,
    the name stands for it."""
    _script(db, """
        ALTER TABLE spaces ADD COLUMN fullname TEXT
    """)


MIGRATIONS: list[tuple[str, Callable[[Any], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_lfs", _m0002_lfs),
    ("0003_gating", _m0003_gating),
    ("0004_auth_failures", _m0004_auth_failures),
    ("0005_sync", _m0005_sync),
    ("0006_scans", _m0006_scans),
    ("0007_tasks", _m0007_tasks),
    ("0008_model_times", _m0008_model_times),
    ("0009_model_redirects", _m0009_model_redirects),
    ("0010_web_sessions", _m0010_web_sessions),
    ("0011_xet", _m0011_xet),
    ("0012_model_search", _m0012_model_search),
    ("0013_xet_uploaders", _m0013_xet_uploaders),
    ("0014_xorb_footer", _m0014_xorb_footer),
    ("0015_space_fullname", _m0015_space_fullname),
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


class Schema(StoreBase):
    """Creating, checking and migrating the database file."""

    @classmethod
    def create(cls, path: Path | str) -> Self:
        """Create (or upgrade) the database file with WAL on (or a PostgreSQL database's schema)."""
        if is_postgres(path):
            store = cls(path)
            store.migrate()
            return store
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()
        store = cls(path)
        store.migrate(backup=not fresh)
        return store

    def applied_migrations(self) -> list[str]:
        if self.is_postgres:
            exists = self._one("SELECT to_regclass(?) IS NOT NULL AS x", (PG_MIGRATIONS,))
            if not exists or not exists["x"]:
                return []
            return [r["name"] for r in self._all(
                f"SELECT name FROM {PG_MIGRATIONS} WHERE migration_set = ? ORDER BY id",  # noqa: S608  # nosec
                (MIGRATION_SET,))]
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
                f"{self.where} has schema steps this modelgit does not know ({', '.join(unknown)});"
                " upgrade modelgit instead of running an older version on it"
            )
        if len(applied) < len(known):
            raise StoreError(
                f"{self.where} is at schema version {len(applied)} of {len(known)};"
                " run `modelgit init` to migrate it"
            )

    def migrate(self, *, backup: bool = True) -> list[str]:
        """Apply pending steps, each in its own transaction, after a backup copy of the file."""
        applied = self.applied_migrations()
        known = [name for name, _ in MIGRATIONS]
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise SchemaTooNew(
                f"{self.where} was written by a newer modelgit (steps {', '.join(unknown)});"
                " refusing to migrate it"
            )
        pending = [name for name in known if name not in applied]
        if not pending:
            return []
        if self.is_postgres:
            return self._migrate_postgres()
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

    def _migrate_postgres(self) -> list[str]:
        """The same steps on PostgreSQL, each in its own transaction (DDL is transactional
        there, so a failed step leaves nothing), under an advisory lock so two front ends
        starting at once do not both run a step."""
        from typing import cast

        from modelgit.store.pg import PgConnection, sync_identities

        conn = cast("PgConnection", self.conn)
        conn.execute("SELECT pg_advisory_lock(?)", (PG_MIGRATE_LOCK,))
        try:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {PG_MIGRATIONS} (id INTEGER PRIMARY KEY"
                " AUTOINCREMENT, migration_set TEXT NOT NULL, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL, UNIQUE (migration_set, name))")
            applied = self.applied_migrations()
            done = []
            for name, step in MIGRATIONS:
                if name in applied:
                    continue
                with self.tx() as c:
                    step(c)
                    c.execute(
                        f"INSERT INTO {PG_MIGRATIONS} (migration_set, name, applied_at)"  # noqa: S608  # nosec
                        " VALUES (?, ?, ?)", (MIGRATION_SET, name, now_iso()))
                    sync_identities(conn)
                done.append(name)
            return done
        finally:
            conn.execute("SELECT pg_advisory_unlock(?)", (PG_MIGRATE_LOCK,))
