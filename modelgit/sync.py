"""Model sync: replicate a branch, tag or commit with its LFS objects to another region.

A *region* is another modelgit site in ``config.yaml`` (``regions: {name: {url, key_file}}``).
A task asks the target whether its key may push (preflight), sends the LFS objects the target
lacks, then pushes the commit, so nobody there can clone a pointer whose object is missing.
Tasks are rows of the store's task table (:mod:`modelgit.tasks`), so any front end's worker
may run one. The region key lives only in memory and git's environment: never in the
database, a log, an error message or a command line. Only objects linked to the source model
are sent, so a pointer to another model's object cannot leak its bytes.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from modelgit.errors import Refused

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store

log = logging.getLogger("modelgit.sync")

#: Piece size of an LFS upload: the only object memory a transfer holds.
CHUNK = 1 << 20
#: Objects per batch request (git-lfs sends 100; the server takes up to 1000).
BATCH_SIZE = 100
#: Progress is written to the store at most this often (the list shows it; a row per MiB
#: would make the database the bottleneck).
STORE_PROGRESS_SECONDS = 1.0
CONNECT_TIMEOUT = 15.0
IO_TIMEOUT = 300.0
#: Longest error text kept (one line).
MAX_ERROR = 600

LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
_ZERO = re.compile(r"^0+$")
#: Environment variables never passed on to the ``git push`` child: other config injected
#: through the environment (ours replaces it), and tracing that could print headers.
_DROP_ENV_PREFIXES = ("GIT_CONFIG_", "GIT_TRACE")
_DROP_ENV = frozenset({"GIT_ASKPASS", "SSH_ASKPASS", "GIT_DIR", "GIT_WORK_TREE",
                       "GIT_INDEX_FILE", "GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY",
                       "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CURL_VERBOSE",
                       "GIT_CONFIG_PARAMETERS", "GIT_NAMESPACE"})

#: ``progress(state)``: ``state`` has ``phase`` (``preflight|lfs|push|done``),
#: ``objects_sent``, ``objects_total``, ``bytes_sent``, ``bytes_total``.
Progress = Callable[[dict[str, Any]], None]


class SyncFailure(Exception):
    """Why a task failed, in one line a person can act on (it becomes the task's error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Lost(Exception):
    """The task was taken from this runner (declared stale and retried elsewhere)."""


# --------------------------------------------------------------------------- regions
@dataclass(frozen=True)
class Region:
    name: str
    url: str
    key_file: Path


def _region_settings(cfg: Config) -> dict[str, Any]:
    """Regions from ``config.yaml`` as it is now (a region added while ``modelgit serve``
    runs works without a restart), over the ones the process started with."""
    from modelgit import config as config_mod

    merged = dict(cfg.settings.get("regions") or {})
    try:
        merged.update(config_mod.load(cfg.data_dir).settings.get("regions") or {})
    except (OSError, ValueError) as exc:
        log.warning("could not re-read config.yaml for regions: %s", exc)
    return merged


def region_names(cfg: Config) -> list[str]:
    return sorted(_region_settings(cfg))


def get_region(cfg: Config, name: str) -> Region:
    """The named region, checked; ``Refused`` with the config to write when it is unusable."""
    regions = _region_settings(cfg)
    entry = regions.get(name)
    where = cfg.data_dir / "config.yaml"
    if not isinstance(entry, dict):
        known = ", ".join(sorted(regions)) or "none"
        raise Refused(f"unknown region {name!r} (configured: {known})",
                      hint=f"name it under `regions:` in {where} with its url and key_file")
    url = str(entry.get("url") or "").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or parts.password or parts.query or parts.fragment:
        raise Refused(f"region {name}: url {url!r} is not an http(s) base URL without"
                      " credentials", hint=f"fix regions.{name}.url in {where}")
    key_file = entry.get("key_file")
    if not key_file:
        raise Refused(f"region {name} has no key_file",
                      hint=f"set regions.{name}.key_file in {where} to a file holding a write"
                           " key of a user on that site")
    return Region(name=name, url=url, key_file=Path(str(key_file)).expanduser())


def read_key(region: Region) -> str:
    """The region's key, read now (it may have been rotated since the task was queued).
    Messages name the file, never its content."""
    from modelgit.authz.keys import looks_like_key

    try:
        key = region.key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SyncFailure(f"cannot read the key file of region {region.name}"
                          f" ({region.key_file}): {reason}") from None
    if not looks_like_key(key):
        raise SyncFailure(f"the key file of region {region.name} ({region.key_file}) does not"
                          " hold a modelgit key (mg_ and 40 letters or digits)")
    return key


# --------------------------------------------------------------------------- source repository
def _check_ref_name(ref: str) -> str:
    """A full branch or tag name that git accepts (``refs/heads/...`` or ``refs/tags/...``)."""
    import pygit2

    if not (ref.startswith("refs/heads/") or ref.startswith("refs/tags/")):
        raise Refused(f"{ref}: only branches (refs/heads/) and tags (refs/tags/) can be synced")
    if ref.startswith(("refs/heads/-", "refs/tags/-")) or not pygit2.reference_is_valid_name(ref):
        raise Refused(f"{ref!r} is not a valid git ref name")
    return ref


def resolve(cfg: Config, model: dict[str, Any], *, ref: str | None = None,
            commit: str | None = None) -> tuple[str, str]:
    """``(ref on the target, commit)`` of what a new task will send.

    ``--ref NAME``: the branch or tag of that name (a branch wins, as in git), or a full
    ``refs/...``; ``--commit SHA``: that commit, to ``refs/heads/sync/<sha>`` or to the ref
    given with it; neither: the default branch. Resolved when the task is made, so the task
    names the exact commit, and a moving branch does not change what a retry sends.
    """
    from modelgit.git import revisions
    from modelgit.git.errors import RepositoryNotFound, RevisionNotFound
    from modelgit.git.repo import open_model

    try:
        repo = open_model(cfg, model["id"])
    except RepositoryNotFound:
        raise Refused(f"the repository of {model['id']} is missing on disk") from None
    for value, what in ((ref, "--ref"), (commit, "--commit")):
        if value is not None and (not value or value.startswith("-") or "\n" in value):
            raise Refused(f"{what}: invalid value {value!r}")
    if commit is not None:
        if not revisions.is_commit_id(commit.lower()):
            raise Refused(f"--commit: {commit!r} is not a commit id (hexadecimal)")
        found = revisions.by_id(repo, commit.lower())
        if found is None:
            raise Refused(f"commit {commit} is not in {model['id']}",
                          hint="push it here first, or give a full commit id")
        sha = str(found.id)
        if ref is None:
            return f"refs/heads/sync/{sha}", sha
        full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        return _check_ref_name(full), sha
    name = ref or model.get("default_branch") or "main"
    if name.startswith("refs/"):
        _check_ref_name(name)
    try:
        full_name, tip = revisions.find(repo, name)
    except RevisionNotFound:
        full_name = None
    if full_name is None:  # nothing, or a commit id: --ref names branches and tags only
        raise Refused(f"no branch or tag {name!r} in {model['id']}",
                      hint="see its refs with `git ls-remote` on its clone URL")
    return _check_ref_name(full_name), str(tip.id)


# --------------------------------------------------------------------------- HTTP to the target
@dataclass
class _Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def message(self) -> str:
        """The target's own words: an LFS/JSON ``message`` or a text body, as one line."""
        text = self.body[:4096].decode("utf-8", "replace")
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                value = json.loads(text)
                if isinstance(value, dict) and value.get("message"):
                    return _one_line(str(value["message"]))
            except ValueError:
                pass
        return _one_line(text) or f"HTTP {self.status}"


class _Target:
    """HTTP to one region: plain ``http.client`` (no extra dependency), a new connection
    per request, the key only in the ``Authorization`` header of calls that need it."""

    def __init__(self, region: Region, key: str) -> None:
        self.region = region
        self._key = key

    def url(self, model_id: str, suffix: str) -> str:
        return f"{self.region.url}/{model_id}.git{suffix}"

    def _connect(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SyncFailure(f"region {self.region.name} sent an unusable URL")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port,
                                               timeout=CONNECT_TIMEOUT,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                              timeout=CONNECT_TIMEOUT)
        return conn, path

    def _unreachable(self, exc: BaseException) -> SyncFailure:
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                  else str(exc) or type(exc).__name__)
        return SyncFailure(f"region {self.region.name} ({self.region.url}) is unreachable:"
                           f" {reason}; is its modelgit serve running?")

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None, auth: bool = True,
                limit: int = 1 << 20) -> _Answer:
        conn, path = self._connect(url)
        hdrs = dict(headers or {})
        if auth:
            hdrs["Authorization"] = f"Bearer {self._key}"
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(IO_TIMEOUT)
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return _Answer(resp.status, resp.headers, resp.read(limit))
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()

    def put_stream(self, url: str, headers: dict[str, str], stream: Any, size: int,
                   sent: Callable[[int], None]) -> _Answer:
        """PUT ``size`` bytes read from ``stream`` in :data:`CHUNK` pieces."""
        conn, path = self._connect(url)
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(IO_TIMEOUT)
            conn.putrequest("PUT", path, skip_accept_encoding=True)
            for name, value in {**headers, "Content-Type": "application/octet-stream",
                                "Content-Length": str(size)}.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                while True:
                    data = stream.read(CHUNK)
                    if not data:
                        break
                    conn.send(data)
                    sent(len(data))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (a refusal): read what it said
            resp = conn.getresponse()
            return _Answer(resp.status, resp.headers, resp.read(1 << 16))
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()


