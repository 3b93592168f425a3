"""Background tasks (sync, post-push scans, gc): one store table, one worker, leases.

A task is a row in the store, so a restart or a second front end picks up what is left: the
worker in every ``modelgit serve`` (two lanes: sync, and scans with gc) claims the oldest
claimable task with a conditional update, holds it under a lease it renews while the task
runs, and a task whose lease ran out (its worker died) is taken over by the next claim. Work
done twice is harmless for every kind (sync sends only what the target lacks; a scan stores
a newer report; gc is idempotent).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store

log = logging.getLogger("modelgit.tasks")

#: A claim holds this long without a renewal; a worker that stopped renewing is presumed gone.
LEASE_SECONDS = 120.0
#: A running task's lease is renewed this often.
RENEW_SECONDS = 10.0
#: Seconds between two looks at an empty queue (one indexed query) when nothing wakes us.
POLL_SECONDS = 1.0
#: Woken by a push in this process, the worker first lets the push's answer go out (its
#: claim and the report's start would otherwise compete with the hook's reply).
WAKE_DELAY_SECONDS = 0.05
#: Finished scan and gc tasks are deleted after this long (sync tasks stay: people list them),
#: looked at this often.
KEEP_FINISHED_SECONDS = 7 * 24 * 3600.0
PRUNE_EVERY_SECONDS = 3600.0
#: A task taken over this many times fails instead of being run again.
MAX_ATTEMPTS = 3

#: ``run(cfg, store, task, lease)``: run one claimed task to its end; raising fails it.
Handler = Callable[["Config", "Store", dict[str, Any], "Lease"], None]


class LeaseLost(Exception):
    """The task was taken over by another worker (this one stopped renewing in time)."""


def new_token() -> str:
    """A claim token: which host and process runs a task, unique per claim (it fences the
    attempt's updates)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Lease(threading.Thread):
    """Renews a claimed task's lease until stopped; ``lost`` is set if a renewal finds the
    task taken over. Its own store connection (connections are per thread)."""

    def __init__(self, store: Store, task_id: int, token: str,
                 seconds: float = LEASE_SECONDS, every: float = RENEW_SECONDS) -> None:
        super().__init__(name=f"modelgit-lease-{task_id}", daemon=True)
        self.store = store
        self.task_id = task_id
        self.token = token
        self.seconds = seconds
        self.every = every
        self.done = threading.Event()
        self.lost = threading.Event()

    def until(self) -> float:
        return time.time() + self.seconds

    def run(self) -> None:
        try:
            while not self.done.wait(self.every):
                try:
                    if not self.store.update_task(self.task_id, self.token,
                                                  lease_until=self.until()):
                        self.lost.set()
                        return
                except Exception:  # a busy database must not end the renewals
                    log.warning("task %s: lease not renewed", self.task_id, exc_info=True)
        finally:
            self.store.close()

    def stop(self) -> None:
        self.done.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=5)


def _handler(kind: str) -> Handler:
    if kind == "sync":
        from modelgit.sync import run_claimed

        return run_claimed
    if kind == "scan":
        from modelgit.services.reports import run_scan_task

        return run_scan_task
    if kind == "gc":
        return run_gc
    raise ValueError(f"unknown task kind {kind!r}")


def run_gc(cfg: Config, store: Store, task: dict[str, Any], lease: Lease) -> None:
    """``git gc --auto`` of a model's repository: what receive-pack would run after every push
    while the pusher waits (the hooks turn it off there, ``receive.autogc``)."""
    import subprocess

    from modelgit.git.paths import repo_path

    repo = repo_path(cfg, str(task["model"]))
    # niced as the scan processes are (``scanner.pool``): pushes come first
    proc = subprocess.run(["nice", "-n", "10", "git", "--git-dir", str(repo), "gc", "--auto",
                           "--quiet"],
                          capture_output=True, check=False, timeout=LEASE_SECONDS * 10)
    if proc.returncode != 0:
        raise RuntimeError(f"git gc failed: {proc.stderr.decode('utf-8', 'replace')[-300:]}")


