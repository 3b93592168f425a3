"""The web pages: server-rendered HTML for people in a browser (docs/web.md).

Every page lives under ``/-/`` (``/-/signin``, ``/-/models``, ``/-/keys``, a model at
``/-/m/<space>/<model>``). A space or model name starts with a letter or digit, so no page can
shadow a repository (``/<space>/<model>.git/...``), LFS, the hub's ``/api/...`` or its
``/<space>/<model>/resolve/...``; and a page's address never depends on the ``Accept``
header, so ``curl`` and a browser see the same thing at the same URL.

Every page obeys the same decisions as git and the API: the session's subject goes through
``host.model_decision`` (a private model the person may not see is the same 404 as a missing
one), and all changes go through ``modelgit.services``; this package has no SQL.

Modules: ``context`` (the ``Page`` a handler gets, sessions and cookies, CSRF on every POST,
error pages), ``render`` (Jinja2 with autoescape, the Content-Security-Policy and other
headers), ``static`` (``/-/static/site.css``), ``signin`` (sign in and out through the brake),
``new_page`` (create a model or a space).

To add a page:

1. write ``def my_page(pg: Page, match) -> Response`` in a module of this package: read
   ``pg.req`` (its ``subject`` is the signed-in person), ``pg.form`` (a POST's fields, CSRF
   already checked), call a service, and answer ``pg.render("my_page.html", title=...,
   **values)`` or ``pg.redirect(url)`` after a POST; raise ``NotFound``/``Forbidden``/
   ``Invalid`` from ``modelgit.errors`` for an error page;
2. add ``templates/my_page.html`` with ``{% extends "base.html" %}`` and a ``content``
   block; every form carries ``{{ csrf_field() }}`` (``{% from "macros.html" import
   csrf_field %}``) - a POST without it is refused with 403;
3. register it below: ``add("GET", r"/-/my-page", my_page)``, with ``signed_in=True`` when
   a signed-out visitor should be sent to sign in first.

No inline ``<script>`` or ``style=``: the policy refuses them; styles go in
``static/site.css``, scripts in a file under ``static/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelgit.http.web import (
    admin,
    download,
    gate,
    home,
    keys_page,
    members,
    model_page,
    models_list,
    new_page,
    review,
    scans_page,
    signin,
    static,
)
from modelgit.http.web.context import PageHandler, page

if TYPE_CHECKING:
    from modelgit.http.routes import Host

#: A model's pages: ``/-/m/<space>/<model>`` (the name rules are checked by the access check).
MODEL_PAGE = r"/-/m/(?P<space>[^/]+)/(?P<model>[^/]+)"


def register(host: Host) -> None:
    """Add the page routes (before git's catch-all; none of them can match a repository)."""

    def add(methods: str | tuple[str, ...], pattern: str, fn: PageHandler, *,
            signed_in: bool = False) -> None:
        host.add(methods, pattern, page(host, fn, signed_in=signed_in))

    host.add(("GET", "HEAD"), static.PATTERN, static.static_file)
    add("GET", r"/-/?", home.home)
    add("GET", r"/-/signin", signin.signin_form)
    add("POST", r"/-/signin", signin.signin)
    add("POST", r"/-/signout", signin.signout)
    add("GET", r"/-/models", models_list.model_list)
    add("GET", r"/-/new", new_page.new_page, signed_in=True)
    add("POST", r"/-/new", new_page.create_model, signed_in=True)
    add("GET", r"/-/spaces/new", new_page.new_page, signed_in=True)
    add("POST", r"/-/spaces/new", new_page.create_space, signed_in=True)
    add("GET", r"/-/keys", keys_page.keys_page, signed_in=True)
    add("POST", r"/-/keys/create", keys_page.create_key, signed_in=True)
    add("POST", r"/-/keys/revoke", keys_page.revoke_key, signed_in=True)
    add("POST", r"/-/keys/regenerate", keys_page.regenerate_keys, signed_in=True)
    add("GET", MODEL_PAGE, model_page.model_page)
    add("GET", MODEL_PAGE + r"/commits", model_page.commits_page)
    add("GET", MODEL_PAGE + r"/download", download.download)
    _register_management(add)


def _register_management(add: Any) -> None:
    """The gate, review queue, members and settings, scans, space and admin pages."""
    m = MODEL_PAGE
    add("GET", m + r"/access", gate.gate_page)
    add("POST", m + r"/access", gate.send_request, signed_in=True)
    add("GET", m + r"/requests", review.review_page, signed_in=True)
    add("POST", m + r"/requests/decide", review.decide_request, signed_in=True)
    add("POST", m + r"/requests/grant", review.grant_access, signed_in=True)
    add("POST", m + r"/requests/notify", review.notify_settings, signed_in=True)
    add("GET", m + r"/requests/report\.(?P<kind>csv|json)", review.report, signed_in=True)
    add("GET", m + r"/settings", members.settings_page, signed_in=True)
    add("POST", m + r"/settings/grant", members.grant_role, signed_in=True)
    add("POST", m + r"/settings/revoke", members.revoke_role, signed_in=True)
    add("POST", m + r"/settings/save", members.save_settings, signed_in=True)
    add("POST", m + r"/settings/delete", members.delete_model, signed_in=True)
    add("GET", m + r"/scans", scans_page.scans_page)
    add("POST", m + r"/scans/run", scans_page.run_scan, signed_in=True)
    add("GET", r"/-/s/(?P<space>[^/]+)", members.space_page)
    add("POST", r"/-/s/(?P<space>[^/]+)/grant", members.space_grant, signed_in=True)
    add("POST", r"/-/s/(?P<space>[^/]+)/revoke", members.space_revoke, signed_in=True)
    add("GET", r"/-/admin/users", admin.users_page, signed_in=True)
    add("POST", r"/-/admin/users/add", admin.add_user, signed_in=True)
    add("POST", r"/-/admin/users/flag", admin.set_flag, signed_in=True)
    add("POST", r"/-/admin/users/remove", admin.remove_user, signed_in=True)
    add("GET", r"/-/admin/audit", admin.audit_page, signed_in=True)