# --------------------------------------------------------------------------- running a task
def new_worker_token() -> str:
    """A claim token (``modelgit.tasks.new_token``)."""
    from modelgit.tasks import new_token

    return new_token()


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[:MAX_ERROR - 1] + "…"


def _scrub(text: str, key: str | None) -> str:
    """Belt and braces: no message that leaves this module may carry the key."""
    return text.replace(key, "[region key]") if key else text


def git_env(key: str) -> dict[str, str]:
    """The environment of ``git push``: the key as an ``http.extraHeader`` given through
    ``GIT_CONFIG_*`` variables (never argv, so ``ps`` cannot show it), the credential
    helpers emptied (nothing may store or replace it), no prompts, no tracing."""
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP_ENV and not k.startswith(_DROP_ENV_PREFIXES)}
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {key}",
        "GIT_CONFIG_KEY_1": "credential.helper",
        "GIT_CONFIG_VALUE_1": "",
    })
    return env


def _push_failure(region: str, stderr: str, stdout: str) -> SyncFailure:
    """The target's refusal as one line: its ``remote:`` lines (what its hooks or its
    ``decide()`` said), else git's rejection or error."""
    progress = re.compile(r"^(Resolving deltas|Counting|Compressing|Writing|Total|"
                          r"Enumerating|Delta compression|Unpacking)\b")
    remote = []
    for line in stderr.splitlines():
        if line.startswith("remote: "):
            text = line[len("remote: "):].strip()
            if text and not progress.match(text):
                remote.append(text)
    if remote:
        return SyncFailure(f"region {region} refused the push: {_one_line(' '.join(remote))}")
    rejected = [line.split("\t")[-1] for line in stdout.splitlines() if line.startswith("!")]
    if rejected:
        return SyncFailure(f"region {region} rejected the push: {_one_line(' '.join(rejected))}")
    errors = [line for line in stderr.splitlines()
              if line.startswith(("fatal:", "error:"))] or stderr.splitlines()[-1:]
    return SyncFailure(f"git push to region {region} failed: {_one_line(' '.join(errors))}")


