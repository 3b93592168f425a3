"""Commits made through the hub API (``POST /api/models/<id>/commit/<rev>``), checked like pushes.

The huggingface_hub client sends a commit as NDJSON (a header line, then one line per file,
LFS file or deletion). This module builds the git commit with pygit2 in a quarantine and moves
the branch only if the same pre-receive checks as a git push
(:func:`modelgit.hooks.pre_receive.run_checks`) accept it: there is no second set of rules.
Also here: :func:`upload_modes`, the ``preupload`` answer, which uses libgit2's own
``.gitattributes`` and ``.gitignore`` matching so that what it promises is what ``git clone``
later does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pygit2

from modelgit import strictjson
from modelgit.errors import ModelgitError
from modelgit.git import commands, revisions, trees
from modelgit.git.quarantine import migrate, open_quarantined, quarantine, quarantine_env
from modelgit.git.repo import open_path
from modelgit.lfs import pointer as pointer_codec

if TYPE_CHECKING:
    from modelgit.authz.decide import Subject
    from modelgit.config import Config
    from modelgit.hooks.pre_receive import Push
    from modelgit.lfs.storage import ObjectStorage
    from modelgit.store import Store

log = logging.getLogger("modelgit.hub")

ZERO = "0" * 40

#: Files larger than this are uploaded through LFS even without a ``.gitattributes`` pattern
#: (config ``hub.lfs_threshold_bytes``); the hubs use the same 10 MiB.
DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024
#: Largest commit body read (config ``hub.max_commit_bytes``): regular files travel in it as
#: base64, LFS files do not.
DEFAULT_MAX_COMMIT_BYTES = 1024 * 1024 * 1024
#: Most operations in one commit: far above what the client batches, low enough that the
#: list of operations stays small in memory.
MAX_OPERATIONS = 50_000
#: Longest path (bytes) and path segment (bytes) accepted in a commit.
MAX_PATH_BYTES = 4096
MAX_SEGMENT_BYTES = 255
#: Most commit attempts when the branch moves under a commit that named no parent.
MAX_ATTEMPTS = 3
#: Largest preupload request: 256 files with 512-byte samples fit many times over.
MAX_PREUPLOAD_FILES = 1000

#: HTTP status of a refusal, by the check that refused: rights are 403, a full space 507 (as
#: the LFS batch API answers), anything about the content (card, secrets, pickles) 422.
STATUS_BY_CHECK = {"check_pusher": 403, "check_ref_rules": 403, "check_quota": 507}
CONTENT_STATUS = 422

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_OID = re.compile(r"^[0-9a-f]{64}$")


class HubError(ModelgitError):
    """A refusal of the hub API with its status chosen per refusal (a refused commit's
    message has several lines: git's ``remote:`` lines)."""

    def __init__(self, status: int, message: str | list[str], code: str | None = None) -> None:
        super().__init__(message, status=status, code=code)


def setting(cfg: Config, dotted: str, default: Any) -> Any:
    """A hub setting with its default: the keys are optional in ``config.yaml``."""
    try:
        value = cfg.get(dotted)
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def lfs_threshold(cfg: Config) -> int:
    return int(setting(cfg, "hub.lfs_threshold_bytes", DEFAULT_LFS_THRESHOLD))


# --------------------------------------------------------------------------- paths
def clean_path(value: object, what: str = "path") -> str:
    """A repository path from the network, checked as a git tree path; raises 400.

    The rules are git's own (fsck refuses ``.git`` in any case and ``..``) plus: no empty
    segment, no control characters (they end up in headers and logs), bounded lengths.
    """
    if not isinstance(value, str) or not value:
        raise HubError(400, f"{what} must be a non-empty string")
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_PATH_BYTES:
        raise HubError(400, f"{what} is longer than {MAX_PATH_BYTES} bytes")
    if _CONTROL.search(value) or "\\" in value:
        raise HubError(400, f"{what} {value!r} contains a control character or a backslash")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HubError(400, f"{what} {value!r} is not valid UTF-8") from None
    for part in value.split("/"):
        if part in ("", ".", ".."):
            raise HubError(400, f"{what} {value!r}: empty, '.' and '..' segments are not"
                                " allowed (paths are relative to the repository root)")
        if part.lower().rstrip(". ") == ".git":
            raise HubError(400, f"{what} {value!r}: '.git' cannot be part of a path")
        if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise HubError(400, f"{what} {value!r}: a segment is longer than"
                                f" {MAX_SEGMENT_BYTES} bytes")
    return value


def valid_branch(branch: str) -> str:
    """A branch name the hub API may commit to; ``refs/heads/x`` and ``x`` both name ``x``."""
    name = branch.removeprefix("refs/heads/")
    if (not name or len(name) > 255 or name.startswith(("refs/", "-")) or _CONTROL.search(name)
            or not pygit2.reference_is_valid_name(f"refs/heads/{name}")):
        raise HubError(400, f"invalid branch name {branch!r}: commits go to a branch such as"
                            " 'main'", "RevisionNotFound")
    return name


# --------------------------------------------------------------------------- NDJSON


def iter_lines(stream: IO[bytes], length: int, max_line: int) -> Iterator[bytes]:
    """The non-blank lines of a body of ``length`` bytes, each at most ``max_line`` bytes.

    Reads in 1 MiB pieces and never past ``length`` (WSGI says reading past it may block).
    """
    remaining = length
    pending = b""
    while remaining > 0:
        chunk = stream.read(min(1 << 20, remaining))
        if not chunk:
            raise HubError(400, "the body ended before Content-Length bytes arrived")
        remaining -= len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if len(line) > max_line:
                raise _line_too_long(max_line)
            if line.strip():
                yield line
        if len(pending) > max_line:
            raise _line_too_long(max_line)
    if pending.strip():
        yield pending


def _line_too_long(max_line: int) -> HubError:
    return HubError(413, f"a commit line is longer than {max_line} bytes: files over the LFS"
                         " threshold must be uploaded through LFS (preupload says which)")


def _decode_line(line: bytes) -> tuple[str, dict[str, Any]]:
    try:
        item = strictjson.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HubError(400, f"a commit line is not valid JSON: {str(exc)[:200]}") from exc
    if (not isinstance(item, dict) or set(item) != {"key", "value"}
            or not isinstance(item["key"], str) or not isinstance(item["value"], dict)):
        raise HubError(400, 'each commit line must be {"key": ..., "value": {...}}')
    return item["key"], item["value"]


@dataclass(frozen=True)
class Header:
    summary: str
    description: str
    parent: str | None


@dataclass(frozen=True)
class Operation:
    """One change to the tree: ``add`` (with a blob already written), ``delete_file``,
    ``delete_folder``. ``lfs`` is ``(oid, size)`` for an LFS file."""

    kind: str
    path: str
    blob: pygit2.Oid | None = None
    lfs: tuple[str, int] | None = None


def _header(value: dict[str, Any]) -> Header:
    unknown = set(value) - {"summary", "description", "parentCommit"}
    if unknown:
        raise HubError(400, f"unknown header fields: {', '.join(sorted(unknown))}")
    summary = value.get("summary")
    description = value.get("description") or ""
    parent = value.get("parentCommit")
    if not isinstance(summary, str) or not summary.strip():
        raise HubError(400, "the commit needs a summary (the commit message)")
    if not isinstance(description, str):
        raise HubError(400, "description must be a string")
    if len(summary) + len(description) > 1024 * 1024:
        raise HubError(400, "the commit message is longer than 1 MiB")
    if parent is not None and (not isinstance(parent, str) or not _HEX.fullmatch(parent)):
        raise HubError(400, "parentCommit must be a commit id (7 to 40 lowercase hex digits)")
    return Header(summary.strip(), description.strip(), parent)


def _fields(value: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(value) - allowed
    if unknown:
        raise HubError(400, f"unknown fields: {', '.join(sorted(unknown))}")


def parse_commit(lines: Iterator[bytes], repo: pygit2.Repository, *, model_id: str,
                 linked_size: Callable[[str], int | None], stored_size: Callable[[str], int | None],
                 max_file: int) -> tuple[Header, list[Operation]]:
    """Read the NDJSON commit, writing each regular file's blob into ``repo``'s object
    database (the quarantine) as soon as it is read.

    LFS files must already be linked to this model (uploaded through its batch API) with the
    size the line states: an oid known from another model grants nothing.
    """
    header: Header | None = None
    ops: list[Operation] = []
    for line in lines:
        key, value = _decode_line(line)
        if header is None:
            if key != "header":
                raise HubError(400, "the first commit line must be the header")
            header = _header(value)
            continue
        if len(ops) >= MAX_OPERATIONS:
            raise HubError(413, f"a commit may have at most {MAX_OPERATIONS} operations")
        if key == "file":
            _fields(value, {"path", "content", "encoding"})
            path = clean_path(value.get("path"))
            content = value.get("content")
            if value.get("encoding", "base64") != "base64" or not isinstance(content, str):
                raise HubError(400, f"{path}: file content must be a base64 string")
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise HubError(400, f"{path}: file content is not valid base64") from None
            if len(data) > max_file:
                raise HubError(413, f"{path} is {len(data)} bytes: files over {max_file} bytes"
                                    " must be uploaded through LFS")
            ops.append(Operation("add", path, blob=repo.create_blob(data)))
        elif key == "lfsFile":
            _fields(value, {"path", "algo", "oid", "size"})
            path = clean_path(value.get("path"))
            oid = value.get("oid")
            if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) \
                    or not _OID.fullmatch(oid):
                raise HubError(400, f"{path}: lfsFile needs algo sha256 and a 64-hex oid")
            size = value.get("size")
            linked = linked_size(oid)
            if linked is None or stored_size(oid) != linked:
                raise HubError(422, [
                    f"modelgit: {path}: LFS object {oid} has not been uploaded to {model_id}.",
                    "modelgit: upload it through the model's LFS batch API first (the hub"
                    " client does this before committing; git-lfs does it on push)."])
            if size is None:
                size = linked
            if isinstance(size, bool) or not isinstance(size, int) or size != linked:
                raise HubError(422, f"{path}: LFS object {oid} has {linked} bytes, not {size}")
            pointer = repo.create_blob(pointer_codec.encode(oid, size))
            ops.append(Operation("add", path, blob=pointer, lfs=(oid, size)))
        elif key in ("deletedFile", "deletedFolder"):
            _fields(value, {"path"})
            raw = value.get("path")
            if key == "deletedFolder" and isinstance(raw, str):
                raw = raw.rstrip("/")
            kind = "delete_file" if key == "deletedFile" else "delete_folder"
            ops.append(Operation(kind, clean_path(raw)))
        else:
            raise HubError(400, f"unknown commit operation {key!r}: modelgit takes file,"
                                " lfsFile, deletedFile and deletedFolder")
    if header is None:
        raise HubError(400, "the commit body is empty: send an NDJSON header line first")
    return header, ops


# --------------------------------------------------------------------------- trees
class _Dir:
    """One folder being edited: a TreeBuilder over its old tree, and the subfolders touched."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree | None) -> None:
        self.repo = repo
        self.builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
        self.subdirs: dict[str, _Dir] = {}

    def child(self, name: str, *, create: bool, path: str) -> _Dir | None:
        if name in self.subdirs:
            return self.subdirs[name]
        entry = self.builder.get(name)
        if entry is None:
            if not create:
                return None
            node = _Dir(self.repo, None)
        elif entry.filemode == pygit2.GIT_FILEMODE_TREE:
            node = _Dir(self.repo, self.repo[entry.id].peel(pygit2.Tree))
        else:
            raise HubError(409, f"{path}: {name!r} is a file in the repository, not a folder")
        self.subdirs[name] = node
        return node

    def is_dir(self, name: str) -> bool:
        if name in self.subdirs:
            return True
        entry = self.builder.get(name)
        return entry is not None and entry.filemode == pygit2.GIT_FILEMODE_TREE

    def write(self) -> pygit2.Oid | None:
        """The new tree's id, or None when the folder ended up empty (git has no empty
        folders, so the parent drops it)."""
        for name, node in self.subdirs.items():
            oid = node.write()
            if oid is None:
                if self.builder.get(name) is not None:
                    self.builder.remove(name)
            else:
                self.builder.insert(name, oid, pygit2.GIT_FILEMODE_TREE)
        self.subdirs = {}
        if len(self.builder) == 0:
            return None
        return self.builder.write()


class TreeEditor:
    """Apply operations to a commit's tree (or to nothing, for a first commit)."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree | None) -> None:
        self.repo = repo
        self.root = _Dir(repo, tree)

    def _parent(self, path: str, *, create: bool) -> tuple[_Dir | None, str]:
        *folders, name = path.split("/")
        node: _Dir | None = self.root
        for folder in folders:
            assert node is not None
            node = node.child(folder, create=create, path=path)
            if node is None:
                return None, name
        return node, name

    def add(self, path: str, blob: pygit2.Oid, mode: int = pygit2.GIT_FILEMODE_BLOB) -> None:
        node, name = self._parent(path, create=True)
        assert node is not None
        if node.is_dir(name):
            raise HubError(409, f"{path} is a folder in the repository; delete it first")
        try:
            node.builder.insert(name, blob, mode)
        except (ValueError, pygit2.GitError) as exc:
            raise HubError(400, f"{path}: git refuses this path ({exc})") from None

    def delete_file(self, path: str) -> None:
        """A file, or a folder named without its trailing ``/``: the client sends
        ``CommitOperationDelete("folder")`` as a file deletion and the hubs delete the folder."""
        node, name = self._parent(path, create=False)
        if node is not None and node.is_dir(name):
            self.delete_folder(path)
            return
        entry = node.builder.get(name) if node is not None else None
        if node is None or entry is None:
            raise HubError(404, f"{path}: a file with this name doesn't exist", "EntryNotFound")
        node.builder.remove(name)

    def delete_folder(self, path: str) -> None:
        node, name = self._parent(path, create=False)
        if node is None or not node.is_dir(name):
            raise HubError(404, f"{path}: a folder with this name doesn't exist",
                           "EntryNotFound")
        node.subdirs.pop(name, None)
        if node.builder.get(name) is not None:
            node.builder.remove(name)

    def apply(self, ops: list[Operation]) -> None:
        for op in ops:
            if op.kind == "add":
                assert op.blob is not None
                self.add(op.path, op.blob)
            elif op.kind == "delete_file":
                self.delete_file(op.path)
            else:
                self.delete_folder(op.path)

    def write(self) -> pygit2.Oid:
        oid = self.root.write()
        if oid is None:  # everything deleted: the empty tree
            oid = self.repo.TreeBuilder().write()
        return oid


