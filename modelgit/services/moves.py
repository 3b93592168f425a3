"""Renaming (moving) and deleting a model through the hub API, and the model's settings.

A move keeps everything that names the model (roles, access requests, LFS links, scans,
tasks, replicas: the store renames them in one transaction) and renames the repository on
disk; the old name then answers with a redirect for ``hub.redirect_days`` (config.yaml,
default 30 days), as the public hubs do after a rename, so clones and API calls that still
use it keep working. Who may do what is ``decide()``'s: moving and deleting need the
``admin`` action (the model's owner, the space's owner or maintainers, a site admin: the
rights of ``modelgit model delete``), settings need ``edit`` (maintainer).
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import TYPE_CHECKING, Any

from modelgit.authz import roles
from modelgit.errors import Conflict, Forbidden, Invalid, NotFound
from modelgit.git.commands import clean_env
from modelgit.git.paths import repo_path
from modelgit.hooks import install as hooks_install
from modelgit.names import InvalidName, check_model_id
from modelgit.services import access, models

if TYPE_CHECKING:
    from modelgit.authz.decide import Subject
    from modelgit.config import Config
    from modelgit.store import Store

log = logging.getLogger("modelgit.hub")

#: How long an old name redirects when config.yaml does not say (``hub.redirect_days``).
DEFAULT_REDIRECT_DAYS = 30
DAY = 86_400


def redirect_seconds(cfg: Config) -> float:
    """``hub.redirect_days`` in seconds (0 turns redirects off); a bad value is refused."""
    hub = cfg.settings.get("hub") or {}
    days = hub.get("redirect_days", DEFAULT_REDIRECT_DAYS) if isinstance(hub, dict) \
        else DEFAULT_REDIRECT_DAYS
    if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
        raise Invalid(f"config.yaml: hub.redirect_days must be a number of days >= 0, not"
                      f" {days!r}")
    return float(days) * DAY


def redirect_target(store: Store, subject: Subject, old: str, *,
                    allow_anonymous_read: bool = True) -> str | None:
    """The model an old name now leads to, if the caller may see it there; None when the
    name was not moved (or its redirect ran out) or the caller may not view the new model,
    whose name a stranger must not learn."""
    try:
        check_model_id(old)
    except InvalidName:
        return None
    if store.get_model(old) is not None:
        return None
    target = store.redirect_of(old)
    if target is None:
        return None
    decision, _ = access.check_model(store, subject, target, "view",
                                     allow_anonymous_read=allow_anonymous_read)
    return target if decision.allowed else None


def _model_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a model id <space>/<name>")
    try:
        check_model_id(value)
    except InvalidName as exc:
        raise Invalid(f"{what}: {exc}") from None
    return value


def _allowed(store: Store, subject: Subject, model_id: str, action: str, *,
             allow_anonymous_read: bool) -> dict[str, Any]:
    decision, _ = access.check_model(store, subject, model_id, action,
                                     allow_anonymous_read=allow_anonymous_read)
    if not decision.allowed:
        raise access.refusal(decision)
    row = store.get_model(model_id)
    if row is None:
        raise NotFound(f"model {model_id} not found", code="RepoNotFound")
    return row


def move(store: Store, cfg: Config, subject: Subject, from_id: object, to_id: object, *,
         allow_anonymous_read: bool = True, address: str | None = None) -> str:
    """Rename ``from_id`` to ``to_id``; returns the new id. A caller who may not see the
    model gets the same 404 as for a missing one."""
    old = _model_id(from_id, "fromRepo")
    new = _model_id(to_id, "toRepo")
    _allowed(store, subject, old, "admin", allow_anonymous_read=allow_anonymous_read)
    if new == old:
        raise Invalid(f"{old} already has that name")
    space, name = new.split("/", 1)
    if store.get_space(space) is None:
        raise NotFound(f"space {space} does not exist: ask an administrator to create it"
                       f" (`modelgit space create {space}`)")
    user = subject.user or ""
    if not roles.may_create_model(is_admin=subject.is_admin,
                                  space_role=store.space_role(space, user)):
        raise Forbidden(f"{user} may not create models in space {space}, so cannot move"
                        f" {old} there; ask the space's owner for the user role"
                        f" (`modelgit space grant {space} {user} user`)")
    if store.get_model(new) is not None:
        # The public hubs' sentence, which clients match.
        raise Conflict(f"A model repository called {new} already exists; choose another name")
    src, dest = repo_path(cfg, old), repo_path(cfg, new)
    if src.is_symlink():
        # An adopted repository lives where the host's web server serves it: renaming only
        # our link would leave git and the API disagreeing about its name.
        raise Conflict(f"{old} is a repository of the existing host (adopted), which the"
                       " host's web server serves under its own path; rename it on the host"
                       " and adopt it again under the new name (`modelgit adopt`)")
    if dest.exists() or dest.is_symlink():
        raise Conflict(f"a repository for {new} already exists on disk; choose another name",
                       hint="an administrator can adopt or move it away")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(src, dest)
    try:
        store.rename_model(old, new, space=space, name=name,
                           redirect_seconds=redirect_seconds(cfg))
    except BaseException:
        os.rename(dest, src)
        raise
    # The hooks name their model: a push to the new name must be checked as that model.
    hooks_install.install(dest, cfg.data_dir, new)
    subprocess.run(["git", "config", "--file", str(dest / "config"), "modelgit.model", new],
                   check=False, capture_output=True, env=clean_env())
    store.audit("model.move", actor=subject.user, target=new, address=address,
                detail={"from": old, "to": new})
    log.info("model %s moved to %s by %s", old, new, subject.user)
    return new


def delete(store: Store, cfg: Config, subject: Subject, model_id: object, *,
           allow_anonymous_read: bool = True, address: str | None = None) -> str:
    """Delete the model as ``modelgit model delete`` does (audited), if the caller has the
    admin right on it; its old names stop redirecting."""
    mid = _model_id(model_id, "the repository")
    _allowed(store, subject, mid, "admin", allow_anonymous_read=allow_anonymous_read)
    models.delete(store, cfg, mid, actor=subject.user or "?")
    store.drop_redirects(mid)
    store.audit("hub.repo.delete", actor=subject.user, target=mid, address=address)
    return mid


#: Gating values of ``update_repo_settings`` and the model's column.
GATED = {"auto": "auto", "manual": "manual", False: "off"}


def update_settings(store: Store, subject: Subject, model_id: str, body: dict[str, Any], *,
                    allow_anonymous_read: bool = True) -> dict[str, str]:
    """``private`` / ``visibility`` and ``gated`` (auto, manual or false), with the
    maintainer's ``edit`` right; returns what changed (audited by ``models.update``)."""
    _allowed(store, subject, model_id, "edit", allow_anonymous_read=allow_anonymous_read)
    values: dict[str, str] = {}
    visibility = body.get("visibility")
    private = body.get("private")
    if visibility not in (None, "public", "private") or private not in (None, True, False):
        raise Invalid("'visibility' must be public or private and 'private' a boolean")
    if visibility is not None:
        values["visibility"] = visibility
    elif private is not None:
        values["visibility"] = "private" if private else "public"
    if "gated" in body:
        gated = body["gated"]
        if isinstance(gated, bool) and gated:
            raise Invalid("'gated' must be \"auto\", \"manual\" or false")
        if gated not in GATED:
            raise Invalid("'gated' must be \"auto\", \"manual\" or false")
        values["gated"] = GATED[gated]
    unknown = sorted(set(body) - {"visibility", "private", "gated"})
    if unknown:
        raise Invalid(f"modelgit cannot change {', '.join(unknown)} through the API; it"
                      " changes visibility (private) and gated")
    if not values:
        raise Invalid("nothing to change: give private (or visibility) or gated")
    models.update(store, model_id, values, actor=subject.user or "?")
    return values