class _Runner:
    """One attempt at one task, owned through the claim token ``worker``."""

    def __init__(self, cfg: Config, store: Store, task: dict[str, Any], worker: str,
                 progress: Progress | None) -> None:
        self.cfg = cfg
        self.store = store
        self.task = task
        self.worker = worker
        self.progress = progress
        self.key: str | None = None
        self.state: dict[str, Any] = {"phase": "preflight", "objects_sent": 0,
                                      "objects_total": None, "bytes_sent": 0,
                                      "bytes_total": None}
        self._saved_at = 0.0

    # -- progress --------------------------------------------------------------------
    def _report(self, *, force: bool = False) -> None:
        if self.progress is not None:
            self.progress(dict(self.state))
        now = time.monotonic()
        if force or now - self._saved_at >= STORE_PROGRESS_SECONDS:
            self._saved_at = now
            self._save(objects_sent=self.state["objects_sent"],
                       bytes_sent=self.state["bytes_sent"],
                       objects_total=self.state["objects_total"],
                       bytes_total=self.state["bytes_total"])

    def _save(self, **values: Any) -> None:
        if not self.store.update_task(self.task["id"], self.worker, **values):
            raise _Lost

    def _phase(self, phase: str) -> None:
        self.state["phase"] = phase
        self._report(force=True)

    # -- the steps -------------------------------------------------------------------
    def run(self) -> None:
        from modelgit.git import revisions, trees
        from modelgit.git.paths import repo_path
        from modelgit.git.repo import open_path

        task = self.task
        model_id = task["model"]
        if self.store.get_model(model_id) is None:
            raise SyncFailure(f"model {model_id} no longer exists here")
        try:
            region = get_region(self.cfg, task["region"])
        except Refused as exc:
            raise SyncFailure(exc.message) from None
        self.key = read_key(region)
        target = _Target(region, self.key)
        self._phase("preflight")
        self.preflight(target, model_id)
        repo = repo_path(self.cfg, model_id)
        source = open_path(repo, {})
        found = revisions.peel_commit(source, task["commit_sha"])
        if found is None:
            raise SyncFailure(f"commit {task['commit_sha'][:12]} is no longer in {model_id}")
        objects = trees.lfs_pointers(source, found.tree)
        self.state["objects_total"] = len(objects)
        self.state["bytes_total"] = sum(size for size, _ in objects.values())
        self._phase("lfs")
        self.send_objects(target, model_id, objects)
        self._phase("push")
        self.push(region, repo, model_id)
        self._phase("done")

    def preflight(self, target: _Target, model_id: str) -> None:
        """Ask the target whether this key may push to this model (its ``decide()``): a
        missing model (404), a refused key (401) or a user without write rights (403) fails
        the task before a byte is sent."""
        name = target.region.name
        answer = target.request("GET", target.url(model_id, "/info/refs?service=git-receive-pack"),
                                limit=1 << 16)
        if answer.status == 200:
            return
        said = answer.message()
        if answer.status == 404:
            raise SyncFailure(
                f"model {model_id} does not exist on region {name} (or the region key's user"
                f" cannot see it): create it there first (`modelgit model create {model_id}"
                " --owner USER` on that site) and give the key's user developer rights on it")
        if answer.status == 401:
            raise SyncFailure(f"region {name} does not accept the key in {target.region.key_file}"
                              f" (wrong, expired or revoked): {said}")
        raise SyncFailure(f"region {name} refused: {said}")

    def send_objects(self, target: _Target, model_id: str,
                     objects: dict[str, tuple[int, str]]) -> None:
        """Upload what the target lacks, batch by batch, each object verified.

        The objects are the pointers in the commit's tree (not its history); the target's
        batch API answers those it has without actions, so a retry resends nothing twice.
        Bodies are streamed in 1 MiB pieces, so memory stays flat in object size."""
        from modelgit.lfs.storage import storage_for

        storage = storage_for(self.cfg)
        oids = sorted(objects)
        linked = self.store.linked_sizes(model_id, oids)
        for oid in oids:
            size, path = objects[oid]
            if linked.get(oid) != size or storage.get_size(oid) != size:
                raise SyncFailure(
                    f"LFS object {oid[:12]} ({path}, {size} bytes) is not stored for {model_id}"
                    " on this site, so it cannot be sent; push it here first"
                    " (`git lfs push --all origin`)")
        self._report(force=True)
        name = target.region.name
        for i in range(0, len(oids), BATCH_SIZE):
            part = oids[i:i + BATCH_SIZE]
            body = json.dumps({
                "operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                "ref": {"name": self.task["ref"]},
                "objects": [{"oid": oid, "size": objects[oid][0]} for oid in part],
            }).encode()
            answer = target.request(
                "POST", target.url(model_id, "/info/lfs/objects/batch"), body=body,
                headers={"Accept": LFS_MEDIA_TYPE, "Content-Type": LFS_MEDIA_TYPE})
            if answer.status != 200:
                raise SyncFailure(f"region {name} refused the LFS upload: {answer.message()}")
            try:
                result = json.loads(answer.body)
                entries = {o["oid"]: o for o in result["objects"]}
            except (ValueError, KeyError, TypeError):
                raise SyncFailure(f"region {name} sent an unreadable LFS batch answer") from None
            for oid in part:
                entry = entries.get(oid)
                if entry is None:
                    raise SyncFailure(f"region {name} did not answer for LFS object {oid[:12]}")
                if entry.get("error"):
                    message = _one_line(str(entry["error"].get("message") or "refused"))
                    raise SyncFailure(f"region {name} refused LFS object {oid[:12]}"
                                      f" ({objects[oid][1]}): {message}")
                actions = entry.get("actions") or {}
                if "upload" not in actions:
                    continue  # the target has it: nothing to send (what makes retry cheap)
                self._upload(target, storage, oid, objects[oid][0], actions)

    def _upload(self, target: _Target, storage: Any, oid: str, size: int,
                actions: dict[str, Any]) -> None:
        name = target.region.name
        upload = actions["upload"]

        def sent(n: int) -> None:
            self.state["bytes_sent"] += n
            self._report()

        with storage.open(oid) as handle:
            answer = target.put_stream(str(upload["href"]), dict(upload.get("header") or {}),
                                       handle, size, sent)
        if answer.status not in (200, 201):
            raise SyncFailure(f"region {name} refused LFS object {oid[:12]}: {answer.message()}")
        verify = actions.get("verify")
        if verify:
            answer = target.request(
                "POST", str(verify["href"]), auth=False,
                body=json.dumps({"oid": oid, "size": size}).encode(),
                headers={**dict(verify.get("header") or {}), "Accept": LFS_MEDIA_TYPE,
                         "Content-Type": LFS_MEDIA_TYPE})
            if answer.status != 200:
                raise SyncFailure(f"region {name} could not verify LFS object {oid[:12]}:"
                                  f" {answer.message()}")
        self.state["objects_sent"] += 1
        self._report(force=True)

    def push(self, region: Region, repo: Path, model_id: str) -> None:
        """``git push`` the commit; a tag is pushed as itself (annotated tags keep their
        object), if it still names the task's commit, and a bare commit goes to
        ``refs/heads/sync/<sha>``. The target's pre-receive checks apply as to any push."""
        ref = self.task["ref"]
        commit = self.task["commit_sha"]
        source = commit
        if ref.startswith("refs/tags/"):
            from modelgit.git import revisions
            from modelgit.git.repo import open_path

            tip = revisions.ref_commit(open_path(repo, {}), ref)
            if tip is None or str(tip.id) != commit:
                raise SyncFailure(f"{ref} no longer names {commit[:12]} here; start a new sync")
            source = ref
        assert self.key is not None
        url = f"{region.url}/{model_id}.git"
        # argv holds no secret: the key reaches git through its environment only
        from modelgit.git import commands

        proc = commands.run(repo, "push", "--porcelain", "--quiet", "--no-verify", url,
                            f"{source}:{ref}", env=git_env(self.key), timeout=24 * 3600)
        if proc.returncode != 0:
            raise _push_failure(region.name, proc.stderr.decode("utf-8", "replace"),
                                proc.stdout.decode("utf-8", "replace"))