def _read_root_blob(repo: pygit2.Repository, tree: pygit2.Tree | None, name: str) -> bytes | None:
    entry = trees.lookup(tree, name)
    if entry is None or entry.filemode not in trees.FILE_MODES:
        return None
    return trees.read_blob(repo, entry.id)[: 1024 * 1024]


_ATTR_FLAGS = pygit2.enums.AttrCheck.INCLUDE_COMMIT | pygit2.enums.AttrCheck.NO_SYSTEM


def _lfs_untracked(repo: pygit2.Repository, commit: pygit2.Oid, paths: list[str]) -> list[str]:
    """The paths that the commit's ``.gitattributes`` files do not send through LFS."""
    return [p for p in paths if repo.get_attr(p, "filter", _ATTR_FLAGS, commit=commit) != "lfs"]


_GLOB_SPECIAL = re.compile(r"([*?\[\]\\!#])")


def _attributes_line(path: str) -> bytes:
    """A ``.gitattributes`` line tracking exactly ``path`` with LFS (anchored, escaped)."""
    pattern = "/" + _GLOB_SPECIAL.sub(r"\\\1", path)
    # Whitespace ends a pattern: git-lfs writes it as a character class, which git and
    # libgit2 both understand (quoted patterns are git-only).
    pattern = pattern.replace(" ", "[[:space:]]").replace("\t", "[[:space:]]")
    return f"{pattern} filter=lfs diff=lfs merge=lfs -text\n".encode()


