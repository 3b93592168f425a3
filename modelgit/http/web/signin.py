"""Sign in with a user name and key, sign out.

The key is checked exactly as git checks it (``modelgit.http.auth``: the name must be the
key's owner's; wrong, revoked and expired keys fail alike), under the same brute-force brake:
a failure is counted per (address, user) in the store, and past the limit the page says how
long to wait. The key itself is never stored, logged or put back into the page.
"""

from __future__ import annotations

import base64
import re

from modelgit.http import auth
from modelgit.http.request import Request
from modelgit.http.responses import Response
from modelgit.http.web.context import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Page,
    cookie_header,
    read_cookies,
)
from modelgit.http.web.render import local_path
from modelgit.services import sessions


def _basic(user: str, key: str) -> str:
    """The form's fields as the Basic header git would send: the brake and the key check
    then read them by the very rules they apply to git."""
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode("ascii")


def signin_form(pg: Page, match: re.Match[str]) -> Response:
    if pg.session is not None:
        return pg.redirect(local_path(pg.req.arg("next")))
    return pg.render("signin.html", title="Sign in", next=local_path(pg.req.arg("next")),
                     name="", message="")


def signin(pg: Page, match: re.Match[str]) -> Response:
    name = pg.form.get("user", "").strip()
    key = pg.form.get("key", "").strip()
    nxt = local_path(pg.form.get("next"))

    def again(status: int, message: str) -> Response:
        return pg.render("signin.html", status, title="Sign in", next=nxt, name=name[:40],
                         message=message)

    if not name or not key:
        return again(400, "Enter your user name and your key (it starts with mg_).")
    header = _basic(name, key)
    retry = pg.host.brake_seconds(pg.req.environ, header)
    if retry:
        return again(429, f"Too many failed sign-ins from your address. Try again in {retry}"
                          " seconds.")
    result = auth.authenticate(pg.host.store, header)
    if result.failed or result.key_id is None or result.subject.user is None:
        pg.host.record_failure(Request(pg.req.environ, result))
        return again(401, "Wrong user name or key, or the key was revoked or has expired."
                          " Ask a site admin for a new key if you lost yours.")
    hours = float(pg.host.cfg.get("web.session_hours") or 12)
    token = sessions.open_session(pg.host.store, result.subject.user, result.key_id, hours)
    pg.headers.append(cookie_header(pg.req.environ, SESSION_COOKIE, token, int(hours * 3600)))
    pg.headers.append(cookie_header(pg.req.environ, CSRF_COOKIE, "", 0))
    return pg.redirect(nxt)


def signout(pg: Page, match: re.Match[str]) -> Response:
    sessions.close_session(pg.host.store, read_cookies(pg.req.environ).get(SESSION_COOKIE))
    pg.headers.append(cookie_header(pg.req.environ, SESSION_COOKIE, "", 0))
    return pg.redirect("/-/signin")
