"""What a push still owes when the database was gone after its refs moved.

The refs of a push are git's: once pre-receive let it in, they moved, whatever happens next.
The post-receive steps (the audit row, the model's last-modified time, the card index, the
reporting scans, gc) need the store; when it is unavailable right then (PostgreSQL stopped
between the checks and the end of the push), logging the failure would lose them for good:
no scan report, a stale card. So the push is written down here instead, one JSON file per
push in ``<data>/spool/post-receive/``, with the steps that did not run, and the server's
task worker runs them once the store answers again (:func:`replay`, from
``modelgit.tasks.Worker``).

Several front ends share the data folder: a file is claimed by renaming it (atomic on one
file system), so exactly one worker runs it; a worker that meets the outage again puts it
back for the next round. The file holds the model, the pusher's name and the ref updates,
never a key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.hooks.pre_receive import RefUpdate
    from modelgit.store import Store

log = logging.getLogger("modelgit.hooks")

SPOOL = Path("spool") / "post-receive"
_CLAIMED = ".claimed-"
#: A claim older than this is a worker's that died in the middle (replaying a push takes
#: seconds): the file goes back to the spool.
ABANDONED_SECONDS = 600


def folder(cfg: Config) -> Path:
    return cfg.data_dir / SPOOL


def spool_push(cfg: Config, model_id: str, user: str | None, updates: list[RefUpdate],
               steps: list[str]) -> Path:
    """Write down the ``steps`` a push still owes (their names), atomically."""
    where = folder(cfg)
    where.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.json"
    record = {"model": model_id, "user": user, "steps": steps,
              "updates": [[u.old, u.new, u.ref] for u in updates], "spooled": time.time()}
    _write(where / name, record)
    log.warning("post-receive %s: the database is unavailable; %s spooled in %s and run when"
                " it is back", model_id, ", ".join(steps), where / name)
    return where / name


def _write(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def pending(cfg: Config) -> list[Path]:
    """The spooled pushes not claimed by a worker, oldest first; claims abandoned by a
    worker that stopped in the middle are given back first."""
    try:
        names = list(folder(cfg).iterdir())
    except FileNotFoundError:
        return []
    now = time.time()
    for path in names:
        original, mark, _ = path.name.partition(_CLAIMED)
        if mark and original.endswith(".json"):
            with contextlib.suppress(OSError):  # another worker may give it back first
                if now - path.stat().st_mtime > ABANDONED_SECONDS:
                    os.rename(path, path.with_name(original))
                    log.warning("post-receive: %s was claimed by a worker that stopped;"
                                " it is run again", original)
    return sorted(p for p in folder(cfg).iterdir()
                  if p.suffix == ".json" and not p.name.startswith("."))


def replay(cfg: Config, store: Store) -> int:
    """Run what the spooled pushes owe, oldest first; the number finished. Stops at the first
    push that meets the outage again (it goes back into the spool)."""
    from modelgit.hooks.post_receive import run_named_steps
    from modelgit.hooks.pre_receive import RefUpdate
    from modelgit.store import StoreUnavailable

    done = 0
    for path in pending(cfg):
        claimed = path.with_name(f"{path.name}{_CLAIMED}{os.getpid()}")
        try:
            os.rename(path, claimed)
            os.utime(claimed)  # when it was claimed: see ABANDONED_SECONDS
        except FileNotFoundError:
            continue  # another front end's worker took it
        try:
            record: dict[str, Any] = json.loads(claimed.read_text())
            updates = [RefUpdate(*u) for u in record["updates"]]
            model = store.get_model(str(record["model"]))
            if model is None:
                log.info("post-receive %s: the model is gone; its spooled steps are dropped",
                         record["model"])
            else:
                left = run_named_steps(cfg, store, model, record.get("user"), updates,
                                       list(record["steps"]))
                if left:  # the outage again: what is still owed goes back, the rest ran
                    _write(path, {**record, "steps": left})
                    claimed.unlink()
                    return done
                log.info("post-receive %s: the spooled %s ran (pushed %.0f s ago)",
                         record["model"], ", ".join(record["steps"]),
                         time.time() - float(record.get("spooled") or time.time()))
        except StoreUnavailable:
            os.rename(claimed, path)  # back for the next round
            return done
        except Exception:
            bad = path.with_name(path.name + ".unreadable")
            log.exception("post-receive: the spooled push %s could not be run; kept as %s",
                          path.name, bad.name)
            with contextlib.suppress(OSError):
                os.rename(claimed, bad)
            continue
        claimed.unlink()
        done += 1
    return done
