"""The checks every push passes before git moves a ref: all of them, or no ref moves.

A check is a function ``(Push) -> list[str]``: an empty list passes, otherwise the lines say
why the push is refused and what to do. Adding a check is adding a function to ``CHECKS``.
The same ``run_checks`` serves the git hook and the hub API's commit endpoint (one code path).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from modelgit import config as config_mod
from modelgit.authz.refs import ref_ruling
from modelgit.hooks.card import check_card_push
from modelgit.hooks.lfs import check_lfs_objects
from modelgit.hooks.scan import check_scans
from modelgit.quota import check_quota
from modelgit.services import access
from modelgit.store import Store, StoreUnavailable

log = logging.getLogger("modelgit.hooks")
ZERO = "0" * 40


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO

    @property
    def is_create(self) -> bool:
        return self.old == ZERO


@dataclass
class Push:
    """Everything a check may look at. ``env`` carries git's quarantine variables."""

    cfg: config_mod.Config
    store: Store
    model: dict[str, Any]
    user: str | None
    role: str | None
    updates: list[RefUpdate]
    repo: Path
    env: Mapping[str, str]
    scope: str = "write"
    #: How the pushed commits came: ``git`` push, or a ``hub`` API upload (the advice differs).
    via: Literal["git", "hub"] = "git"
    #: Checked in the running server (warm), where slow imports are already paid.
    warm: bool = False
    notes: dict[str, Any] = field(default_factory=dict)
    #: Lines shown to the pusher when every check passes (findings that do not refuse).
    warnings: list[str] = field(default_factory=list)

    def repository(self) -> Any:
        """The pushed repository opened with pygit2 through the quarantine, once per push
        (the checks that read objects share it instead of spawning git processes)."""
        if "repository" not in self.notes:
            from modelgit.git.repo import open_path

            self.notes["repository"] = open_path(self.repo, self.env)
        return self.notes["repository"]

    def git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """Run git on the pushed repository with the hook's environment (quarantine)."""
        return subprocess.run(["git", *args], cwd=self.repo, env=dict(self.env),
                              capture_output=True, check=False)


Check = Callable[[Push], list[str]]


def parse_updates(stdin: bytes) -> list[RefUpdate]:
    updates = []
    for raw in stdin.decode("utf-8", "replace").splitlines():
        parts = raw.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def check_pusher(push: Push) -> list[str]:
    """Defence in depth: the web server checked write access; check it again here."""
    mid = push.model["id"]
    if not push.user:
        return [f"modelgit: push to {mid} refused: no authenticated pusher.",
                "modelgit: push over HTTP with a modelgit key."]
    subject = access.subject_for(push.store, push.user, push.scope)
    model = access.facts(push.store, mid, push.user)
    if subject is None or model is None:
        return [f"modelgit: push to {mid} refused: unknown user {push.user!r}."]
    decision = access.check(subject, model, "write")
    push.role = decision.role
    if not decision.allowed:
        return [f"modelgit: push to {mid} refused: {decision.reason}"]
    return []


def check_ref_rules(push: Push) -> list[str]:
    """docs/access.md's ref rules (``authz.refs.ref_ruling``) for every pushed ref: the object
    each created or moved ref names is looked up here, through the quarantine."""
    out: list[str] = []
    mid = push.model["id"]
    repo = None
    for u in push.updates:
        new_type = peeled_type = None
        if not u.is_delete:
            if repo is None:
                repo = push.repository()
            new_type, peeled_type = object_types(repo, u.new)
        ruling = ref_ruling(
            ref=u.ref, role=push.role, model_id=mid,
            default_branch=str(push.model["default_branch"]), create=u.is_create,
            delete=u.is_delete, new_type=new_type, peeled_type=peeled_type,
            fast_forward=partial(_is_ancestor, push, u.old, u.new))
        if not ruling:
            out.append(f"modelgit: {ruling.reason}")
    return out


#: Annotated tags followed before giving up (git itself stops at a few thousand).
MAX_TAG_CHAIN = 64


