"""Adopting an existing host's bare repositories as models, in place.

The host keeps its paths, backups and hooks; modelgit links each repository into its own
``repos/<space>/<model>.git`` (``repo_path`` is lexical for exactly this reason), so the web
server serves every model from one root that holds nothing but models. The CLI's ``adopt`` and
install.sh call this; the audit rows are written here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelgit.authz import roles
from modelgit.errors import Refused
from modelgit.git import commands
from modelgit.git.paths import repo_path
from modelgit.hooks import install as hooks_install
from modelgit.names import InvalidName, check_part, check_space
from modelgit.services import users

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.store import Store


@dataclass
class Adopted:
    """What happened to one candidate repository (a row of the report)."""

    repo: str
    model: str
    status: str        # adopted | up to date | skipped
    detail: str = ""


def is_bare_repo(path: Path) -> bool:
    """A bare repository has HEAD, objects/ and refs/ at its top (no work tree)."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and \
        (path / "refs").is_dir()


def default_branch_of(repo: Path) -> str | None:
    """The branch HEAD names (``master`` on many older hosts), or None if HEAD is detached."""
    ref = commands.run(repo, "symbolic-ref", "--quiet", "HEAD").stdout.decode().strip()
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def _hooks_path_note(repo: Path) -> str:
    """A repository with ``core.hooksPath`` set would never run the hooks we install."""
    value = commands.run(repo, "config", "--get", "core.hooksPath").stdout.decode().strip()
    return f"; warning: core.hooksPath={value} bypasses the hooks in hooks/" if value else ""


def _ensure_space(store: Store, space: str, owner: str, is_admin: bool) -> None:
    row = store.get_space(space)
    if row is None:
        # Adoption is the site operator's act at install time: the owner of the adopted
        # repositories becomes the owner of the space that holds them.
        store.add_space(space, owner, None)
        store.audit("space.create", actor="cli", target=space,
                        detail={"owner": owner, "via": "adopt"})
        return
    if not roles.may_create_model(is_admin=is_admin,
                                  space_role=store.space_role(space, owner)):
        raise Refused(f"{owner} may not create models in space {space}",
                      hint=f"`modelgit space grant {space} {owner} user` lets them, or adopt"
                           " into another space")


def _link(link: Path, target: Path) -> str | None:
    """Make ``link`` point at ``target``; a reason string when something else is in the way."""
    if link.is_symlink():
        if link.resolve() == target:
            return None
        return f"{link} already points at {os.readlink(link)}"
    if link.exists():
        return f"{link} already exists and is not a link to {target}"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)
    return None


def adopt(cfg: Config, store: Store, root: Path, space: str, owner: str) -> list[Adopted]:
    """Adopt every ``*.git`` bare repository directly under ``root`` (idempotent).

    A repository becomes the private model ``space/<name>`` owned by ``owner``: a link in
    modelgit's repos folder, a model row (made once, never changed afterwards, so settings
    made since survive a rerun) and modelgit's hooks, with any foreign hook kept as
    ``<hook>.legacy`` and run first. Names that break the rules are reported and skipped.
    """
    check_space(space)
    user = users.require(store, owner)
    root = root.resolve()
    if not root.is_dir():
        raise Refused(f"{root} is not a folder", hint="give the folder that holds the *.git"
                                                       " repositories")
    repos_root = cfg.repos_dir.resolve()
    if root == repos_root or repos_root in root.parents:
        raise Refused(f"{root} is modelgit's own repository folder; nothing to adopt there")
    _ensure_space(store, space, owner, bool(user["is_admin"]))
    report: list[Adopted] = []
    for entry in sorted(root.iterdir()):
        if not entry.name.endswith(".git"):
            continue
        name = entry.name.removesuffix(".git")
        model_id = f"{space}/{name}"
        try:
            check_part(name, "model")
        except InvalidName as exc:
            report.append(Adopted(entry.name, "", "skipped", str(exc)))
            continue
        target = entry.resolve()
        if not target.is_dir() or not is_bare_repo(target):
            report.append(Adopted(entry.name, model_id, "skipped", "not a bare repository"))
            continue
        report.append(_adopt_one(cfg, store, model_id, entry.name, target, owner))
    return report


def _adopt_one(cfg: Config, store: Store, model_id: str, name: str, target: Path,
               owner: str) -> Adopted:
    link = repo_path(cfg, model_id)
    conflict = _link(link, target)
    if conflict is not None:
        return Adopted(name, model_id, "skipped", conflict)
    changes: list[str] = []
    if store.get_model(model_id) is None:
        store.add_model(model_id, owner, visibility="private")
        branch = default_branch_of(target)
        if branch and branch != "main":
            store.update_model(model_id, default_branch=branch)
        store.audit("model.adopt", actor="cli", target=model_id,
                        detail={"owner": owner, "path": str(target)})
        changes.append("model created (private)")
    try:
        changes += hooks_install.install(link, cfg.data_dir, model_id)
    except (FileExistsError, OSError) as exc:
        return Adopted(name, model_id, "skipped", f"hooks not installed: {exc}")
    note = _hooks_path_note(target)
    status = "adopted" if changes else "up to date"
    return Adopted(name, model_id, status, "; ".join(changes) + note)