def run_claimed_task(cfg: Config, store: Store, task: dict[str, Any],
                     seconds: float = LEASE_SECONDS, every: float = RENEW_SECONDS) -> str:
    """Run a task this worker claimed, under a renewed lease; returns its outcome
    (``done``, ``failed`` or ``lost``). Failures are recorded on the task, not raised."""
    from modelgit.store import Store as StoreClass
    from modelgit.store import now_iso

    token = str(task["worker"])
    lease = Lease(StoreClass(store.path), int(task["id"]), token, seconds, every)
    lease.start()
    try:
        try:
            _handler(str(task["kind"]))(cfg, store, task, lease)
        except LeaseLost:
            outcome = "lost"
        except Exception as exc:
            recorded = store.update_task(int(task["id"]), token, status="failed",
                                         finished=now_iso(),
                                         error=f"{type(exc).__name__}: {str(exc)[:300]}")
            if recorded:
                log.exception("task %s (%s of %s) failed", task["id"], task["kind"],
                              task["model"])
            outcome = "failed" if recorded else "lost"  # given back or taken over meanwhile
        else:
            row = store.get_task(int(task["id"])) or {}
            if row.get("worker") != token:
                outcome = "lost"
            elif row.get("status") == "running":
                ok = store.update_task(int(task["id"]), token, status="done",
                                       finished=now_iso(), error=None)
                outcome = "done" if ok else "lost"
            else:
                outcome = str(row.get("status"))
    finally:
        lease.stop()
    if outcome == "lost":
        log.warning("task %s is no longer this worker's (given back or taken over); this"
                    " attempt stopped", task["id"])
    return outcome


# ------------------------------------------------------------------------------ queueing
_wakers: list[threading.Event] = []


def wake() -> None:
    """Tell this process's workers that a task was just queued (no wait for the next poll)."""
    for event in list(_wakers):
        event.set()


def queue_scans(store: Store, model_id: str, revs: list[tuple[str, str | None, str]]) -> list[int]:
    """Queue the reporting scans of a push: (ref, old, new) per updated ref."""
    if not revs:
        return []
    return store.add_tasks("scan", model_id, revs)


def queue_gc(store: Store, model_id: str) -> int | None:
    """Queue the repository's ``git gc --auto`` (once: a queued one covers later pushes)."""
    return store.add_task_once("gc", model_id)