def run_task(cfg: Config, store: Store, task_id: int, progress: Progress | None = None, *,
             worker: str | None = None) -> dict[str, Any]:
    """Run one task to ``done`` or ``failed`` in this process and return its row.

    A ``queued`` task is claimed first (atomically: if another worker got it, ``Refused``);
    a ``running`` one only with its claim token ``worker`` (as ``sync start --wait`` passes
    it). The lease is renewed while it runs. Failures are recorded, not raised.
    """
    from modelgit import tasks

    task = store.get_task(task_id, "sync")
    if task is None:
        raise Refused(f"no sync task {task_id}", hint="see `modelgit sync list`", status=404)
    if task["status"] == "queued" and worker is None:
        worker = new_worker_token()
        claimed = store.claim_task(worker, tasks.LEASE_SECONDS, task_id=task_id)
        if claimed is None:
            raise Refused(f"sync task {task_id} was just claimed by another worker")
        task = claimed
    elif task["status"] != "running" or worker is None or task["worker"] != worker:
        raise Refused(f"sync task {task_id} is {task['status']}"
                      + (" elsewhere" if task["status"] == "running" else ""),
                      hint=f"`modelgit sync retry {task_id}` re-runs a failed task")
    lease = tasks.Lease(_own_store(store), task_id, worker)
    lease.start()
    try:
        _attempt(cfg, store, task, worker, progress)
    except tasks.LeaseLost:
        pass
    finally:
        lease.stop()
    return task_view(store.get_task(task_id) or task)


