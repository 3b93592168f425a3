"""``/-/keys``: your own keys - list (prefix, scope, expiry, last use), create, revoke,
regenerate. A new key is in the answer to the POST that made it and nowhere else: it is not
stored, not logged, and a reload shows only its prefix.

Regenerating revokes every key of yours, the one this session was opened with included, so
the session moves to the new key (otherwise it would end with the old one).
"""

from __future__ import annotations

import re
from typing import Any

from modelgit.authz import keys as key_rules
from modelgit.errors import Invalid, NotFound
from modelgit.http.responses import Response
from modelgit.http.web.context import SESSION_COOKIE, Page, cookie_header, read_cookies
from modelgit.services import keys, sessions
from modelgit.store import now_iso

#: Days a new key may be asked to last, at most (about ten years).
MAX_DAYS = 3650


def _rows(pg: Page) -> list[dict[str, Any]]:
    now = now_iso()
    out = []
    for row in keys.listing(pg.host.store, str(pg.user)):
        state = ("revoked" if row["revoked"] else
                 "expired" if row["expires"] and row["expires"] <= now else "active")
        out.append({"id": row["id"], "scope": row["scope"], "created": _day(row["created"]),
                    "expires": _day(row["expires"]) or "never",
                    "last_used": _day(row["last_used"]) or "never", "state": state})
    return out


def _day(value: str | None) -> str:
    return (value or "")[:16].replace("T", " ")


def _choices(pg: Page) -> tuple[str, int | None]:
    scope = pg.form.get("scope", "write")
    if scope not in key_rules.SCOPES:
        raise Invalid("choose the scope read or write")
    days_text = pg.form.get("days", "").strip()
    if not days_text:
        return scope, None
    if not days_text.isdecimal() or not 1 <= int(days_text) <= MAX_DAYS:
        raise Invalid(f"a key lasts from 1 to {MAX_DAYS} days; leave it empty for no expiry")
    return scope, int(days_text)


def keys_page(pg: Page, match: re.Match[str], new_key: str = "", message: str = "",
              status: int = 200) -> Response:
    return pg.render("keys.html", status, title="Your keys", rows=_rows(pg), new_key=new_key,
                     message=message)


def create_key(pg: Page, match: re.Match[str]) -> Response:
    scope, days = _choices(pg)
    new = keys.create(pg.host.store, str(pg.user), scope, days, actor=str(pg.user))
    return keys_page(pg, match, new_key=new,
                     message="Your new key is below. Copy it now: it is shown only once.")


def revoke_key(pg: Page, match: re.Match[str]) -> Response:
    key_id = pg.form.get("key_id", "")
    me = str(pg.user)

    def mine(row: dict[str, Any]) -> None:
        if row["user"] != me:  # someone else's key: as unknown as a key that never was
            raise NotFound(f"you have no key {key_id!r}")

    if not re.fullmatch(r"mg_[A-Za-z0-9]{8}", key_id):
        raise NotFound(f"you have no key {key_id[:20]!r}")
    keys.revoke(pg.host.store, key_id, actor=me, before=mine)
    return pg.redirect("/-/keys")


def regenerate_keys(pg: Page, match: re.Match[str]) -> Response:
    scope, days = _choices(pg)
    me = str(pg.user)
    new, revoked = keys.regenerate(pg.host.store, me, scope, days, actor=me)
    old_token = read_cookies(pg.req.environ).get(SESSION_COOKIE)
    sessions.close_session(pg.host.store, old_token)
    hours = float(pg.host.cfg.get("web.session_hours") or 12)
    token = sessions.open_session(pg.host.store, me, key_rules.public_id(new), hours)
    pg.headers.append(cookie_header(pg.req.environ, SESSION_COOKIE, token, int(hours * 3600)))
    fresh = sessions.lookup(pg.host.store, token)
    if fresh is not None:  # the page's forms carry the new session's token
        pg.session, pg.csrf = fresh, fresh.csrf
    return keys_page(pg, match, new_key=new,
                     message=f"Revoked {revoked} key(s) and made a new one. Copy it now: it is"
                             " shown only once. Update git's credential helper with it.")
