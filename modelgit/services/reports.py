"""Scan reports: every scanner over a commit's blobs, stored per file and commit.

Run on demand (``modelgit scan run``) and after every push as a background task (the task
worker, ``modelgit.tasks``), never on the pusher's time. Reports never hold a secret's value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import pygit2

    from modelgit.config import Config
    from modelgit.scanner.blobs import Blob
    from modelgit.scanner.findings import Finding
    from modelgit.store import Store
    from modelgit.tasks import Lease

log = logging.getLogger("modelgit.scan")
ZERO = "0" * 40


def lfs_opener(cfg: Config, store: Store, model_id: str) -> Callable[[str], BinaryIO | None]:
    """Opens an LFS object only when it is linked to ``model_id``: a pointer naming another
    model's object must not make the scanner read (and report on) that model's bytes."""
    from modelgit.lfs.storage import StorageError, storage_for

    storage = storage_for(cfg)

    def open_lfs(oid: str) -> BinaryIO | None:
        if store.linked_size(model_id, oid) is None:
            return None
        try:
            return storage.open(oid)
        except StorageError:
            return None

    return open_lfs


def max_scan_bytes(cfg: Config) -> int:
    """The largest text the secret scan reads (``scan.max_secret_scan_bytes``)."""
    from modelgit.scanner.secrets import DEFAULT_MAX_SCAN_BYTES

    return int(cfg.get("scan").get("max_secret_scan_bytes", DEFAULT_MAX_SCAN_BYTES))


def changed_blobs(repo_path: str, old: str, new: str) -> list[Blob]:
    """Blobs of ``new``'s tree that differ from ``old``'s (all of them for a new ref, or when
    ``old`` names no commit). ``new`` must peel to a commit."""
    import pygit2

    from modelgit.git.repo import open_path
    from modelgit.git.revisions import peel_commit
    from modelgit.scanner.blobs import Blob, tree_blobs

    repo = open_path(repo_path, {})
    new_c = peel_commit(repo, new)
    if new_c is None:
        raise ValueError(f"{new} does not name a commit")
    old_c = peel_commit(repo, old) if old != ZERO else None
    if old_c is None:
        return list(tree_blobs(repo_path, str(new_c.id)))
    out = []
    # What repo.diff(tree, tree) runs; its stubs accept no Tree.
    for delta in old_c.tree.diff_to_tree(new_c.tree).deltas:
        if delta.status_char() in ("A", "M", "R", "C", "T") and \
                delta.new_file.mode in (0o100644, 0o100755):
            obj = repo[delta.new_file.id]
            if not isinstance(obj, pygit2.Blob):  # a file mode always names a blob
                raise TypeError(f"{delta.new_file.path}: {obj.id} is not a blob")
            out.append(Blob(path=delta.new_file.path, commit=str(new_c.id), oid=str(obj.id),
                            size=obj.size, mode=delta.new_file.mode,
                            _loader=partial(_blob_data, obj)))
    return out


def _blob_data(blob: pygit2.Blob) -> bytes:
    """A changed blob's loader (a lambda with a default argument defeats mypy's inference)."""
    return blob.data


def _baseline(repo_path: str, commit: str) -> bytes | None:
    """``.secrets.baseline`` at ``commit``, read in process."""
    from modelgit.git import trees
    from modelgit.git.repo import open_path
    from modelgit.git.revisions import peel_commit

    repo = open_path(repo_path, {})
    found = peel_commit(repo, commit)
    return trees.read_file(repo, found.tree, ".secrets.baseline") if found else None


def run_report(cfg: Config, store: Store, model_id: str, ref: str, commit: str,
               blobs: list[Blob], progress: Callable[[str], None] | None = None) -> list[int]:
    """Run every scanner on the blobs and store one scan row each with its findings."""
    from modelgit.git.paths import repo_path
    from modelgit.scanner.code import bandit_config_from_tree, scan_python
    from modelgit.scanner.pickles import scan_pickles
    from modelgit.scanner.secrets import scan_secrets

    cap = int(cfg.get("scan.max_blob_bytes"))
    repo = str(repo_path(cfg, model_id))
    runners: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("secrets", lambda: scan_secrets(blobs, baseline=_baseline(repo, commit),
                                         max_blob_bytes=cap,
                                         max_scan_bytes=max_scan_bytes(cfg),
                                         open_lfs=lfs_opener(cfg, store, model_id))),
        ("bandit", lambda: scan_python(blobs, config=bandit_config_from_tree(repo, commit),
                                       max_blob_bytes=cap)),
        ("pickles", lambda: scan_pickles(blobs, open_lfs=lfs_opener(cfg, store, model_id))),
    ]
    ids = []
    for name, runner in runners:
        if progress:
            progress(name)
        scan_id = store.start_scan(model_id, ref, commit, name)
        ids.append(scan_id)
        try:
            found = runner()
        except Exception as exc:
            log.exception("%s scan of %s@%s failed", name, model_id, commit[:7])
            store.finish_scan(scan_id, [], error=f"{type(exc).__name__}: scanner failed")
            continue
        rows = [{k: v for k, v in asdict(f).items() if k not in ("scanner", "blocking")}
                for f in found]
        store.finish_scan(scan_id, rows)
    return ids


#: The pool that runs background reports: one process, so a report never takes more than
#: one core from the pushes the server is answering.
REPORT_POOL = "reports"
#: Seconds between two looks at the lease while a report runs in its process.
LEASE_CHECK_SECONDS = 1.0


def run_scan_task(cfg: Config, store: Store, task: dict[str, Any], lease: Lease) -> None:
    """The task worker's handler for a pushed ref: scan what the push changed, in a scan
    worker process (``scanner.pool``), so the server's threads never wait behind it."""
    from modelgit.scanner import pool
    from modelgit.tasks import LeaseLost

    executor = pool.executor(REPORT_POOL, 1, background=True)
    try:
        future = executor.submit(scan_pushed_ref, str(cfg.data_dir), dict(task))
    except (pool.BrokenProcessPool, RuntimeError):
        pool.discard(REPORT_POOL, executor)
        raise
    while True:
        try:
            future.result(timeout=LEASE_CHECK_SECONDS)
            return
        except TimeoutError:
            if lease.lost.is_set():
                raise LeaseLost from None
        except pool.BrokenProcessPool:
            pool.discard(REPORT_POOL, executor)
            raise RuntimeError("the scan worker process died") from None


