"""After git moved the refs: record the push, index the card, queue the reporting scans.

Nothing here may fail the push (the refs already moved) or keep the client waiting: errors
are logged, slow work is queued as tasks for the task worker (``modelgit.tasks``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelgit import config as config_mod
from modelgit.hooks import spool
from modelgit.hooks.card import index_card
from modelgit.hooks.pre_receive import RefUpdate, parse_updates
from modelgit.hooks.scan import report_push
from modelgit.store import Store

log = logging.getLogger("modelgit.hooks")

Step = Callable[[config_mod.Config, Store, dict[str, Any], str | None, list[RefUpdate]], None]


def record_push(cfg: config_mod.Config, store: Store, model: dict[str, Any], user: str | None,
                updates: list[RefUpdate]) -> None:
    store.audit("push", actor=user, target=model["id"],
                detail={"updates": [[u.old, u.new, u.ref] for u in updates]})


def touch_model(cfg: config_mod.Config, store: Store, model: dict[str, Any], user: str | None,
                updates: list[RefUpdate]) -> None:
    """The model's last-modified time (the hub's ``lastModified`` and its sort)."""
    store.touch_model(model["id"])


def queue_gc(cfg: config_mod.Config, store: Store, model: dict[str, Any], user: str | None,
             updates: list[RefUpdate]) -> None:
    """The repository's ``git gc --auto`` as a task: receive-pack would run it while the
    pusher waits (the hooks turn that off, ``receive.autogc``; see ``install.py``)."""
    from modelgit import tasks

    tasks.queue_gc(store, model["id"])


STEPS: list[Step] = [record_push, touch_model, index_card, report_push, queue_gc]


def run_steps(cfg: config_mod.Config, store: Store, model: dict[str, Any], user: str | None,
              updates: list[RefUpdate]) -> None:
    """Every step, each timed in the log as pre-receive's checks are (the client waits for
    this hook, so a slow step shows in every push). Steps that met an unavailable database
    are spooled (``hooks/spool.py``) and run by the task worker when it is back."""
    left = run_named_steps(cfg, store, model, user, updates, [s.__name__ for s in STEPS])
    if left:
        spool.spool_push(cfg, model["id"], user, updates, left)


def run_named_steps(cfg: config_mod.Config, store: Store, model: dict[str, Any],
                    user: str | None, updates: list[RefUpdate], names: list[str]) -> list[str]:
    """Run the named steps in :data:`STEPS` order; the names of those that met an
    unavailable database (any other failure is logged: retrying would not mend it)."""
    from modelgit.store import StoreUnavailable

    timings: list[str] = []
    left: list[str] = []
    for step in STEPS:
        if step.__name__ not in names:
            continue
        started = time.perf_counter()
        try:
            step(cfg, store, model, user, updates)
        except StoreUnavailable:
            left.append(step.__name__)
        except Exception:
            log.exception("post-receive step %s failed on %s", step.__name__, model["id"])
        timings.append(f"{step.__name__} {1000 * (time.perf_counter() - started):.1f}ms")
    log.info("post-receive %s: %s", model["id"], ", ".join(timings))
    return left


def handle(cfg: config_mod.Config, store: Store, model_id: str, stdin: bytes,
           env: dict[str, str]) -> None:
    """The hook with the configuration and store at hand (the server keeps them open)."""
    from modelgit.store import StoreUnavailable

    user = env.get("MODELGIT_USER") or env.get("REMOTE_USER") or None
    try:
        updates = parse_updates(stdin)
        try:
            model = store.get_model(model_id)
        except StoreUnavailable:
            spool.spool_push(cfg, model_id, user, updates, [s.__name__ for s in STEPS])
            return
        if model is None:
            return
        run_steps(cfg, store, model, user, updates)
    except Exception:
        log.exception("post-receive failed on %s", model_id)


def main(data_dir: Path, model_id: str, stdin: bytes, env: dict[str, str]) -> None:
    """The hook process's own run (no server reachable): the scans it queues wait for the
    next ``modelgit serve``'s worker, which the log says."""
    try:
        cfg = config_mod.load(data_dir)
        store = Store(cfg.store_target)
    except Exception:
        log.exception("post-receive failed on %s", model_id)
        return
    handle(cfg, store, model_id, stdin, env)
    queued = [u.ref for u in parse_updates(stdin) if not u.is_delete]
    if queued:
        log.info("post-receive %s: no server running; the scans of %s wait in the task queue"
                 " for the next `modelgit serve`", model_id, ", ".join(queued))
