"""Opening the database: one connection per thread, WAL and busy_timeout, a reopen
when the file was replaced, short write transactions and a retry on SQLITE_BUSY.

The standard library's ``sqlite3`` because ``sqlite_utils`` costs ~180 ms to import, which
the hook shims and ``credential-check`` cannot pay on every request.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from modelgit.errors import Unavailable

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000


def is_postgres(target: object) -> bool:
    """True when a store target is a PostgreSQL URL rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


class StoreError(Exception):
    """An expected store failure whose message a person can act on."""


class StoreUnavailable(StoreError, Unavailable):
    """The database cannot be reached right now: PostgreSQL stopped or restarting, or the
    network to it down.

    Nothing can be decided without the database, so every caller refuses (fail closed), and
    the next use connects again, so the site comes back by itself when PostgreSQL does. A
    ``ModelgitError`` with status 503 so that each front end answers it in its own form (git's
    ``remote:`` text, the hub's and LFS's JSON, a page) as "try again later": never a 401,
    which would make git's credential helper forget a good key, nor a 500. ``message`` is
    for anyone; ``detail`` (where, and PostgreSQL's or libpq's words) is for the log and the
    CLI, since the database's address is nobody else's business.
    """

    #: Seconds a client is asked to wait (``Retry-After``): about a restart's worth.
    retry_after = 30

    def __init__(self, detail: str) -> None:
        super().__init__(UNAVAILABLE)
        self.detail = detail


#: What a person is told when the database cannot be reached (git prints it as ``remote:``).
UNAVAILABLE = ("modelgit: the server's database is unavailable right now; nothing was changed."
               " Try again in a few minutes.")


class SchemaTooNew(StoreError):
    """The database was written by a newer modelgit; running on it could lose data."""


def now_iso() -> str:
    """UTC timestamp with milliseconds, the form the hubs use (``...T12:00:00.123Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class StoreBase:
    """The connection of one data folder's database; the table groups build on it."""

    def __init__(self, path: Path | str) -> None:
        # A ``postgresql://`` URL selects PostgreSQL (modelgit/store/pg.py); else a SQLite file.
        self.url = str(path) if is_postgres(path) else None
        self.path = Path("/nonexistent-postgresql") if self.url else Path(path)
        self.where = str(self.path)
        if self.url:  # psycopg and the translation load only for a PostgreSQL site
            from modelgit.store.pg import redact

            self.where = redact(self.url)
        self._local = threading.local()

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection to the file that is at ``path`` now.

        A thread keeps its connection, but a database file that was replaced under a running
        server (restored from a backup, moved away, broken) must not go on answering from the
        old file through an open descriptor: one ``stat`` per use compares the file's identity
        with the one the connection opened, and a changed or missing file reconnects or fails.
        """
        if self.url is not None:
            return self._pg_conn()
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

    def _pg_conn(self) -> sqlite3.Connection:
        """This thread's PostgreSQL connection (the same SQL, translated; see store/pg.py)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.usable():
            # PostgreSQL restarted (or went away) since this thread's last statement: connect
            # afresh rather than fail this request on the dead session.
            self.close()
            conn = None
        if conn is None:
            from modelgit.store.pg import PgConnection

            assert self.url is not None
            try:
                conn = PgConnection(self.url)
            except Exception as exc:  # psycopg.OperationalError: say where, not the password
                raise StoreUnavailable(
                    f"cannot connect to the modelgit database at {self.where}: "
                    f"{(str(exc).strip().splitlines() or [repr(exc)])[0]};"
                    " check `database:` in config.yaml and that PostgreSQL is running"
                ) from None
            self._local.conn = conn
        from typing import cast

        return cast("sqlite3.Connection", conn)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction. BEGIN IMMEDIATE takes the write lock up front so a
        transaction never fails half-way on a lock upgrade."""
        conn = self.conn
        if self.url is not None:
            conn.execute("BEGIN")  # READ COMMITTED; conflicts are handled by row locks
        else:
            _retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            # A COMMIT refused (a deferred foreign key) leaves SQLite's transaction open:
            # end it, or its writes would stay visible to this connection and block others.
            if getattr(conn, "in_transaction", False):
                conn.execute("ROLLBACK")
            raise

    def references_to(self, parent: str) -> list[tuple[str, str]]:
        """(table, column) of every single-column foreign key that points at ``parent``'s
        primary key, read from the schema on either backend (a rename moves them all)."""
        if self.url is not None:
            rows = self._all(
                "SELECT kcu.table_name AS t, kcu.column_name AS c FROM information_schema"
                ".referential_constraints rc JOIN information_schema.key_column_usage kcu"
                " ON kcu.constraint_name = rc.constraint_name JOIN information_schema"
                ".table_constraints pk ON pk.constraint_name = rc.unique_constraint_name"
                " WHERE pk.table_name = ? AND kcu.table_schema = current_schema()"
                " ORDER BY kcu.table_name, kcu.column_name", (parent,))
            return [(r["t"], r["c"]) for r in rows]
        rows = self._all(
            "SELECT m.name AS t, f.\"from\" AS c FROM sqlite_master m,"
            " pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND f.\"table\" = ?"
            " ORDER BY m.name, f.\"from\"", (parent,))
        return [(r["t"], r["c"]) for r in rows]

    def _all(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in _retry_busy(lambda: self.conn.execute(sql, params).fetchall())]

    def _one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = (), *,
             prepared: bool = False) -> dict[str, Any] | None:
        """The first row, or None. ``prepared``: a read on every request's path, prepared on
        PostgreSQL's side once per session (``PgConnection.execute_prepared``); sqlite3
        keeps its own statement cache, so SQLite needs nothing."""
        conn: Any = self.conn
        run = conn.execute_prepared if prepared and self.url is not None else conn.execute
        row = _retry_busy(lambda: run(sql, params).fetchone())
        return dict(row) if row is not None else None


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