# ------------------------------------------------------------------------------ the worker
class Worker(threading.Thread):
    """``modelgit serve``'s background runner: claims tasks through the store and runs them,
    one at a time per worker. Any number of front ends may run workers; the claim decides."""

    def __init__(self, cfg: Config, *, name: str = "modelgit-tasks",
                 poll_seconds: float = POLL_SECONDS, lease_seconds: float = LEASE_SECONDS,
                 renew_seconds: float = RENEW_SECONDS,
                 kinds: tuple[str, ...] | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.cfg = cfg
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.kinds = kinds
        self.stopping = threading.Event()
        self.woken = threading.Event()
        _wakers.append(self.woken)
        self.current: tuple[int, str] | None = None  # (task id, claim token) being run

    def stop(self) -> None:
        self.stopping.set()
        self.woken.set()

    def release(self) -> None:
        """At process exit: stop claiming, and give the task in hand back to the queue, so
        that the next worker (after a restart, or another front end) runs it at once."""
        from modelgit.store import Store

        self.stop()
        current = self.current
        if current is None:
            return
        task_id, token = current
        try:
            if Store(self.cfg.store_target).release_task(task_id, token):
                log.info("task %s given back to the queue: this server is stopping", task_id)
        except Exception:
            log.warning("task %s: could not give it back (its lease runs out instead)",
                        task_id, exc_info=True)

    def run_once(self, store: Store) -> bool:
        """Claim and run one task; False when there was none."""
        task = store.claim_task(new_token(), self.lease_seconds, kinds=self.kinds,
                                max_attempts=MAX_ATTEMPTS)
        if task is None:
            return False
        taken_over = int(task["attempts"]) > 1 and task["kind"] == "scan"
        log.info("task %s: %s of %s (%s at %s)%s", task["id"], task["kind"], task["model"],
                 task["ref"], str(task["commit_sha"])[:12],
                 f", attempt {task['attempts']}" if taken_over else "")
        self.current = (int(task["id"]), str(task["worker"]))
        started = time.perf_counter()
        try:
            outcome = run_claimed_task(self.cfg, store, task, self.lease_seconds,
                                       self.renew_seconds)
        finally:
            self.current = None
        log.info("task %s: %s in %.1f s", task["id"], outcome, time.perf_counter() - started)
        return True

    def prune(self, store: Store) -> None:
        """Drop finished scan and gc tasks older than :data:`KEEP_FINISHED_SECONDS`."""
        from datetime import UTC, datetime, timedelta

        before = datetime.now(UTC) - timedelta(seconds=KEEP_FINISHED_SECONDS)
        gone = store.prune_tasks(("scan", "gc"), before.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        if gone:
            log.info("task worker: %s finished scan and gc tasks deleted", gone)

    def replay_spool(self, store: Store) -> None:
        """The post-receive steps of pushes that met a database outage, once it answers: a
        directory listing per poll while there are none."""
        from modelgit.hooks import spool
        from modelgit.store import StoreUnavailable

        try:
            if spool.pending(self.cfg):
                spool.replay(self.cfg, store)
        except StoreUnavailable:
            pass  # still down: the files wait for the next poll
        except Exception:
            log.exception("task worker: could not run the spooled post-receive steps")

    def run(self) -> None:
        from modelgit.store import Store, StoreUnavailable

        store = Store(self.cfg.store_target)
        pruned = 0.0
        while not self.stopping.is_set():
            if time.monotonic() - pruned > PRUNE_EVERY_SECONDS:
                pruned = time.monotonic()
                try:
                    self.prune(store)
                except StoreUnavailable:
                    pass  # the store logged why; the next round connects again
                except Exception:
                    log.exception("task worker: could not prune finished tasks")
            self.woken.clear()  # before looking: a task queued from now on ends the next wait
            if self.kinds is None or "scan" in self.kinds:  # pushes still owed (hooks/spool.py)
                self.replay_spool(store)
            try:
                ran = self.run_once(store)
            except StoreUnavailable:
                # PostgreSQL is down: no traceback per poll (the store logged the cause);
                # the next poll connects again, so the queue resumes when it is back.
                ran = False
            except Exception:
                log.exception("task worker: could not look at the queue")
                ran = False
            if not ran and self.woken.wait(self.poll_seconds):
                self.stopping.wait(WAKE_DELAY_SECONDS)
        store.close()
        if self.woken in _wakers:
            _wakers.remove(self.woken)


def settings(cfg: Config) -> dict[str, Any]:
    """``tasks:`` in config.yaml; the older ``sync: {worker, poll_seconds}`` still counts."""
    out: dict[str, Any] = {"worker": True, "poll_seconds": POLL_SECONDS}
    for section in ("sync", "tasks"):
        value = cfg.settings.get(section)
        if isinstance(value, dict):
            out.update({k: v for k, v in value.items() if k in ("worker", "poll_seconds")})
    return out


#: The workers a server runs, by the kinds they claim: a sync can take hours, and the reports
#: of the pushes meanwhile must not wait for it.
LANES: tuple[tuple[str, tuple[str, ...]], ...] = (("modelgit-tasks-sync", ("sync",)),
                                                  ("modelgit-tasks", ("scan", "gc")))


def start_workers(cfg: Config) -> list[Worker]:
    """Start this front end's workers (none: turned off with ``tasks: {worker: false}``, for
    front ends that should not run background work)."""
    chosen = settings(cfg)
    if chosen["worker"] is False:
        log.info("task worker off (tasks.worker: false): queued tasks wait for another server")
        return []
    import atexit

    workers = []
    for name, kinds in LANES:
        worker = Worker(cfg, name=name, kinds=kinds,
                        poll_seconds=float(chosen["poll_seconds"] or POLL_SECONDS))
        worker.start()
        atexit.register(worker.release)
        workers.append(worker)
    return workers