# --------------------------------------------------------------------------- commit
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


def _signature(store: Store, user: str) -> pygit2.Signature:
    row = store.get_user(user) or {}
    name = (row.get("fullname") or "").strip() or user
    email = (row.get("email") or "").strip() or f"{user}@modelgit.invalid"
    return pygit2.Signature(name, email)


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
        if header.parent is not None or attempt == MAX_ATTEMPTS - 1:
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
        raise HubError(409, [
            f"modelgit: commit to {model_id} refused: parentCommit {header.parent} is not the"
            f" tip of {branch} (the tip is {old if tip is not None else 'nothing yet'}).",
            "modelgit: someone committed in between; fetch the new revision, re-apply your"
            " change and commit again."])
    editor = TreeEditor(repo, tip.tree if tip is not None else None)
    editor.apply(ops)
    tree = editor.write()
    signature = _signature(request.store, request.subject.user or "")
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
            raise HubError(409, [
                f"modelgit: commit to {model_id} refused: {branch} moved while the commit was"
                " being checked, so parentCommit is no longer its tip.",
                "modelgit: fetch the new revision, re-apply your change and commit again."])
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


def _tracked(check: Callable[[Push], list[str]], seen: list[str], failed: list[str]
             ) -> Callable[[Push], list[str]]:
    """The check as it is, noting that it ran (and whether it raised) so that the refusal's
    HTTP status can name what refused; ``run_checks`` still does all the handling."""

    @functools.wraps(check)
    def run(push: Push) -> list[str]:
        seen.append(check.__name__)
        try:
            return check(push)
        except Exception:
            failed.append(check.__name__)
            raise

    return run