def run_claimed(cfg: Config, store: Store, task: dict[str, Any], lease: Any) -> None:
    """The task worker's handler (``modelgit.tasks``): one attempt, its outcome recorded."""
    _attempt(cfg, store, task, str(task["worker"]), None)


def _own_store(store: Store) -> Store:
    from modelgit.store import Store as StoreClass

    return StoreClass(store.path)


def _attempt(cfg: Config, store: Store, task: dict[str, Any], worker: str,
             progress: Progress | None) -> None:
    """Run the claimed task; record ``done`` or ``failed`` (fenced by ``worker``) and audit
    it. ``LeaseLost`` when another worker took the task over meanwhile."""
    from modelgit.store import now_iso
    from modelgit.tasks import LeaseLost

    task_id = int(task["id"])
    runner = _Runner(cfg, store, task, worker, progress)
    outcome = "failed"
    try:
        runner.run()
        outcome = "done"
        if not store.update_task(task_id, worker, status="done", finished=now_iso(),
                                 error=None, objects_sent=runner.state["objects_sent"],
                                 bytes_sent=runner.state["bytes_sent"]):
            raise _Lost
        store.record_replica(task["model"], task["region"], task["ref"],
                             task["commit_sha"], task_id)
    except _Lost:
        log.warning("sync task %s was taken over by another worker; this attempt stops",
                    task_id)
        raise LeaseLost from None
    except SyncFailure as exc:
        _fail(store, task_id, worker, _scrub(exc.message, runner.key), runner)
    except KeyboardInterrupt:
        # Ctrl-C on `sync --wait`: retryable now, not when the lease runs out.
        _fail(store, task_id, worker, f"interrupted; `modelgit sync retry {task_id}` runs"
                                      " it again", runner)
        raise
    except Exception as exc:
        import traceback

        # The traceback is formatted here so that it is scrubbed like every message.
        log.error("sync task %s failed unexpectedly:\n%s", task_id,
                  _scrub(traceback.format_exc(), runner.key))
        _fail(store, task_id, worker,
              _scrub(f"internal error: {type(exc).__name__}: {_one_line(str(exc))}"
                     " (details in the log)", runner.key), runner)
    row = store.get_task(task_id) or task
    store.audit(f"sync.{outcome if row['status'] == 'done' else 'failed'}", actor="sync",
                target=task["model"],
                detail={"task": task_id, "region": task["region"], "ref": task["ref"],
                        "commit": task["commit_sha"], "objects_sent": row["objects_sent"],
                        "bytes_sent": row["bytes_sent"], "error": row["error"]})
    if row["status"] == "done":
        log.info("sync task %s: done, %s of %s LFS objects sent (%s bytes)", task_id,
                 row["objects_sent"], row["objects_total"], row["bytes_sent"])
    else:
        log.warning("sync task %s: %s: %s", task_id, row["status"], row["error"])


