"""What every page handler gets (``Page``), and the wrapper that makes a route a page.

``page(host, fn)`` reads the session cookie, puts the session's subject on the request (so
``host.model_decision`` answers for the signed-in person, exactly as for their key in git),
checks the CSRF token of every POST before ``fn`` runs, and turns the error hierarchy into an
error page. Cookies:

* ``mg_session``: the session token (HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS);
* ``mg_csrf``: before sign-in, a random value every signed-out form repeats (double submit),
  so that another site cannot sign a browser in to an account of its choosing.

Signed in, a form carries the session's own CSRF secret instead.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from modelgit.errors import ModelgitError
from modelgit.http.auth import ANONYMOUS, AuthResult
from modelgit.http.request import BodyError, Request, read_body
from modelgit.http.responses import Response
from modelgit.http.web.render import html, redirect
from modelgit.services import sessions
from modelgit.services.sessions import Session

if TYPE_CHECKING:
    from modelgit.http.routes import Host

SESSION_COOKIE = "mg_session"
CSRF_COOKIE = "mg_csrf"
#: The largest form body a page reads.
FORM_LIMIT = 64 * 1024


def is_https(environ: dict[str, Any]) -> bool:
    """Did the browser come over HTTPS? ``wsgi.url_scheme``, or ``X-Forwarded-Proto`` - which
    the server layer keeps only from the local web server on the unix socket and drops from
    every TCP peer (as :mod:`modelgit.urls` trusts it)."""
    forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
    if forwarded in ("http", "https"):
        return forwarded == "https"
    return environ.get("wsgi.url_scheme") == "https"


def cookie_header(environ: dict[str, Any], name: str, value: str, max_age: int) -> tuple[str, str]:
    """A ``Set-Cookie`` the page's script can never read, sent back on top-level navigation
    from elsewhere only for GET (SameSite=Lax), and only over HTTPS when it came by HTTPS."""
    secure = "; Secure" if is_https(environ) else ""
    return ("Set-Cookie",
            f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")


def read_cookies(environ: dict[str, Any]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(str(environ.get("HTTP_COOKIE") or ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def read_form(environ: dict[str, Any]) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body within :data:`FORM_LIMIT`; the first
    value of each field. Anything else is answered 415 by the caller."""
    ctype = str(environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise BodyError(415, "this page takes a form; send it from the page itself")
    raw = read_body(environ, FORM_LIMIT)
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise BodyError(400, "the form could not be read; send it again from the page") from None
    return {k: v[0] for k, v in fields.items()}


@dataclass
class Page:
    """One page request: the app as a ``Host``, the request (its subject is the session's),
    the session if signed in, the posted form, and the CSRF token the page's forms carry."""

    host: Host
    req: Request
    session: Session | None
    csrf: str
    form: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def user(self) -> str | None:
        return self.req.subject.user

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """The template with what the layout needs (who is signed in, the CSRF token)."""
        base = {"user": self.user, "is_admin": self.req.subject.is_admin, "csrf": self.csrf,
                "path": self.req.path, "title": ""}
        base.update(values)
        return html(status, template, base, self.headers)

    def redirect(self, location: str) -> Response:
        return redirect(location, self.headers)

    def error(self, status: int, title: str, lines: list[str]) -> Response:
        return self.render("error.html", status, title=title, lines=lines)


PageHandler = Callable[[Page, "re.Match[str]"], Response]


def signin_url(req: Request) -> str:
    query = str(req.environ.get("QUERY_STRING") or "")
    here = req.path + ("?" + query if query else "")
    return "/-/signin?next=" + quote(here, safe="")


def page(host: Host, fn: PageHandler, *, signed_in: bool = False
         ) -> Callable[[Request, re.Match[str]], Response]:
    """Make ``fn`` a route handler: session, CSRF check on POST, error pages.
    ``signed_in``: a signed-out visitor is sent to the sign-in page and back."""

    def handler(req: Request, match: re.Match[str]) -> Response:
        cookies = read_cookies(req.environ)
        session = sessions.lookup(host.store, cookies.get(SESSION_COOKIE))
        headers: list[tuple[str, str]] = []
        if session is not None:
            subject = session.subject
            auth = AuthResult(subject, presented=True, failed=False, claimed_user=subject.user)
            csrf = session.csrf
        else:
            auth = AuthResult(ANONYMOUS, presented=False, failed=False)
            csrf = cookies.get(CSRF_COOKIE) or ""
            if not re.fullmatch(r"[A-Za-z0-9_-]{32,64}", csrf):
                csrf = secrets.token_urlsafe(32)
                headers.append(cookie_header(req.environ, CSRF_COOKIE, csrf, 86400))
            if cookies.get(SESSION_COOKIE):  # expired or ended elsewhere: forget it
                headers.append(cookie_header(req.environ, SESSION_COOKIE, "", 0))
        pg = Page(host, Request(req.environ, auth), session, csrf, headers=headers)
        try:
            if req.method == "POST":
                pg.form = read_form(req.environ)
                if not sessions.same_secret(csrf, pg.form.get("csrf")):
                    return pg.error(403, "This form has expired", [
                        "The form was sent without its security token, or with an old one"
                        " (another tab may have signed you out or in).",
                        "Go back, reload the page and send the form again."])
            if signed_in and session is None:
                return pg.redirect(signin_url(req))
            return fn(pg, match)
        except BodyError as err:
            return pg.error(err.status, "The form could not be read", [str(err)])
        except ModelgitError as err:
            return pg.error(err.status, _TITLES.get(err.status, "Something went wrong"),
                            err.lines())

    return handler


_TITLES = {400: "That did not work", 401: "Please sign in", 403: "Not allowed",
           404: "Not found", 409: "That did not work", 413: "Too large",
           422: "That did not work", 429: "Too many attempts", 503: "Try again later"}
