"""Space quotas: how much a space uses, and the pre-receive check that keeps it under quota.

A space's usage is what its models cost the site: the apparent size of each model's bare
repository on disk (objects, packs, refs, hooks: what a backup copies) plus the LFS bytes
linked to each model. An LFS object linked to two models counts for both, because each
model could be moved, replicated or deleted on its own; the bytes are stored once on disk,
so the site's real LFS usage may be lower than the sum of its spaces.

Quotas are enforced where bytes arrive: the LFS batch API refuses uploads per object (HTTP
layer), and :func:`check_quota` refuses git pushes whose quarantined objects would carry the
space past its quota. Both say "space quota exceeded: used X of Y" and what to do next.
Nothing here is cached: a second front end sees the same numbers (docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from modelgit.config import Config
from modelgit.git.paths import repo_path
from modelgit.store import Store


class PushView(Protocol):
    """What the quota check reads of a push (the hook's ``Push`` has it), so this module
    does not import the hooks that call it."""

    @property
    def cfg(self) -> Config: ...
    @property
    def store(self) -> Store: ...
    @property
    def model(self) -> dict[str, Any]: ...
    @property
    def env(self) -> Mapping[str, str]: ...


def dir_size(path: Path | str, skip: Path | None = None) -> int:
    """Apparent size in bytes of the regular files under ``path`` (0 if it does not exist).

    Symlinks are not followed (a link out of the repository must not count someone else's
    disk), and files that vanish while walking (``git gc`` repacking at the same time) are
    skipped instead of failing the push. ``skip`` names one folder to leave out: the push's
    own quarantine, which lives inside the repository and is counted separately.
    """
    total = 0
    stack = [str(path)]
    skip_str = str(skip) if skip is not None else None
    while stack:
        folder = stack.pop()
        if skip_str is not None and folder == skip_str:
            continue
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
    return total


def _model_git_bytes(cfg: Config, model_id: str, skip: Path | None) -> int:
    try:
        path = repo_path(cfg, model_id)
    except ValueError:  # a name the rules refuse cannot have a repository under repos/
        return 0
    return dir_size(path, skip)


def space_usage(cfg: Config, store: Store, space: str, *, skip: Path | None = None
                ) -> dict[str, Any]:
    """What a space uses, per model and per model owner ("personal model size").

    Returns ``{"space", "quota", "total", "git", "lfs", "xet", "models": [{"id", "owner",
    "git", "lfs", "xet", "total"}], "users": [{"user", "models", "total"}]}``, sizes in
    bytes, ``quota`` None when the space has none. ``skip`` leaves one folder out of the git
    sizes (see :func:`check_quota`). Raises ``KeyError`` for an unknown space.

    ``xet`` is what Xet uploads store besides the LFS objects rebuilt from them: the xorbs
    the models link. Xet deduplicates by chunk, and the count follows what is stored: a xorb
    is counted once in the space's total however many of its models use it (each model's
    own ``xet`` counts it, so the models' totals may add up to more than the space's).
    """
    row = store.get_space(space)
    if row is None:
        raise KeyError(space)
    resolved_skip = skip.resolve() if skip is not None else None
    models: list[dict[str, Any]] = []
    for model in store.list_models():
        if model["space"] != space:
            continue
        git_bytes = _model_git_bytes(cfg, model["id"], resolved_skip)
        lfs_bytes = store.lfs_bytes(model_id=model["id"])
        xet_bytes = store.model_xorb_bytes(model["id"])
        models.append({"id": model["id"], "owner": model["owner"], "git": git_bytes,
                       "lfs": lfs_bytes, "xet": xet_bytes,
                       "total": git_bytes + lfs_bytes + xet_bytes})
    users: dict[str, dict[str, Any]] = {}
    for model in models:
        share = users.setdefault(model["owner"], {"user": model["owner"], "models": 0,
                                                  "total": 0})
        share["models"] += 1
        share["total"] += model["total"]
    git_total = sum(m["git"] for m in models)
    lfs_total = sum(m["lfs"] for m in models)
    xet_total = store.space_xorb_bytes(space) if models else 0
    return {
        "space": space,
        "quota": row["quota_bytes"],
        "total": git_total + lfs_total + xet_total,
        "git": git_total,
        "lfs": lfs_total,
        "xet": xet_total,
        "models": models,
        "users": sorted(users.values(), key=lambda u: (-u["total"], u["user"])),
    }


def format_bytes(n: int | None) -> str:
    """Sizes in messages, in the CLI's units (decimal, like ``--quota 10GB``)."""
    from modelgit.units import human_size

    return human_size(n)


def exceeded_message(used: int, quota: int) -> str:
    """The one wording for a refusal, shared by the LFS batch API and pre-receive."""
    return f"space quota exceeded: used {format_bytes(used)} of {format_bytes(quota)}"


def quota_hint(space: str) -> str:
    """What to do about a full space (said in both refusals)."""
    return (f"ask an owner of space {space} to raise its quota (`modelgit space set {space}"
            " --quota SIZE`), or delete models the space no longer needs")


def lfs_headroom(cfg: Config, store: Store, space: str) -> tuple[int | None, str]:
    """``(bytes the space may still add, refusal message)`` for the LFS batch API.

    ``None`` when the space has no quota (and the usage is not computed at all: the batch
    request of an unlimited space walks no folders).
    """
    row = store.get_space(space)
    quota = row["quota_bytes"] if row is not None else None
    if quota is None:
        return None, ""
    used = space_usage(cfg, store, space)["total"]
    return quota - used, f"{exceeded_message(used, quota)}; {quota_hint(space)}"


def check_quota(push: PushView) -> list[str]:
    """pre-receive: refuse a push whose new objects would carry the space past its quota.

    The new objects are what git quarantined for this push (``GIT_QUARANTINE_PATH``, inside
    the repository until the hook accepts them), so the size of that folder is exactly what
    the push adds. A push that adds nothing (deleting a branch, moving a ref to an existing
    commit) always passes, so that people can still tidy up a full space. Without a
    quarantine (git older than 2.11, or a caller other than git) there is nothing to measure
    and the check passes.
    """
    space = push.model["space"]
    row = push.store.get_space(space)
    quota = row["quota_bytes"] if row is not None else None
    if quota is None:
        return []
    quarantine = push.env.get("GIT_QUARANTINE_PATH")
    if not quarantine:
        return []
    incoming_dir = Path(quarantine).resolve()
    incoming = dir_size(incoming_dir)
    if incoming == 0:
        return []
    used = space_usage(push.cfg, push.store, space, skip=incoming_dir)["total"]
    if used + incoming <= quota:
        return []
    mid = push.model["id"]
    return [
        f"modelgit: push to {mid} refused: {exceeded_message(used, quota)} in space {space},"
        f" and this push adds {format_bytes(incoming)}.",
        f"modelgit: {quota_hint(space)}.",
    ]
