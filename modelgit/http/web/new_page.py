"""``/-/new``: create a model (signed in), and for site admins and space creators a space
(``/-/spaces/new``).

A model is made by ``services.models.create``, the path of ``modelgit model create`` and the
hub's ``create_repo`` (the first commit with the default ``.gitattributes``), and the rights
are checked as ``create_repo`` checks them: the person's own space when
``models.personal_spaces`` is on (made on first use), a space where their space role allows
creating models (:func:`modelgit.authz.roles.may_create_model`), any space for a site admin.
A model that exists but that the person may not see is refused like a space they may not
create in, so a private model's existence is not revealed. The spaces the form offers are a
courtesy; the POST checks again. A space is made by ``services.spaces.create``; a space
creator who is not a site admin makes spaces owned by themselves only.

A refusal renders the form again with the reason and what was typed.
"""

from __future__ import annotations

import re

from modelgit.authz import roles
from modelgit.errors import Conflict, Forbidden, Invalid, ModelgitError, NotFound
from modelgit.gating import GATED_MODES
from modelgit.http.responses import Response
from modelgit.http.web.context import Page
from modelgit.names import InvalidName, check_model_id, check_space
from modelgit.services import models, spaces

GATING_LABELS = {"off": "off: no access requests", "auto": "auto: requests are accepted at once",
                 "manual": "manual: the authors review requests"}


def creatable_spaces(pg: Page) -> list[str]:
    """The spaces the person may create models in: their own (made on first use when
    personal spaces are on), those where their role allows it, every space for an admin."""
    store, user = pg.host.store, str(pg.user)
    out: list[str] = []
    if spaces.personal_allowed(pg.host.cfg):
        try:
            out.append(check_space(user))
        except InvalidName:
            pass
    if pg.req.subject.is_admin:
        names = [str(s["name"]) for s in store.list_spaces()]
    else:
        names = [str(s["space"]) for s in store.hub_user_spaces(user)
                 if roles.may_create_model(is_admin=False,
                                           space_role=store.space_role(s["space"], user))]
    out += [n for n in names if n not in out]
    return out


def may_create_space(pg: Page) -> bool:
    row = pg.host.store.get_user(str(pg.user)) or {}
    return roles.may_create_space(is_admin=bool(row.get("is_admin")),
                                  space_creator=bool(row.get("space_creator")))


def _render(pg: Page, status: int = 200, *, error: str = "", space_error: str = "",
            values: dict[str, str] | None = None,
            space_values: dict[str, str] | None = None) -> Response:
    private = bool(pg.host.cfg.get("models.private_by_default"))
    wanted = {"space": (pg.req.arg("space") or "")[:100], "name": "", "display_name": "",
              "visibility": "private" if private else "public", "gated": "off"}
    wanted.update(values or {})
    space_wanted = {"name": "", "owner": str(pg.user)}
    space_wanted.update(space_values or {})
    return pg.render("new.html", status, title="New model", spaces=creatable_spaces(pg),
                     wanted=wanted, error=error, space_wanted=space_wanted,
                     space_error=space_error, can_create_space=may_create_space(pg),
                     gated_modes=GATED_MODES, gating_labels=GATING_LABELS)


def new_page(pg: Page, match: re.Match[str]) -> Response:
    return _render(pg)


def _lines(err: ModelgitError) -> str:
    return " ".join(err.lines())


def _check_model(pg: Page, space: str, name: str, values: dict[str, str]) -> str:
    """The model id if the person may create it; else a ``ModelgitError`` with the reason
    (the rights are ``models.creation_verdict``, as for the hub's ``create_repo``)."""
    user = str(pg.user)
    if pg.req.subject.scope != "write":
        raise Forbidden("you signed in with a read-only key: creating a model needs a key"
                        " created with `--scope write`")
    if not space:
        raise Invalid("choose a space")
    model_id = f"{space}/{name}"
    try:
        check_model_id(model_id)
    except InvalidName as exc:
        raise Invalid(str(exc)) from None
    display = values["display_name"]
    if len(display) > 200 or any(ord(ch) < 32 for ch in display):
        raise Invalid("a display name is one line of at most 200 characters")
    if values["visibility"] not in ("public", "private"):
        raise Invalid("choose public or private")
    if values["gated"] not in GATED_MODES:
        raise Invalid("choose gating off, auto or manual")
    verdict = models.creation_verdict(
        pg.host.store, pg.host.cfg, user, model_id,
        lambda: pg.host.model_decision(pg.req, model_id, "view")[0].allowed)
    if verdict == "exists":
        raise Conflict(f"model {model_id} already exists", hint="choose another name")
    if verdict == "no-space":
        raise NotFound(f"there is no space {space}", hint="choose one of the spaces offered")
    if verdict == "forbidden":
        raise Forbidden(f"{user} may not create models in space {space}",
                        hint="ask its owner for a role in the space")
    return model_id


def create_model(pg: Page, match: re.Match[str]) -> Response:
    form = pg.form
    space, name = form.get("space", "").strip()[:100], form.get("name", "").strip()[:100]
    values = {"space": space, "name": name,
              "display_name": form.get("display_name", "").strip()[:300],
              "visibility": form.get("visibility", ""), "gated": form.get("gated", "")}
    try:
        model_id = _check_model(pg, space, name, values)
        models.create(pg.host.store, pg.host.cfg, model_id, str(pg.user),
                      display_name=values["display_name"],
                      public=values["visibility"] == "public", gated=values["gated"],
                      actor=str(pg.user), address=pg.req.remote_addr)
    except ModelgitError as err:
        return _render(pg, err.status, error=_lines(err), values=values)
    return pg.redirect(f"/-/m/{model_id}")


def create_space(pg: Page, match: re.Match[str]) -> Response:
    me = str(pg.user)
    name = pg.form.get("name", "").strip()[:100]
    owner = pg.form.get("owner", "").strip()[:100] or me
    values = {"name": name, "owner": owner}
    try:
        if not may_create_space(pg):
            raise Forbidden("you may not create spaces",
                            hint="ask a site admin to make you a space creator")
        if owner != me and not pg.req.subject.is_admin:
            raise Forbidden("only a site admin may create a space for someone else",
                            hint="leave the owner as yourself")
        try:
            spaces.create(pg.host.store, name, owner, actor=me)
        except InvalidName as exc:
            raise Invalid(str(exc)) from None
    except ModelgitError as err:
        return _render(pg, err.status, space_error=_lines(err), space_values=values)
    return pg.redirect(f"/-/s/{name}")