def _fail(store: Store, task_id: int, worker: str, message: str, runner: _Runner) -> None:
    from modelgit.store import now_iso

    store.update_task(task_id, worker, status="failed", finished=now_iso(),
                      error=_one_line(message),
                      objects_sent=runner.state["objects_sent"],
                      bytes_sent=runner.state["bytes_sent"],
                      objects_total=runner.state["objects_total"],
                      bytes_total=runner.state["bytes_total"])


# --------------------------------------------------------------------------- tasks (API)
def create_task(cfg: Config, store: Store, model_id: str, region: str, *,
                ref: str | None = None, commit: str | None = None,
                worker: str | None = None) -> int:
    """Check the model, region and revision now (a mistake is an immediate error, not a
    failed task later) and add the task: queued, or claimed by ``worker`` for a foreground
    run."""
    from modelgit.tasks import LEASE_SECONDS

    model = store.get_model(model_id)
    if model is None:
        raise Refused(f"unknown model {model_id!r}", hint="see `modelgit model list`",
                      status=404)
    get_region(cfg, region)
    full_ref, sha = resolve(cfg, model, ref=ref, commit=commit)
    return store.add_task("sync", model_id, full_ref, sha, region=region, worker=worker,
                          lease_seconds=LEASE_SECONDS)


def retry_task(store: Store, task_id: int, *, worker: str | None = None) -> None:
    """Queue a failed (or abandoned) task again, or claim it for ``worker`` (foreground)."""
    from modelgit.tasks import LEASE_SECONDS

    task = store.get_task(task_id, "sync")
    if task is None:
        raise Refused(f"no sync task {task_id}", hint="see `modelgit sync list`", status=404)
    if not store.requeue_task(task_id, worker=worker, lease_seconds=LEASE_SECONDS, kind="sync"):
        status = task["status"]
        hint = {"done": "it succeeded; `modelgit sync start` sends newer commits",
                "queued": "it is waiting for `modelgit serve`'s worker",
                "running": "it is running (its worker renews its lease; a worker that"
                           f" stopped loses it within {LEASE_SECONDS:.0f} s)"
                }.get(status, "look at it with `modelgit sync list`")
        raise Refused(f"sync task {task_id} is {status}; only failed or interrupted tasks"
                      " can be retried", hint=hint)


def task_view(row: dict[str, Any]) -> dict[str, Any]:
    """A task as people and scripts see it (the claim token and lease stay inside)."""
    return {"id": row["id"], "model": row["model"], "region": row["region"],
            "ref": row["ref"], "commit": row["commit_sha"], "status": row["status"],
            "objects_sent": row["objects_sent"], "objects_total": row["objects_total"],
            "bytes_sent": row["bytes_sent"], "bytes_total": row["bytes_total"],
            "attempts": row["attempts"], "created": row["created"], "started": row["started"],
            "finished": row["finished"], "error": row["error"]}


def list_tasks(store: Store, model_id: str | None = None, limit: int = 200
               ) -> list[dict[str, Any]]:
    """Tasks newest first."""
    return [task_view(r) for r in store.list_tasks("sync", model_id, limit=limit)]


def replicas(store: Store, model_id: str) -> list[dict[str, Any]]:
    """Where the model is replicated: region, ref, commit and time of the last success
    (for ``model show``)."""
    return [{"region": r["region"], "ref": r["ref"], "commit": r["commit_sha"],
             "synced": r["synced"], "task": r["task"]}
            for r in store.list_replicas(model_id)]
