"""Models: create, look up, change, delete, grant and revoke roles, list and search by card.

Each operation checks its rules, changes the store (and the repository) and audits itself,
so the CLI and the hub API create or change a model the same way and neither imports the
other. Refusals are :mod:`modelgit.errors` types; the front ends word them for their wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelgit.authz import roles
from modelgit.errors import Conflict, Forbidden, Invalid, NotFound
from modelgit.names import InvalidName, check_model_id
from modelgit.services import access, spaces, users
from modelgit.store.models import search_text

if TYPE_CHECKING:
    from modelgit.authz.decide import Subject
    from modelgit.config import Config
    from modelgit.store import Store

#: Rows fetched from the store per step of a listing.
LIST_BATCH = 500


def _check_id(model_id: str) -> tuple[str, str]:
    try:
        return check_model_id(model_id)
    except InvalidName as exc:
        raise Invalid(str(exc)) from None


def require(store: Store, model_id: str, subject: Subject | None = None, *,
            allow_anonymous_read: bool = True) -> dict[str, Any]:
    """The model's row. Without ``subject`` (the CLI, the site's administrator) any model;
    with one, ``NotFound`` also for a model the subject may not view, so a private model's
    existence is not revealed."""
    _check_id(model_id)
    if subject is not None:
        decision, _ = access.check_model(store, subject, model_id, "view",
                                         allow_anonymous_read=allow_anonymous_read)
        if not decision.allowed:
            raise access.refusal(decision)
    row = store.get_model(model_id)
    if row is None:
        raise NotFound(f"unknown model {model_id!r}", hint="see `modelgit model list`",
                       code="RepoNotFound")
    return row


def creation_verdict(store: Store, cfg: Config, user: str, model_id: str,
                     may_see: Callable[[], bool]) -> str:
    """Whether ``user`` may create ``model_id`` from the hub API or a page, as one word each
    front end words its own way: ``ok``; ``exists`` (a model they may see, ``may_see`` is
    asked only then); ``no-space`` (neither the space nor, with ``models.personal_spaces``,
    their own); ``forbidden`` (no right in the space, or a model there they may not see,
    answered alike so that a private model's existence is not revealed)."""
    space = model_id.split("/", 1)[0]
    row = store.get_user(user) or {}
    personal = space == user and spaces.personal_allowed(cfg)
    may_create = roles.may_create_model(is_admin=bool(row.get("is_admin")),
                                        space_role=store.space_role(space, user))
    if store.get_model(model_id) is not None:
        if may_see():
            return "exists"
        may_create = personal = False
    if store.get_space(space) is None:
        return "ok" if personal else "no-space"
    return "ok" if may_create else "forbidden"


def create(store: Store, cfg: Config, model_id: str, owner: str, *, display_name: str = "",
           public: bool | None = False, gated: str = "off", empty: bool = False,
           actor: str = "cli", address: str | None = None) -> str | None:
    """The database row and the bare repository with its hooks, or neither; the id of the
    repository's first commit (the hubs' default ``.gitattributes`` on the default branch),
    None with ``empty`` (for a history pushed from elsewhere). ``public`` None: the site's
    default (``models.private_by_default``). A space named like ``owner`` that does not exist
    yet is made for them when ``models.personal_spaces`` is on."""
    from modelgit import repos

    space, _ = _check_id(model_id)
    if public is None:
        public = not bool(cfg.get("models.private_by_default"))
    user = users.require(store, owner)
    if store.get_space(space) is None and space == owner and spaces.personal_allowed(cfg):
        spaces.create_personal(store, owner, actor=actor)
    spaces.require(store, space)
    if not roles.may_create_model(is_admin=bool(user["is_admin"]),
                                  space_role=store.space_role(space, owner)):
        raise Forbidden(f"{owner} may not create models in space {space}",
                        hint=f"`modelgit space grant {space} {owner} user` lets them")
    if store.get_model(model_id) is not None:
        raise Conflict(f"model {model_id} already exists")
    if repos.repo_path(cfg, model_id).exists():
        raise Conflict(f"a repository for {model_id} already exists on disk",
                       hint="adopt it with `modelgit adopt` or move it away")
    store.add_model(model_id, owner, display_name=display_name,
                    visibility="public" if public else "private", gated=gated)
    try:
        path = repos.create_bare(cfg, model_id)
    except Exception:
        store.delete_model(model_id)
        raise
    first: str | None = None
    try:
        if not empty:
            first = repos.initial_commit(path, "main")
    except Exception:
        store.delete_model(model_id)
        repos.remove(cfg, model_id)
        raise
    store.audit("model.create", actor=actor, target=model_id, address=address,
                detail={"owner": owner, "public": public, "gated": gated,
                        "initial_commit": first})
    return first


#: What ``set`` may change, and the flags that change it (for the "nothing to change" hint).
SETTINGS = ("visibility", "gated", "display_name", "notify", "notify_email")


def update(store: Store, model_id: str, values: Mapping[str, str], *,
           actor: str = "cli") -> None:
    """Change settings of the model (``SETTINGS``); at least one must be given."""
    require(store, model_id)
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise Invalid(f"not model settings: {', '.join(unknown)}")
    if not values:
        raise Invalid("nothing to change", hint="give --public/--private, --gated, --name,"
                                                " --notify or --notify-email")
    store.update_model(model_id, **values)
    store.audit("model.set", actor=actor, target=model_id, detail=dict(values))


def delete(store: Store, cfg: Config, model_id: str, *, actor: str = "cli") -> None:
    """The model, its roles and its repository (LFS objects stay until ``gc``)."""
    from modelgit import repos

    require(store, model_id)
    store.delete_model(model_id)
    repos.remove(cfg, model_id)
    store.audit("model.delete", actor=actor, target=model_id)


def grant(store: Store, model_id: str, user: str, role: str, *, actor: str = "cli",
          actor_role: str | None = None, actor_is_admin: bool = True) -> None:
    """Give ``user`` a role on the model (one role per user): as a site administrator (the
    CLI), or with ``actor_role``/``actor_is_admin`` as a person on a page, whose rights the
    role rules then check (a maintainer cannot grant maintainer)."""
    row = require(store, model_id)
    users.require(store, user)
    ruling = roles.may_grant_model_role(
        actor_role=actor_role, actor_is_admin=actor_is_admin, role=role,
        target_current=store.model_role(model_id, user), target_is_owner=user == row["owner"])
    if not ruling.allowed:
        raise Forbidden(ruling.reason)
    store.set_model_role(model_id, user, role)
    store.audit("role.grant", actor=actor, target=model_id, detail={"user": user, "role": role})


def revoke(store: Store, model_id: str, user: str, *, actor: str = "cli",
           before: Callable[[str], None] | None = None, actor_role: str | None = None,
           actor_is_admin: bool = True) -> None:
    """Take ``user``'s role on the model away. ``before`` sees the current role (when there
    is one) once the rules allow it and before anything changes: the CLI asks there.
    ``actor_role``/``actor_is_admin`` as for :func:`grant`."""
    row = require(store, model_id)
    current = store.model_role(model_id, user)
    ruling = roles.may_revoke_model_role(
        actor_role=actor_role, actor_is_admin=actor_is_admin, target_current=current,
        target_is_owner=user == row["owner"])
    if not ruling.allowed:
        raise Forbidden(ruling.reason)
    if current is not None and before is not None:
        before(current)
    store.remove_model_role(model_id, user)
    store.audit("role.revoke", actor=actor, target=model_id, detail={"user": user})


def holders(store: Store, model_id: str) -> list[dict[str, Any]]:
    """Who holds which role on the model and why: the owner, space owners and maintainers
    (owner rights on every model of the space), then the grants."""
    row = require(store, model_id)
    rows = [{"user": row["owner"], "role": "owner", "via": "model owner"}]
    for r in store.space_roles(row["space"]):
        if r["role"] in ("owner", "maintainer") and r["user"] != row["owner"]:
            rows.append({"user": r["user"], "role": "owner", "via": f"space {r['role']}"})
    rows += [{**r, "via": "grant"} for r in store.model_roles(model_id)]
    return rows


# --------------------------------------------------------------------------- the card
def card_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The card stored with the model (``{"index": ..., "data": ...}``; ``{}`` before any)."""
    try:
        card = json.loads(row.get("card") or "{}")
    except ValueError:
        return {}
    return card if isinstance(card, dict) else {}


@dataclass(frozen=True)
class CardFilter:
    """The search filters of ``model list`` and the hub API: all given ones must hold
    (case-insensitive)."""

    framework: str | None = None
    task: str | None = None
    tag: str | None = None
    license: str | None = None
    search: str | None = None


def card_matches(row: Mapping[str, Any], index: Mapping[str, Any], wanted: CardFilter) -> bool:
    """Whether a model (its row and card index) passes every given filter."""
    def lower(values: object) -> list[str]:
        if isinstance(values, str):
            return [values.lower()]
        return [str(v).lower() for v in values] if isinstance(values, list) else []

    if wanted.framework and wanted.framework.lower() not in lower(index.get("frameworks")):
        return False
    if wanted.task and wanted.task.lower() not in lower([index.get("task_type") or "",
                                                         index.get("task_algorithm") or "",
                                                         index.get("pipeline_tag") or ""]):
        return False
    if wanted.tag and wanted.tag.lower() not in lower(index.get("tags")):
        return False
    if wanted.license and wanted.license.lower() != str(index.get("license") or "").lower():
        return False
    if wanted.search:
        haystack = search_text(row["id"], row.get("display_name") or "", index.get("tags"))
        if wanted.search.lower() not in haystack:
            return False
    return True


def search(store: Store, wanted: CardFilter) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every model that passes the filters, with its card index (the site administrator's
    view: private models included). A text or tag filter is first applied in SQL to each
    model's ``search_text``, so a search reads the cards of the candidates only."""
    out = []
    for row in store.list_models(prefilter(wanted)):
        index = card_of(row).get("index", {})
        if card_matches(row, index, wanted):
            out.append((row, index))
    return out


#: The orders a listing may ask for (the hub's names are mapped by the front end).
SORTS = ("id", "created", "last_modified")


def prefilter(wanted: CardFilter) -> str | None:
    """Text every model passing ``wanted`` has in its ``search_text``, for the store to
    filter on (None: no such text): the search itself, else the tag (a tag is part of that
    text). ``card_matches`` still decides; this only spares reading models that cannot
    pass."""
    text = wanted.search or wanted.tag
    return text.lower() if text else None


def visible(store: Store, subject: Subject, *, after: str = "", after_key: str = "",
            sort: str = "id", descending: bool = False,
            allow_anonymous_read: bool = True, contains: str | None = None
            ) -> Iterator[dict[str, Any]]:
    """The models ``subject`` may ``retrieve``, in ``sort`` order (ties by id) after the
    cursor (``after``: the last id shown; ``after_key``: its ``sort_key`` for the time
    sorts), fetched a batch at a time (one query per batch, not one per model); stop reading
    to stop fetching. ``contains`` (see :func:`prefilter`) skips in SQL the models whose id,
    display name and tags do not hold that text; the caller still applies its filters."""
    if sort not in SORTS:
        raise Invalid(f"cannot sort models by {sort!r}", hint=f"use one of {', '.join(SORTS)}")
    while True:
        rows = store.hub_models_for(subject.user, after, LIST_BATCH, sort=sort,
                                    descending=descending, after_key=after_key,
                                    contains=contains)
        if not rows:
            return
        after, after_key = rows[-1]["id"], str(rows[-1]["sort_key"])
        for row in rows:
            if access.check(subject, access.facts_of(row), "retrieve",
                            allow_anonymous_read=allow_anonymous_read).allowed:
                yield row
        if len(rows) < LIST_BATCH:
            return