def _check(request: CommitRequest, path: Path, folder: Path, updates: list[Any]) -> None:
    """THE pre-receive checks, on the quarantined commit, with git's quarantine variables."""
    from modelgit.hooks import pre_receive

    env = quarantine_env(path, folder)
    env["MODELGIT_KEY_SCOPE"] = request.subject.scope
    if request.subject.user:
        env["MODELGIT_USER"] = request.subject.user
    push = pre_receive.Push(cfg=request.cfg, store=request.store, model=request.model,
                            user=request.subject.user, role=None, updates=updates, repo=path,
                            env=env, scope=request.subject.scope, via="hub")
    seen: list[str] = []
    failed: list[str] = []
    lines = pre_receive.run_checks(push, [_tracked(c, seen, failed) for c in pre_receive.CHECKS])
    if not lines:
        return
    refused_by = seen[-1] if seen else ""
    status = 500 if failed else STATUS_BY_CHECK.get(refused_by, CONTENT_STATUS)
    request.store.audit("hub.commit.refused", actor=request.subject.user,
                        target=str(request.model["id"]), address=request.address,
                        detail={"check": refused_by, "ref": updates[0].ref})
    raise HubError(status, lines)


# --------------------------------------------------------------------------- preupload
@dataclass(frozen=True)
class UploadFile:
    path: str
    size: int
    sample: bytes


