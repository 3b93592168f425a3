"""``/-/m/<space>/<model>/settings``: who holds which role on a model and why, grant and
revoke within the role rules, and the model's settings (visibility, gating, display name),
delete (type the id to confirm). ``/-/s/<space>``: a space's models, members and quota use.

The rules are :mod:`modelgit.authz.roles`': the page passes the person's own role and the
service refuses what the matrix refuses (a maintainer cannot grant maintainer), so the choices
a page offers are a courtesy and never the check. Every POST asks for ``edit`` (``admin`` to
delete) again.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from modelgit import quota
from modelgit.authz import roles
from modelgit.errors import Invalid, NotFound
from modelgit.gating import GATED_MODES
from modelgit.http.responses import Response
from modelgit.http.web.context import Page
from modelgit.http.web.manage import ModelView, model_view
from modelgit.names import InvalidName
from modelgit.services import models, spaces

#: Models listed on a space's page at most.
SPACE_MODELS = 500
DONE = {"granted": "Granted {who} the role {role}.", "revoked": "Revoked {who}'s role.",
        "saved": "Settings saved."}


def grantable(mv: ModelView, is_admin: bool) -> list[str]:
    """The roles this person may hand out (to someone without a role yet)."""
    return [r for r in roles.ROLES if roles.may_grant_model_role(
        actor_role=mv.role, actor_is_admin=is_admin, role=r, target_current=None,
        target_is_owner=False).allowed]


def settings_page(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    store = pg.host.store
    holders = models.holders(store, mv.id)
    is_admin = pg.req.subject.is_admin
    for h in holders:
        h["revocable"] = h["via"] == "grant" and roles.may_revoke_model_role(
            actor_role=mv.role, actor_is_admin=is_admin, target_current=h["role"],
            target_is_owner=False).allowed
    done = pg.req.arg("done") or ""
    message = DONE[done].format(who=(pg.req.arg("who") or "")[:100],
                                role=(pg.req.arg("role") or "")[:20]) if done in DONE else ""
    return pg.render("settings.html", title=f"Members and settings of {mv.id}", **mv.tabs(),
                     holders=holders, space=mv.row["space"],
                     space_members=spaces.members(store, mv.row["space"]),
                     grantable=grantable(mv, is_admin), my_role=mv.role,
                     can_admin=mv.can_admin, gated_modes=GATED_MODES, message=message)


def _user_field(pg: Page) -> str:
    user = pg.form.get("user", "").strip()
    if not user:
        raise Invalid("give the user name")
    return user


def grant_role(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    user, role = _user_field(pg), pg.form.get("role", "")
    models.grant(pg.host.store, mv.id, user, role, actor=str(pg.user), actor_role=mv.role,
                 actor_is_admin=pg.req.subject.is_admin)
    return pg.redirect(f"/-/m/{mv.id}/settings?" + urlencode(
        {"done": "granted", "who": user, "role": role}))


def revoke_role(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    user = _user_field(pg)
    models.revoke(pg.host.store, mv.id, user, actor=str(pg.user), actor_role=mv.role,
                  actor_is_admin=pg.req.subject.is_admin)
    return pg.redirect(f"/-/m/{mv.id}/settings?" + urlencode({"done": "revoked", "who": user}))


def save_settings(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    visibility = pg.form.get("visibility", "")
    gated = pg.form.get("gated", "")
    name = pg.form.get("display_name", "").strip()
    if visibility not in ("public", "private"):
        raise Invalid("choose public or private")
    if gated not in GATED_MODES:
        raise Invalid("choose gating off, auto or manual")
    if len(name) > 200 or any(ord(ch) < 32 for ch in name):
        raise Invalid("a display name is one line of at most 200 characters")
    values = {k: v for k, v in (("visibility", visibility), ("gated", gated),
                                ("display_name", name)) if v != (mv.row.get(k) or "")}
    if values:
        models.update(pg.host.store, mv.id, values, actor=str(pg.user))
    return pg.redirect(f"/-/m/{mv.id}/settings?done=saved")


def delete_model(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "admin")
    if pg.form.get("confirm", "").strip() != mv.id:
        raise Invalid(f"to delete, type the model's id {mv.id} exactly",
                      hint="nothing was deleted")
    models.delete(pg.host.store, pg.host.cfg, mv.id, actor=str(pg.user))
    return pg.redirect("/-/models")


# --- a space -----------------------------------------------------------------------------------
def _space(pg: Page, match: re.Match[str]) -> tuple[dict[str, Any], str | None]:
    name = match.group("space")
    try:
        row = spaces.require(pg.host.store, name)
    except (NotFound, InvalidName):
        raise NotFound(f"there is no space {name[:100]!r} here") from None
    return row, spaces.role_in(pg.host.store, name, pg.user)


def space_page(pg: Page, match: re.Match[str]) -> Response:
    row, my_role = _space(pg, match)
    name = row["name"]
    store = pg.host.store
    listed: list[dict[str, Any]] = []
    for m in models.visible(store, pg.req.subject, after=f"{name}/"):
        if not m["id"].startswith(f"{name}/") or len(listed) == SPACE_MODELS:
            break
        listed.append(m)
    member = my_role is not None or pg.req.subject.is_admin
    usage = quota.space_usage(pg.host.cfg, store, name) if member else None
    is_admin = pg.req.subject.is_admin
    grant_roles = [r for r in roles.SPACE_ROLES if roles.may_grant_space_role(
        actor_space_role=my_role, actor_is_admin=is_admin, role=r, target_current=None,
        target_is_creator=False).allowed]
    members = spaces.members(store, name) if member else []
    for m in members:
        m["revocable"] = not m["creator"] and roles.may_revoke_space_role(
            actor_space_role=my_role, actor_is_admin=is_admin, target_current=m["role"],
            target_is_creator=False).allowed
    done = pg.req.arg("done") or ""
    message = DONE[done].format(who=(pg.req.arg("who") or "")[:100],
                                role=(pg.req.arg("role") or "")[:20]) if done in DONE else ""
    return pg.render("space.html", title=row.get("fullname") or f"Space {name}", space=row,
                     models=listed, members=members, usage=usage, my_role=my_role, member=member,
                     grant_roles=grant_roles, fmt=quota.format_bytes, message=message)


def space_grant(pg: Page, match: re.Match[str]) -> Response:
    row, my_role = _space(pg, match)
    user, role = _user_field(pg), pg.form.get("role", "")
    spaces.grant(pg.host.store, row["name"], user, role, actor=str(pg.user),
                 actor_space_role=my_role, actor_is_admin=pg.req.subject.is_admin)
    return pg.redirect(f"/-/s/{row['name']}?" + urlencode(
        {"done": "granted", "who": user, "role": role}))


def space_revoke(pg: Page, match: re.Match[str]) -> Response:
    row, my_role = _space(pg, match)
    user = _user_field(pg)
    spaces.revoke(pg.host.store, row["name"], user, actor=str(pg.user),
                  actor_space_role=my_role, actor_is_admin=pg.req.subject.is_admin)
    return pg.redirect(f"/-/s/{row['name']}?" + urlencode({"done": "revoked", "who": user}))