def object_types(repo: Any, oid: str) -> tuple[str | None, str | None]:
    """(type of the object, type after following annotated tags); None where missing."""
    import pygit2

    try:
        obj = repo.get(oid)
        if obj is None:
            return None, None
        first = str(obj.type_str)
        for _ in range(MAX_TAG_CHAIN):
            if not isinstance(obj, pygit2.Tag):
                return first, str(obj.type_str)
            obj = repo.get(obj.target)
            if obj is None:
                return first, None
    except (ValueError, KeyError, pygit2.GitError):
        return None, None
    return first, None


def _is_ancestor(push: Push, old: str, new: str) -> bool:
    """``git merge-base --is-ancestor old new``, in process (a git process costs ~2 ms of
    every push); anything unreadable counts as not an ancestor (a force-push: fail closed)."""
    import pygit2

    if old == new:
        return True
    try:
        return bool(push.repository().descendant_of(new, old))
    except (ValueError, KeyError, pygit2.GitError):
        return False


CHECKS: list[Check] = [check_pusher, check_ref_rules, check_quota, check_card_push,
                       check_lfs_objects, check_scans]


def run_checks(push: Push, checks: list[Check] | None = None) -> list[str]:
    """Run the checks in order and stop at the first refusal; an exception refuses.

    Each check's time goes to the log, so a slow push can be explained without a profiler.
    """
    timings: list[str] = []
    for check in checks if checks is not None else CHECKS:
        started = time.perf_counter()
        try:
            lines = check(push)
            timings.append(f"{check.__name__} {1000 * (time.perf_counter() - started):.1f}ms")
        except StoreUnavailable as err:  # not a bug: the database went away (logged where met)
            return [f"modelgit: push to {push.model['id']} refused.", err.message]
        except Exception:
            log.exception("pre-receive check %s failed on %s", check.__name__, push.model["id"])
            return [f"modelgit: push to {push.model['id']} refused: an internal error happened"
                    f" in the {check.__name__} check (details in the server log);"
                    " nothing was changed. Try again or tell the site's administrator."]
        if lines:
            log.info("pre-receive %s: %s (refused)", push.model["id"], ", ".join(timings))
            return lines
    log.info("pre-receive %s: %s", push.model["id"], ", ".join(timings))
    return []


def main(data_dir: Path, model_id: str, stdin: bytes, env: dict[str, str],
         say: Callable[[list[str]], None], *, warm: bool = False) -> int:
    """The hook: 0 lets git move the refs, anything else refuses the whole push."""
    try:
        cfg = config_mod.load(data_dir)
        store = Store(cfg.store_target)
    except Exception:
        log.exception("pre-receive failed on %s", model_id)
        say([f"modelgit: push to {model_id} refused: an internal error happened (details in"
             " the server log); nothing was changed."])
        return 1
    return handle(cfg, store, model_id, stdin, env, say, warm=warm)


def handle(cfg: config_mod.Config, store: Store, model_id: str, stdin: bytes,
           env: dict[str, str], say: Callable[[list[str]], None], *, warm: bool = False) -> int:
    """The hook with the configuration and store at hand (the server keeps them open)."""
    warnings: list[str] = []
    try:
        model = store.get_model(model_id)
        if model is None:
            say([f"modelgit: {model_id} is not a model of this server; push refused."])
            return 1
        push = Push(cfg=cfg, store=store, model=model,
                    user=env.get("MODELGIT_USER") or env.get("REMOTE_USER") or None,
                    role=None, updates=parse_updates(stdin),
                    repo=Path(env.get("GIT_DIR", ".")).resolve(), env=env,
                    scope=env.get("MODELGIT_KEY_SCOPE", "write"), warm=warm)
        lines = run_checks(push)
        warnings = push.warnings
    except StoreUnavailable as err:
        lines = [f"modelgit: push to {model_id} refused.", err.message]
    except Exception:
        log.exception("pre-receive failed on %s", model_id)
        lines = [f"modelgit: push to {model_id} refused: an internal error happened (details in"
                 " the server log); nothing was changed."]
    if lines:
        say(lines)
        return 1
    if warnings:
        say(warnings)
    return 0
