"""Security scans of pushes: blocking checks in pre-receive, reports after the push.

Policy (``config.yaml`` ``scan:``): secrets block, pickles block unless every global they
import is on the allowlist (:mod:`modelgit.scanner.pickle_globals`), bandit reports
(``bandit: block-high`` blocks HIGH severity + HIGH confidence). The secret scan reads text
up to ``max_secret_scan_bytes`` (git blobs, and LFS objects that are text), in windows above
``max_blob_bytes``; text over that ceiling refuses the push unless ``oversize: allow``.
Blocking scans read only the blobs the push adds (from the quarantine) and must finish within
``time_budget_seconds``; past it, or on any error, the push is refused (fail closed). What the
blocking scans find and does not refuse (suspicious pickles, files too large to scan under
``oversize: allow``), and bandit's findings when the push adds little Python
(:data:`REPORT_PYTHON_BYTES`), are shown to the pusher as ``warning:`` lines on the accepted
push. The words of refusals and warnings are in :mod:`modelgit.scanner.advice`. Reports are
stored per file and commit and never hold a secret's value.
"""

from __future__ import annotations

import concurrent.futures
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import pygit2

    from modelgit.config import Config
    from modelgit.hooks.pre_receive import Push, RefUpdate
    from modelgit.scanner.blobs import Blob
    from modelgit.scanner.findings import Finding
    from modelgit.store import Store

log = logging.getLogger("modelgit.scan")
ZERO = "0" * 40
#: Python a push may add (bytes) for bandit in report mode to look at it before the push
#: returns, so that its findings reach the pusher as ``warning:`` lines. bandit reads ≈ 0.4 MB/s
#: (bench ``bandit``) and ≈ 0.5 ms per small file once loaded: this caps the wait at ≈ 0.15 s.
#: A push with more is scanned after it returns (the report), and the pusher is told so.
REPORT_PYTHON_BYTES = 64 * 1024


@dataclass
class PushScan:
    """What the scans found in a push: findings that refuse it, findings that are only
    reported (``warning:`` lines), and notes on scans left to the report after the push."""

    blocking: list[Finding] = field(default_factory=list)
    reported: list[Finding] = field(default_factory=list)
    later: list[str] = field(default_factory=list)

    def add(self, found: list[Finding], blocks: Callable[[Finding], bool]) -> None:
        for f in found:
            (self.blocking if blocks(f) else self.reported).append(f)


def _lfs_opener(cfg: Config, store: Store, model_id: str) -> Callable[[str], BinaryIO | None]:
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


def _tip_trees(push: Push) -> Iterator[pygit2.Tree]:
    """The trees of the pushed branch and tag tips, read through the quarantine."""
    from modelgit.git.revisions import peel_commit

    repo = push.repository()
    for u in push.updates:
        commit = None if u.is_delete else peel_commit(repo, u.new)
        if commit is not None:
            yield commit.tree


def _baseline(push: Push) -> bytes | None:
    """``.secrets.baseline`` at the tip of the first pushed branch that has one."""
    from modelgit.git.trees import read_file

    for tree in _tip_trees(push):
        data = read_file(push.repository(), tree, ".secrets.baseline")
        if data is not None:
            return data
    return None


def _bandit_config(push: Push) -> dict[str, Any] | None:
    """The repository's bandit configuration at the first pushed tip (as the report reads it
    at the commit it scans)."""
    from modelgit.scanner.code import bandit_config

    for tree in _tip_trees(push):
        return bandit_config(tree)
    return None


def max_scan_bytes(cfg: Config) -> int:
    """The largest text the secret scan reads (``scan.max_secret_scan_bytes``)."""
    from modelgit.scanner.secrets import DEFAULT_MAX_SCAN_BYTES

    return int(cfg.get("scan").get("max_secret_scan_bytes", DEFAULT_MAX_SCAN_BYTES))


