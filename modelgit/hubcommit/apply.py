"""One hub commit: built in a quarantine, checked by the pre-receive checks, then applied."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pygit2

from modelgit.git import commands, revisions
from modelgit.git.quarantine import migrate, open_quarantined, quarantine
from modelgit.hubcommit.editor import (
    TreeEditor,
    _attributes_line,
    _lfs_untracked,
    _read_root_blob,
)
from modelgit.hubcommit.gate import check_updates
from modelgit.hubcommit.gate import signature as author_of
from modelgit.hubcommit.limits import (
    DEFAULT_MAX_COMMIT_BYTES,
    MAX_ATTEMPTS,
    ZERO,
    HubError,
    lfs_threshold,
    log,
    setting,
)
from modelgit.hubcommit.ndjson import Header, Operation, iter_lines, parse_commit
from modelgit.hubcommit.paths import valid_branch

if TYPE_CHECKING:
    from modelgit.authz.decide import Subject
    from modelgit.config import Config
    from modelgit.lfs.storage import ObjectStorage
    from modelgit.store import Store


@contextmanager
def model_lock(cfg: Config, model_id: str) -> Iterator[None]:
    """One hub commit at a time per model (an exclusive ``flock`` on a file under the data
    folder's ``run/``, so every front end on the shared volume takes the same lock)."""
    import fcntl

    space, name = model_id.split("/", 1)
    folder = cfg.data_dir / "run" / "hub-locks" / space
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass
class CommitRequest:
    """Everything a hub commit needs, gathered by the HTTP layer after authorization."""

    cfg: Config
    store: Store
    storage: ObjectStorage
    model: dict[str, Any]
    subject: Subject
    branch: str
    address: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitResult:
    sha: str
    old: str
    ref: str


def _tip(repo: pygit2.Repository, ref: str) -> pygit2.Commit | None:
    if ref not in repo.references:
        return None
    tip = revisions.ref_commit(repo, ref)
    if tip is None:
        raise HubError(409, f"{ref} does not point to a commit")
    return tip


def commit(request: CommitRequest, stream: IO[bytes], length: int) -> CommitResult:
    """Read, build, check and apply one hub commit; raise :class:`HubError` on refusal.

    As in ``git receive-pack``, new objects go to a quarantine folder in the repository's
    ``objects/`` and the checks run with git's quarantine variables, so they see what a push
    would show them. A refused commit leaves nothing behind; an accepted one has its objects
    moved in first, then the branch moves with ``git update-ref <ref> <new> <old>`` (a
    compare-and-swap: a branch that moved meanwhile is a 409, never an overwrite), then the
    post-receive steps run. The body is read line by line within hard limits and each blob is
    written as soon as its line is parsed, so memory holds one file at a time.
    """
    from modelgit.git.paths import repo_path

    cfg = request.cfg
    model_id = str(request.model["id"])
    branch = valid_branch(request.branch)
    ref = f"refs/heads/{branch}"
    limit = int(setting(cfg, "hub.max_commit_bytes", DEFAULT_MAX_COMMIT_BYTES))
    if length > limit:
        raise HubError(413, f"the commit body is {length} bytes; the limit is {limit}. Upload"
                            " large files through LFS, or split the upload into commits")
    threshold = lfs_threshold(cfg)
    max_line = threshold * 4 // 3 + 64 * 1024
    path = repo_path(cfg, model_id)
    if not path.is_dir():
        raise HubError(404, f"model {model_id} has no repository on this server",
                       "RepoNotFound")
    with quarantine(path) as folder:
        repo = open_quarantined(path, folder)
        header, ops = parse_commit(
            iter_lines(stream, length, max_line), repo, model_id=model_id,
            linked_size=lambda oid: request.store.linked_size(model_id, oid),
            stored_size=request.storage.get_size, max_file=threshold)
        with model_lock(cfg, model_id):
            return _commit_locked(request, path, folder, repo, header, ops, ref)


def _commit_locked(request: CommitRequest, path: Path, folder: Path, repo: pygit2.Repository,
                   header: Header, ops: list[Operation], ref: str) -> CommitResult:
    """Attempts under the model's lock: hub commits queue up instead of racing; a git push
    landing meanwhile is still caught by ``update-ref`` and, without a parent commit, the
    commit is rebuilt on the new tip."""
    model_id = str(request.model["id"])
    for attempt in range(MAX_ATTEMPTS):
        result = _attempt(request, path, folder, repo, header, ops, ref)
        if result is not None:
            return result
        if attempt == MAX_ATTEMPTS - 1:
            break
        # The branch moved while we checked (no parent was named): build on the new tip.
        # The blobs are in the repository already; later objects need a new quarantine.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        repo = open_quarantined(path, folder)
    raise HubError(409, f"modelgit: {ref} of {model_id} moved while this commit was being"
                        " checked; fetch the new revision and commit again.")


def _attempt(request: CommitRequest, path: Path, folder: Path, repo: pygit2.Repository,
             header: Header, ops: list[Operation], ref: str) -> CommitResult | None:
    """One try: build on the current tip, check, move the branch. None if the branch moved
    between reading the tip and ``update-ref`` (and no parent commit was named)."""
    model = request.model
    model_id = str(model["id"])
    tip = _tip(repo, ref)
    branch = ref.removeprefix("refs/heads/")
    if tip is None and branch != model["default_branch"]:
        raise HubError(404, f"branch {branch!r} does not exist in {model_id}; commits through"
                            " the API go to an existing branch or to the default branch"
                            f" {model['default_branch']!r}", "RevisionNotFound")
    old = str(tip.id) if tip is not None else ZERO
    if header.parent is not None and (tip is None or not old.startswith(header.parent)):
        # 412 Precondition Failed, as the public hubs answer a stale parent commit.
        raise HubError(412, [
            f"modelgit: commit to {model_id} refused: parentCommit {header.parent} is not the"
            f" tip of {branch} (the tip is {old if tip is not None else 'nothing yet'}).",
            # The hubs' own sentence first: clients and their tests look for it.
            "modelgit: The branch was updated since you opened this page. Please refresh and"
            " try again. Someone committed in between: fetch the new revision, re-apply your"
            " change and commit again."])
    editor = TreeEditor(repo, tip.tree if tip is not None else None)
    editor.apply(ops)
    tree = editor.write()
    signature = author_of(request.store, request.subject.user or "")
    message = header.summary + (f"\n\n{header.description}" if header.description else "")
    if not message.endswith("\n"):
        message += "\n"
    parents = [tip.id] if tip is not None else []
    new = repo.create_commit(None, signature, signature, message, tree, parents)
    lfs_paths = sorted({op.path for op in ops if op.lfs is not None})
    if lfs_paths:
        new = _track_lfs(repo, folder, editor, new, lfs_paths, signature, message, parents)
    sha = str(new)
    from modelgit.hooks.pre_receive import RefUpdate

    updates = [RefUpdate(old, sha, ref)]
    _check(request, path, folder, updates)
    migrate(folder, path / "objects")
    moved = commands.update_ref(path, ref, sha, old,
                                f"modelgit: hub commit by {request.subject.user}")
    if moved.returncode != 0:
        log.info("hub commit on %s %s lost the race: %s", model_id, ref,
                 moved.stderr.decode("utf-8", "replace").strip())
        if header.parent is not None:
            # The named parent was the tip and is not any more: the same failed
            # precondition as a stale parent named up front.
            raise HubError(412, [
                f"modelgit: commit to {model_id} refused: {branch} moved while the commit was"
                " being checked, so parentCommit is no longer its tip.",
                "modelgit: The branch was updated since you opened this page. Please refresh"
                " and try again. Fetch the new revision, re-apply your change and commit again."])
        return None
    from modelgit.hooks.post_receive import run_steps

    run_steps(request.cfg, request.store, model, request.subject.user, updates)
    log.info("hub commit %s on %s %s by %s", sha, model_id, ref, request.subject.user)
    return CommitResult(sha, old, ref)


def _track_lfs(repo: pygit2.Repository, folder: Path, editor: TreeEditor, first: pygit2.Oid,
               paths: list[str], signature: pygit2.Signature, message: str,
               parents: list[pygit2.Oid]) -> pygit2.Oid:
    """Make every LFS file of the commit tracked by ``.gitattributes``, as the hubs do when a
    file is uploaded as LFS: otherwise ``git clone`` would show the pointer, not the bytes.

    Untracked paths get an anchored line appended to the root ``.gitattributes`` in the same
    commit; the check commit built to ask libgit2 is dropped from the quarantine.
    """
    missing = _lfs_untracked(repo, first, paths)
    if not missing:
        return first
    first_commit = repo[first].peel(pygit2.Commit)
    current = _read_root_blob(repo, first_commit.tree, ".gitattributes") or b""
    if current and not current.endswith(b"\n"):
        current += b"\n"
    lines = b"".join(_attributes_line(p) for p in missing)
    editor.add(".gitattributes", repo.create_blob(current + lines))
    tree = editor.write()
    new = repo.create_commit(None, signature, signature, message, tree, parents)
    still = _lfs_untracked(repo, new, paths)
    if still:
        raise HubError(422, f"cannot track {still[0]} with LFS through .gitattributes (unusual"
                            " characters); add a .gitattributes pattern for it and retry")
    for oid in (first, first_commit.tree_id):
        hexsha = str(oid)
        (folder / hexsha[:2] / hexsha[2:]).unlink(missing_ok=True)
    return new


def _check(request: CommitRequest, path: Path, folder: Path, updates: list[Any]) -> None:
    """THE pre-receive checks, on the quarantined commit (:mod:`modelgit.hubcommit.gate`)."""
    refusal = check_updates(request.cfg, request.store, request.model, request.subject,
                            path, folder, updates)
    if refusal is None:
        return
    request.store.audit("hub.commit.refused", actor=request.subject.user,
                        target=str(request.model["id"]), address=request.address,
                        detail={"check": refusal.check, "ref": updates[0].ref})
    raise HubError(refusal.status, refusal.lines)
