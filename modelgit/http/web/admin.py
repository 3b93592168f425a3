"""``/-/admin/users`` and ``/-/admin/audit``: for site admins only (anyone else gets 403).
Users: add (with a first key, shown once), the admin and space-creator flags, remove. The
audit log newest first, filtered by kind (pushes, denials, roles, keys, gating), actor and
target. Changes go through :mod:`modelgit.services.users` and ``keys``, audited there.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from modelgit.errors import Forbidden, Invalid
from modelgit.http.responses import Response
from modelgit.http.web.context import Page
from modelgit.http.web.manage import short_time
from modelgit.services import keys, users

#: The audit log's filters: a name people read, and the actions it covers.
KINDS: dict[str, tuple[str, ...]] = {
    "pushes": ("push",),
    "denials": ("auth.denied", "hub.commit.refused"),
    "roles": ("role.grant", "role.revoke", "space.grant", "space.revoke"),
    "keys": ("key.create", "key.revoke", "key.regenerate"),
    "gating": ("access.request", "access.handle", "access.cancel", "access.grant",
               "access.report"),
    "users": ("user.add", "user.set", "user.remove"),
    "models": ("model.create", "model.set", "model.delete", "model.adopt", "space.create",
               "space.set", "scan.queue"),
}
AUDIT_PAGE = 100


def _admin(pg: Page) -> str:
    if not pg.req.subject.is_admin:
        raise Forbidden("these pages are for site admins", hint="ask a site admin")
    return str(pg.user)


def users_page(pg: Page, match: re.Match[str], new_key: str = "", message: str = "") -> Response:
    _admin(pg)
    rows = [{"name": u["name"], "fullname": u.get("fullname") or "",
             "email": u.get("email") or "", "admin": bool(u["is_admin"]),
             "creator": bool(u["space_creator"])} for u in pg.host.store.list_users()]
    return pg.render("admin_users.html", title="Users", rows=rows, new_key=new_key,
                     message=message or (pg.req.arg("done") or "")[:200])


def add_user(pg: Page, match: re.Match[str]) -> Response:
    me = _admin(pg)
    name = pg.form.get("name", "").strip()
    users.add(pg.host.store, name, email=pg.form.get("email", "").strip()[:254],
              fullname=pg.form.get("fullname", "").strip()[:200],
              admin=pg.form.get("admin") == "on",
              space_creator=pg.form.get("space_creator") == "on", actor=me)
    new = keys.create(pg.host.store, name, "write", None, actor=me)
    return users_page(pg, match, new_key=new,
                      message=f"Added {name}. Give them this key now: it is shown only once.")


def set_flag(pg: Page, match: re.Match[str]) -> Response:
    me = _admin(pg)
    name, flag, value = pg.form.get("name", ""), pg.form.get("flag", ""), pg.form.get("value")
    if flag not in ("admin", "space_creator") or value not in ("0", "1"):
        raise Invalid("choose the admin or space-creator flag")
    if name == me and flag == "admin" and value == "0":
        raise Invalid("you cannot take your own admin flag away",
                      hint="another admin can, so the site keeps one")
    users.set_flags(pg.host.store, name, actor=me, **{flag: value == "1"})
    return pg.redirect("/-/admin/users?" + urlencode({"done": f"Saved {name}."}))


def remove_user(pg: Page, match: re.Match[str]) -> Response:
    me = _admin(pg)
    name = pg.form.get("name", "")
    if name == me:
        raise Invalid("you cannot remove yourself")
    users.remove(pg.host.store, name, actor=me)
    return pg.redirect("/-/admin/users?" + urlencode({"done": f"Removed {name}."}))


def audit_page(pg: Page, match: re.Match[str]) -> Response:
    _admin(pg)
    kind = pg.req.arg("kind") or ""
    actor = (pg.req.arg("actor") or "").strip()[:100] or None
    target = (pg.req.arg("target") or "").strip()[:200] or None
    before = pg.req.arg("before") or ""
    rows = pg.host.store.audit_rows(
        actions=KINDS.get(kind), actor=actor, target=target, limit=AUDIT_PAGE,
        before_id=int(before) if before.isdecimal() and len(before) < 19 else None)
    shown = [{**r, "at": short_time(r["at"])} for r in rows]
    nxt = ""
    if len(rows) == AUDIT_PAGE:
        nxt = "/-/admin/audit?" + urlencode({k: v for k, v in (
            ("kind", kind), ("actor", actor or ""), ("target", target or ""),
            ("before", rows[-1]["id"])) if v})
    return pg.render("admin_audit.html", title="Audit log", rows=shown, kinds=list(KINDS),
                     kind=kind, actor=actor or "", target=target or "", next_page=nxt)