def scan_push(cfg: Config, blobs: list[Blob], baseline: bytes | None,
              open_lfs: Callable[[str], BinaryIO | None],
              bandit_config: Callable[[], dict[str, Any] | None] = lambda: None,
              report_python: bool = True) -> PushScan:
    """The scans of the blobs a push adds, split by the site's policy into what refuses the
    push and what is only reported. ``report_python`` lets bandit in report mode look at a
    push's Python now (when it is small); without it the report after the push does."""
    from modelgit.scanner.code import PYTHON_SUFFIXES, scan_python
    from modelgit.scanner.pickles import scan_pickles
    from modelgit.scanner.secrets import scan_secrets

    policy = cfg.get("scan")
    cap = int(policy.get("max_blob_bytes", 5 * 1024 * 1024))
    out = PushScan()
    if policy.get("secrets") == "block":
        # Text the scan cannot read (over the ceiling) refuses unless the site chose
        # otherwise; any value but "allow" refuses (fail closed on a typo).
        refuse_oversize = policy.get("oversize", "refuse") != "allow"
        out.add(scan_secrets(blobs, baseline=baseline, max_blob_bytes=cap,
                             max_scan_bytes=max_scan_bytes(cfg), open_lfs=open_lfs),
                lambda f: f.scanner == "secrets" or (f.scanner == "limits" and refuse_oversize))
    if policy.get("pickles") == "block":
        out.add(scan_pickles(blobs, open_lfs=open_lfs), lambda f: f.severity == "HIGH")
    if policy.get("bandit") == "block-high":
        out.add(scan_python(blobs, config=bandit_config(), max_blob_bytes=cap),
                lambda f: f.severity == "HIGH" and f.confidence == "HIGH")
    elif policy.get("bandit") == "report":
        python = [b for b in blobs if b.path.lower().endswith(PYTHON_SUFFIXES)]
        size = sum({b.oid: b.size for b in python}.values())
        if python and not report_python:
            out.later.append("bandit checks the Python files of this push after the push:"
                             " see the report.")
        elif size > REPORT_PYTHON_BYTES:
            files = len({b.path for b in python})
            out.later.append(f"bandit checks the {files} Python files of this push"
                             f" ({size:,} bytes) after the push: see the report.")
        elif python:
            try:
                out.add(scan_python(blobs, config=bandit_config(), max_blob_bytes=cap),
                        lambda f: False)
            except Exception:  # report only: a failure here must not refuse the push
                log.exception("bandit on a push failed")
                out.later.append("bandit could not check this push now; it runs again"
                                 " after the push: see the report.")
    return out


def _ref_name(push: Push) -> str:
    """The name a person would pass as ``--ref``: the first pushed branch or tag."""
    for u in push.updates:
        if not u.is_delete:
            return u.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return str(push.model["default_branch"])


def check_scans(push: Push) -> list[str]:
    """Pre-receive: refuse a push that adds a secret or a pickle that is not data-only;
    findings that do not refuse become ``warning:`` lines for an accepted push
    (``push.warnings``)."""
    from modelgit.hooks.lfs import pushed_blobs
    from modelgit.scanner import advice

    budget = float(push.cfg.get("scan.time_budget_seconds"))
    open_lfs = _lfs_opener(push.cfg, push.store, push.model["id"])

    # bandit's findings are for a pusher's eyes (a hub upload shows none), and only in the
    # server, where bandit stays loaded: a hook process would pay ≈ 0.2 s to load it.
    report_python = push.via == "git" and _in_server()

    def work() -> PushScan:
        return scan_push(push.cfg, pushed_blobs(push), _baseline(push), open_lfs,
                         lambda: _bandit_config(push), report_python=report_python)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        found = pool.submit(work).result(timeout=budget)
    except concurrent.futures.TimeoutError:
        return [f"modelgit: push to {push.model['id']} refused: the security scan did not"
                f" finish within {budget:.0f} s; nothing was changed.",
                "modelgit: push fewer or smaller files at a time, or ask the administrator to"
                " raise scan.time_budget_seconds."]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if found.blocking:
        return advice.refusal_lines(push.model["id"], found.blocking, push.via)
    push.warnings += advice.warning_lines(push.model["id"], _ref_name(push), found.reported,
                                          found.later)
    return []