def _scratch_repo(root: str, attributes: bytes | None, ignore: bytes | None
                  ) -> pygit2.Repository:
    """A throwaway work tree holding only the root ``.gitattributes`` / ``.gitignore``, so
    that libgit2 answers with git's own matching rules."""
    repo = pygit2.init_repository(root, bare=False)
    if attributes:
        Path(root, ".gitattributes").write_bytes(attributes)
    if ignore:
        Path(root, ".gitignore").write_bytes(ignore)
    return repo


def existing_oid(repo: pygit2.Repository, tree: pygit2.Tree | None, path: str) -> str | None:
    """What the client compares with its local file to skip unchanged ones: the git blob id,
    or the sha256 for an LFS pointer."""
    entry = trees.lookup(tree, path)
    if entry is None or entry.filemode not in trees.FILE_MODES:
        return None
    pointer = trees.file_meta(repo, entry.id).pointer
    return pointer.oid if pointer is not None else str(entry.id)


def upload_modes(cfg: Config, repo_path: Path, branch: str, files: list[UploadFile],
                 gitignore: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The preupload answer: per file ``uploadMode`` (``lfs`` when the branch's root
    ``.gitattributes`` sends it through LFS, or a ``.gitattributes`` in this same upload
    does, or it is over the size threshold), ``shouldIgnore`` (the upload's ``.gitignore`` or
    the branch's) and ``oid`` (what is there now). Returns the list and the tip commit id.
    """
    threshold = lfs_threshold(cfg)
    repo = open_path(repo_path, {})
    tip = _tip(repo, f"refs/heads/{valid_branch(branch)}")
    tree = tip.tree if tip is not None else None
    attributes = _read_root_blob(repo, tree, ".gitattributes")
    for item in files:
        if item.path == ".gitattributes" and item.size <= len(item.sample):
            attributes = item.sample[: item.size]
    ignore = gitignore.encode("utf-8") if gitignore is not None else \
        _read_root_blob(repo, tree, ".gitignore")
    answers: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="modelgit-preupload-") as root:
        scratch = _scratch_repo(root, attributes, ignore)
        for item in files:
            lfs = item.size > threshold or scratch.get_attr(
                item.path, "filter", pygit2.enums.AttrCheck.NO_SYSTEM) == "lfs"
            ignored = bool(ignore) and item.path not in (".gitignore", ".gitattributes") \
                and scratch.path_is_ignored(item.path)
            answers.append({"path": item.path, "uploadMode": "lfs" if lfs else "regular",
                            "shouldIgnore": ignored,
                            "oid": existing_oid(repo, tree, item.path)})
    return answers, (str(tip.id) if tip is not None else None)


def parse_upload_files(body: Mapping[str, Any]) -> tuple[list[UploadFile], str | None]:
    """The preupload request ``{"files": [{"path", "sample", "size"}], "gitIgnore"?}``."""
    files = body.get("files")
    if not isinstance(files, list) or len(files) > MAX_PREUPLOAD_FILES:
        raise HubError(400, f"'files' must be a list of at most {MAX_PREUPLOAD_FILES} files")
    gitignore = body.get("gitIgnore")
    if gitignore is not None and not isinstance(gitignore, str):
        raise HubError(400, "'gitIgnore' must be a string")
    out: list[UploadFile] = []
    for item in files:
        if not isinstance(item, dict):
            raise HubError(400, "each file must be an object with path, sample and size")
        path = clean_path(item.get("path"))
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise HubError(400, f"{path}: size must be a non-negative integer")
        raw = item.get("sample", "")
        if not isinstance(raw, str) or len(raw) > 4096:
            raise HubError(400, f"{path}: sample must be base64 of at most 512 bytes")
        try:
            sample = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise HubError(400, f"{path}: sample is not valid base64") from None
        out.append(UploadFile(path, size, sample))
    return out, gitignore
