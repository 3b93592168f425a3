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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
    from modelgit.services.reports import max_scan_bytes

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


#: Pushes that add at most this many bytes (and no LFS pointer, whose object may be large)
#: are scanned on the hook's own thread; larger ones on another, so that the time budget
#: can end the wait.
SMALL_PUSH_BYTES = 256 * 1024


def _small(blobs: list[Blob]) -> bool:
    from modelgit.lfs.pointer import MAX_POINTER_BYTES, parse

    total = 0
    for blob in blobs:
        if blob.size < MAX_POINTER_BYTES and parse(blob.data()) is not None:
            return False
        total += blob.size
        if total > SMALL_PUSH_BYTES:
            return False
    return True


def check_scans(push: Push) -> list[str]:
    """Pre-receive: refuse a push that adds a secret or a pickle that is not data-only;
    findings that do not refuse become ``warning:`` lines for an accepted push
    (``push.warnings``)."""
    from modelgit.hooks.lfs import pushed_blobs
    from modelgit.scanner import advice
    from modelgit.services.reports import lfs_opener

    budget = float(push.cfg.get("scan.time_budget_seconds"))
    open_lfs = lfs_opener(push.cfg, push.store, push.model["id"])

    # bandit's findings are for a pusher's eyes (a hub upload shows none), and only in the
    # server, where bandit stays loaded: a hook process would pay ≈ 0.2 s to load it.
    report_python = push.via == "git" and push.warm

    def work() -> PushScan:
        return scan_push(push.cfg, pushed_blobs(push), _baseline(push), open_lfs,
                         lambda: _bandit_config(push), report_python=report_python)

    over_budget = [f"modelgit: push to {push.model['id']} refused: the security scan did not"
                   f" finish within {budget:.0f} s; nothing was changed.",
                   "modelgit: push fewer or smaller files at a time, or ask the administrator"
                   " to raise scan.time_budget_seconds."]
    if _small(pushed_blobs(push)):
        # A few KB scan in milliseconds: on this thread, without a hand-off to another one;
        # past the budget all the same, it refuses.
        started = time.monotonic()
        found = work()
        if time.monotonic() - started > budget:
            return over_budget
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            found = pool.submit(work).result(timeout=budget)
        except concurrent.futures.TimeoutError:
            return over_budget
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    if found.blocking:
        return advice.refusal_lines(push.model["id"], found.blocking, push.via)
    push.warnings += advice.warning_lines(push.model["id"], _ref_name(push), found.reported,
                                          found.later)
    return []


# ------------------------------------------------------------------------- reports
def report_push(cfg: Config, store: Store, model: dict[str, Any], user: str | None,
                updates: list[RefUpdate]) -> None:
    """Post-receive: queue the reporting scans of the pushed refs as tasks; the task worker
    of a running ``modelgit serve`` (this one, woken now, or another front end's) runs them
    after the push returned. Without a server they wait for the next one (said in the log)."""
    from modelgit import tasks

    revs = [(u.ref, None if u.is_create else u.old, u.new) for u in updates if not u.is_delete]
    ids = tasks.queue_scans(store, model["id"], revs)
    if ids:
        tasks.wake()
        log.debug("scan tasks %s queued for %s", ids, model["id"])