# ------------------------------------------------------------------------- reports
def changed_blobs(repo_path: str, old: str, new: str) -> list[Blob]:
    """Blobs of ``new``'s tree that differ from ``old``'s (all of them for a new ref, or when
    ``old`` names no commit). ``new`` must peel to a commit (``report_push`` sees to it)."""
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


def run_report(cfg: Config, store: Store, model_id: str, ref: str, commit: str,
               blobs: list[Blob], progress: Callable[[str], None] | None = None) -> list[int]:
    """Run every scanner on the blobs and store one scan row each with its findings."""
    from modelgit.git import trees
    from modelgit.git.paths import repo_path
    from modelgit.git.repo import open_path
    from modelgit.git.revisions import peel_commit
    from modelgit.scanner.code import bandit_config_from_tree, scan_python
    from modelgit.scanner.pickles import scan_pickles
    from modelgit.scanner.secrets import scan_secrets

    cap = int(cfg.get("scan.max_blob_bytes"))
    repo = str(repo_path(cfg, model_id))

    def baseline() -> bytes | None:
        repository = open_path(repo, {})
        found = peel_commit(repository, commit)
        return trees.read_file(repository, found.tree, ".secrets.baseline") if found else None

    runners: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("secrets", lambda: scan_secrets(blobs, baseline=baseline(), max_blob_bytes=cap,
                                         max_scan_bytes=max_scan_bytes(cfg),
                                         open_lfs=_lfs_opener(cfg, store, model_id))),
        ("bandit", lambda: scan_python(blobs, config=bandit_config_from_tree(repo, commit),
                                       max_blob_bytes=cap)),
        ("pickles", lambda: scan_pickles(blobs, open_lfs=_lfs_opener(cfg, store, model_id))),
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


def report_push(cfg: Config, store: Store, model: dict[str, Any], user: str | None,
                updates: list[RefUpdate]) -> None:
    """Post-receive: reporting scans in the background, never keeping the client waiting.

    In the server (warm path) a thread runs them; in a hook process without a server a
    detached ``modelgit scan run`` does, so the hook can exit at once.
    """
    from modelgit.git.paths import repo_path

    branch_updates = _commit_updates(str(repo_path(cfg, model["id"])), updates)
    if not branch_updates:
        return
    if _in_server():
        def work() -> None:
            from modelgit.store import Store

            own = Store(store.path)
            try:
                for u in branch_updates:
                    blobs = changed_blobs(str(repo_path(cfg, model["id"])), u.old, u.new)
                    run_report(cfg, own, model["id"], u.ref, u.new, blobs)
            except Exception:
                log.exception("background scan of %s failed", model["id"])
            finally:
                own.close()

        threading.Thread(target=work, name="modelgit-scan", daemon=True).start()
        return
    for u in branch_updates:
        subprocess.Popen(  # detached: the hook returns while the scan runs
            [sys.executable, "-m", "modelgit.cli.main", "--data", str(cfg.data_dir), "scan",
             "run", model["id"], "--ref", u.new],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def _commit_updates(repo_path: str, updates: list[RefUpdate]) -> list[RefUpdate]:
    """The updates whose new value peels to a commit: the only ones a report can scan.

    pre-receive refuses anything else, but a ref written around the hooks (or before the rule)
    must not break the report of the rest: it is skipped, and said so at debug level.
    """
    from modelgit.git.repo import open_path
    from modelgit.git.revisions import peel_commit

    wanted = [u for u in updates if not u.is_delete]
    if not wanted:
        return []
    repo = open_path(repo_path, {})
    out = []
    for u in wanted:
        if peel_commit(repo, u.new) is None:
            log.debug("report: %s -> %s names no commit; not scanned", u.ref, u.new[:12])
            continue
        out.append(u)
    return out


def _in_server() -> bool:
    """Hooks run in the server's hook threads (warm.py), or as their own process."""
    return threading.current_thread().name != "MainThread"
