"""Security scans of pushes: blocking checks in pre-receive, reports after the push.

Policy (``config.yaml`` ``scan:``): secrets block, pickles block unless every global they
import is on the allowlist (``scanner/pickle_globals.py``), bandit reports
(``bandit: block-high`` blocks HIGH severity + HIGH confidence). Blocking scans read only the
blobs the push adds (from the quarantine) and must finish within ``time_budget_seconds``;
past it, or on any error, the push is refused (fail closed). Reports are stored per file and
commit and never hold a secret's value.
"""

from __future__ import annotations

import concurrent.futures
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
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
FIX_HINTS = [
    "modelgit: how to fix: remove the secret or file from the commits that added it",
    "modelgit:   (the last commit: `git commit --amend`; older ones: `git rebase -i`), then push;",
    "modelgit:   a false positive: add `# pragma: allowlist secret` to that line, or list it in",
    "modelgit:   .secrets.baseline (`detect-secrets scan > .secrets.baseline`).",
]


def _lfs_opener(cfg: Config) -> Callable[[str], BinaryIO | None]:
    from modelgit.lfs.storage import FileStorage, StorageError

    storage = FileStorage(cfg.lfs_dir)

    def open_lfs(oid: str) -> BinaryIO | None:
        try:
            return storage.open(oid)
        except StorageError:
            return None

    return open_lfs


def _baseline(push: Push) -> bytes | None:
    """``.secrets.baseline`` at the tip of the first pushed branch that has one."""
    import pygit2

    repo = push.repository()
    for u in push.updates:
        if u.is_delete:
            continue
        try:
            entry = repo.revparse_single(u.new).peel(pygit2.Commit).tree[".secrets.baseline"]
        except (KeyError, ValueError, pygit2.GitError):
            continue
        if entry.type_str == "blob":
            return bytes(repo[entry.id].data)
    return None


def blocking_findings(cfg: Config, blobs: list[Blob], baseline: bytes | None
                      ) -> list[Finding]:
    """The findings that refuse a push under the site's policy."""
    from modelgit.scanner.code import scan_python
    from modelgit.scanner.pickles import scan_pickles
    from modelgit.scanner.secrets import scan_secrets

    policy = cfg.get("scan")
    cap = int(policy.get("max_blob_bytes", 5 * 1024 * 1024))
    out: list[Finding] = []
    if policy.get("secrets") == "block":
        out += [f for f in scan_secrets(blobs, baseline=baseline, max_blob_bytes=cap)
                if f.scanner == "secrets"]
    if policy.get("pickles") == "block":
        out += [f for f in scan_pickles(blobs, open_lfs=_lfs_opener(cfg))
                if f.severity == "HIGH"]
    if policy.get("bandit") == "block-high":
        out += [f for f in scan_python(blobs, max_blob_bytes=cap)
                if f.severity == "HIGH" and f.confidence == "HIGH"]
    return out


def check_scans(push: Push) -> list[str]:
    """Pre-receive: refuse a push that adds a secret or a pickle that is not data-only."""
    from modelgit.scanner.blobs import pushed_blobs

    budget = float(push.cfg.get("scan.time_budget_seconds"))
    updates = [(u.old, u.new, u.ref) for u in push.updates]

    def work() -> list[Finding]:
        blobs = list(pushed_blobs(str(push.repo), updates, push.env))
        return blocking_findings(push.cfg, blobs, _baseline(push))

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        findings = pool.submit(work).result(timeout=budget)
    except concurrent.futures.TimeoutError:
        return [f"modelgit: push to {push.model['id']} refused: the security scan did not"
                f" finish within {budget:.0f} s; nothing was changed.",
                "modelgit: push fewer or smaller files at a time, or ask the administrator to"
                " raise scan.time_budget_seconds."]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not findings:
        return []
    lines = [f"modelgit: push to {push.model['id']} refused: the security scan found"
             f" {len(findings)} problem(s):"]
    for f in findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        lines.append(f"modelgit:   {where}  {f.rule}  (commit {f.commit[:7]})")
        if f.scanner == "pickles":  # what loading it would do: the rule alone does not say
            lines.append(f"modelgit:     {f.message}")
    if any(f.scanner == "pickles" for f in findings):
        from modelgit.scanner.pickles import FIX_HINT

        lines += FIX_HINT
    if any(f.scanner != "pickles" for f in findings):
        lines += FIX_HINTS
    return lines


# ------------------------------------------------------------------------- reports
def changed_blobs(repo_path: str, old: str, new: str) -> list[Blob]:
    """Blobs of ``new``'s tree that differ from ``old``'s (all of them for a new ref)."""
    import pygit2

    from modelgit.scanner.blobs import Blob, tree_blobs

    if old == ZERO:
        return list(tree_blobs(repo_path, new))
    repo = pygit2.Repository(repo_path)
    old_c = repo.revparse_single(old).peel(pygit2.Commit)
    new_c = repo.revparse_single(new).peel(pygit2.Commit)
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
    from modelgit.repos import repo_path
    from modelgit.scanner.code import bandit_config_from_tree, scan_python
    from modelgit.scanner.pickles import scan_pickles
    from modelgit.scanner.secrets import scan_secrets

    cap = int(cfg.get("scan.max_blob_bytes"))
    repo = str(repo_path(cfg, model_id))

    def baseline() -> bytes | None:
        proc = subprocess.run(["git", "--git-dir", repo, "cat-file", "blob",
                               f"{commit}:.secrets.baseline"], capture_output=True, check=False)
        return proc.stdout if proc.returncode == 0 else None

    runners: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("secrets", lambda: scan_secrets(blobs, baseline=baseline(), max_blob_bytes=cap)),
        ("bandit", lambda: scan_python(blobs, config=bandit_config_from_tree(repo, commit),
                                       max_blob_bytes=cap)),
        ("pickles", lambda: scan_pickles(blobs, open_lfs=_lfs_opener(cfg))),
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
    from modelgit.repos import repo_path

    branch_updates = [u for u in updates if not u.is_delete]
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


def _in_server() -> bool:
    """Hooks run in the server's hook threads (warm.py), or as their own process."""
    return threading.current_thread().name != "MainThread"
