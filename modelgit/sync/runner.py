"""One attempt at one sync task: preflight, send the LFS objects the target lacks, push.

The steps run in that order so nobody on the target can clone a pointer whose object is
missing. Only objects linked to the source model are sent, so a pointer to another model's
object cannot leak its bytes. Progress goes to the caller and, at most once a second, to the
store (where ``sync list`` shows it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelgit.errors import Refused
from modelgit.sync.failure import SyncFailure, one_line
from modelgit.sync.gitpush import git_env, push_failure
from modelgit.sync.regions import Region, get_region, read_key
from modelgit.sync.wire import LFS_MEDIA_TYPE, Target

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store

#: Objects per batch request (git-lfs sends 100; the server takes up to 1000).
BATCH_SIZE = 100
#: Progress is written to the store at most this often (the list shows it; a row per MiB
#: would make the database the bottleneck).
STORE_PROGRESS_SECONDS = 1.0

#: ``progress(state)``: ``state`` has ``phase`` (``preflight|lfs|push|done``),
#: ``objects_sent``, ``objects_total``, ``bytes_sent``, ``bytes_total``.
Progress = Callable[[dict[str, Any]], None]


class Lost(Exception):
    """The task was taken from this runner (declared stale and retried elsewhere)."""


class Runner:
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
            raise Lost

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
        target = Target(region, self.key)
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

    def preflight(self, target: Target, model_id: str) -> None:
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

    def send_objects(self, target: Target, model_id: str,
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
                    message = one_line(str(entry["error"].get("message") or "refused"))
                    raise SyncFailure(f"region {name} refused LFS object {oid[:12]}"
                                      f" ({objects[oid][1]}): {message}")
                actions = entry.get("actions") or {}
                if "upload" not in actions:
                    continue  # the target has it: nothing to send (what makes retry cheap)
                self._upload(target, storage, oid, objects[oid][0], actions)

    def _upload(self, target: Target, storage: Any, oid: str, size: int,
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
            raise push_failure(region.name, proc.stderr.decode("utf-8", "replace"),
                               proc.stdout.decode("utf-8", "replace"))
