"""Scan worker processes that a threaded server can start safely.

``os.fork()`` in ``modelgit serve`` copies a process with dozens of threads: a lock another
thread held at that moment (logging, malloc, sqlite, the import lock) stays locked forever in
the child. Here processes come from a ``forkserver``: a fresh single-threaded interpreter,
started once by exec, from which each worker forks; workers stay for the next scan. A second
reason to scan in another process: the server's request threads never wait for the GIL
behind a long scan.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pools: dict[str, concurrent.futures.ProcessPoolExecutor] = {}

__all__ = ["BrokenProcessPool", "discard", "executor", "shutdown"]


#: Niceness of background pools' processes: when they compete with the server for a core,
#: the pushes and requests the server is answering get it first.
BACKGROUND_NICE = 10


def _worker_start(background: bool) -> None:
    """In each worker: die of SIGTERM (the process group is stopped with the server), leave
    Ctrl-C to the server, which abandons the scan; background work yields the CPU."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if background:
        os.nice(BACKGROUND_NICE)


def executor(name: str, workers: int, *, background: bool = False
             ) -> concurrent.futures.ProcessPoolExecutor:
    """The pool called ``name`` (one per purpose, so that a long background report never
    queues a push's scan behind it), made on first use; ``background`` pools run niced."""
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            context = multiprocessing.get_context("forkserver")
            pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=max(1, workers), mp_context=context, initializer=_worker_start,
                initargs=(background,))
            _pools[name] = pool
        return pool


def discard(name: str, pool: concurrent.futures.ProcessPoolExecutor, *,
            kill: bool = False) -> None:
    """Drop a pool that broke (a worker died) or whose work is abandoned (``kill``: its
    processes are stopped now): the next scan makes a new one."""
    with _lock:
        if _pools.get(name) is pool:
            del _pools[name]
    _stop(pool, kill)


def _stop(pool: concurrent.futures.ProcessPoolExecutor, kill: bool) -> None:
    if kill:
        # The executor has no public way to stop a running job: its processes are ours.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=not kill, cancel_futures=True)


def shutdown(*, kill: bool = False) -> None:
    """Stop every pool's workers: after their current scan, or at once with ``kill`` (a
    stopping server must not wait for a background report; its task goes back to the
    queue)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        _stop(pool, kill)
