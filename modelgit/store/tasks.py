"""The task queue (sync, post-push scans) and the sync replicas it records."""

from __future__ import annotations

import time

from modelgit.store.connection import StoreBase, now_iso

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Tasks(StoreBase):
    """SQL of ``tasks`` and ``sync_replicas``."""

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

        On PostgreSQL ``lastrowid`` comes from ``INSERT ... RETURNING id`` (store/pg.py).
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
        """A task of ``kind`` for the model unless one is queued already (None then).

        On PostgreSQL two front ends could both see none queued (READ COMMITTED); a
        transaction-scoped advisory lock on (kind, model) makes the check and insert one step.
        """
        with self.tx() as c:
            if self.is_postgres:
                c.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"{kind} {model_id}",))
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
            if task_id is None and self.is_postgres:
                return self._claim_skip_locked(worker, lease_seconds, wanted, now)
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

    def _claim_skip_locked(self, worker: str, lease_seconds: float, kinds: tuple[str, ...],
                           now: float) -> dict[str, Any] | None:
        """PostgreSQL: pick and claim in one statement; a row another front end is claiming
        right now is skipped (``FOR UPDATE SKIP LOCKED``) instead of waited for."""
        marks = ",".join("?" * len(kinds))
        with self.tx() as c:
            row = c.execute(
                # Safe from injection: only "?" placeholders are formatted in.
                "UPDATE tasks SET status = 'running', worker = ?, lease_until = ?,"  # noqa: S608  # nosec
                " started = ?, finished = NULL, error = NULL, attempts = attempts + 1"
                f" WHERE id = (SELECT id FROM tasks WHERE kind IN ({marks})"
                " AND (status = 'queued' OR (status = 'running' AND lease_until < ?))"
                " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *",
                (worker, now + lease_seconds, now_iso(), *kinds, now)).fetchone()
        return dict(row) if row is not None else None

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

    # -- sync replicas ---------------------------------------------------------------
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