def scan_pushed_ref(data_dir: str, task: dict[str, Any]) -> None:
    """In the scan worker process: the report of what the push changed on one ref.

    A ref whose new value names no commit (written around the hooks) has nothing a report
    can scan: the task ends with that said, not as a failure.
    """
    from modelgit import config as config_mod
    from modelgit.git.paths import repo_path
    from modelgit.git.repo import open_path
    from modelgit.git.revisions import peel_commit
    from modelgit.store import Store

    cfg = config_mod.load(data_dir)
    _log_to_server_log(cfg)
    store = Store(cfg.store_target)
    try:
        model_id = str(task["model"])
        repo = str(repo_path(cfg, model_id))
        new = str(task["commit_sha"])
        if peel_commit(open_path(repo, {}), new) is None:
            log.debug("scan task %s: %s -> %s names no commit; not scanned", task["id"],
                      task["ref"], new[:12])
            return
        blobs = changed_blobs(repo, str(task["old_sha"] or ZERO), new)
        run_report(cfg, store, model_id, str(task["ref"]), new, blobs)
    finally:
        store.close()


def _log_to_server_log(cfg: Config) -> None:
    """A scan worker process starts with no logging set up: its lines go to server.log."""
    root = logging.getLogger("modelgit")
    if root.handlers:
        return
    try:
        cfg.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(cfg.log_dir / "server.log")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
