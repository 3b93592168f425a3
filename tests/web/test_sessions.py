"""Sign-in sessions at the HTTP level: the cookie's attributes, CSRF on every form, the
security headers, sign-out and a revoked key ending the session, the brake on sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Site
from tests.helpers.site import make_site
from tests.helpers.webclient import Client


def test_signin_sets_a_safe_cookie_and_the_page_shows_who(site: Site) -> None:
    key = site.user("carol")
    client = Client(site.port)
    answer = client.sign_in("carol", key)
    session = [c for c in answer.set_cookies if c.startswith("mg_session=")]
    assert len(session) == 1
    attrs = [a.strip().lower() for a in session[0].split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert "secure" not in attrs  # plain HTTP here; see the HTTPS test below
    assert answer.headers["Location"] == "/-/models"
    home = client.get("/-/signin")  # signed in: the form sends you on
    assert home.status == 303
    assert key not in answer.body and all(key not in c for c in answer.set_cookies)


def test_cookie_is_secure_when_the_request_came_over_https(site: Site) -> None:
    """A TCP peer cannot claim HTTPS with X-Forwarded-Proto (the server drops it), so the
    cookie stays without Secure; the rule itself is checked on the WSGI environ."""
    from modelgit.http.web.context import cookie_header

    assert "Secure" in cookie_header({"wsgi.url_scheme": "https"}, "a", "b", 1)[1]
    assert "Secure" in cookie_header({"HTTP_X_FORWARDED_PROTO": "https"}, "a", "b", 1)[1]
    assert "Secure" not in cookie_header({"wsgi.url_scheme": "http"}, "a", "b", 1)[1]
    client = Client(site.port)
    answer = client.request("GET", "/-/signin", headers={"X-Forwarded-Proto": "https"})
    assert all("Secure" not in c for c in answer.set_cookies)


def test_wrong_key_is_refused_with_a_reason_and_no_cookie(site: Site) -> None:
    site.user("dave")
    client = Client(site.port)
    token = client.get("/-/signin").csrf()
    answer = client.post("/-/signin", {"csrf": token, "user": "dave",
                                       "key": "mg_" + "x" * 40})  # pragma: allowlist secret
    assert answer.status == 401
    assert "Wrong user name or key" in answer.body
    assert "mg_session" not in client.cookies


def test_post_without_csrf_is_refused_with_a_page(site: Site) -> None:
    key = site.user("erin")
    client = Client(site.port)
    client.get("/-/signin")
    answer = client.post("/-/signin", {"user": "erin", "key": key})
    assert answer.status == 403
    assert "security token" in answer.body
    assert "mg_session" not in client.cookies
    client.sign_in("erin", key)
    refused = client.post("/-/signout", {})  # no token at all
    assert refused.status == 403
    wrong = client.post("/-/signout", {"csrf": "x" * 43})
    assert wrong.status == 403
    assert client.get("/-/signin").status == 303  # still signed in


def test_every_page_has_a_strict_policy(site: Site) -> None:
    answer = Client(site.port).get("/-/signin")
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in answer.body and "style=" not in answer.body
    css = Client(site.port).get("/-/static/site.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    assert Client(site.port).get("/-/static/..%2Fcontext.py").status == 404


def test_signout_ends_the_session_even_for_a_kept_cookie(site: Site) -> None:
    key = site.user("frank")
    client = Client(site.port)
    client.sign_in("frank", key)
    cookie = client.cookies["mg_session"]
    token = _token(client)
    out = client.post("/-/signout", {"csrf": token})
    assert out.status == 303
    assert "mg_session" not in client.cookies
    replay = Client(site.port, {"mg_session": cookie})
    assert replay.get("/-/signin").status == 200  # the old cookie opens nothing


def test_revoking_the_key_ends_its_sessions(site: Site) -> None:
    key = site.user("gina")
    client = Client(site.port)
    client.sign_in("gina", key)
    assert client.get("/-/signin").status == 303
    site.cli("key", "revoke", key[:11], "--yes")
    assert client.get("/-/signin").status == 200


def test_next_never_leaves_the_site(site: Site) -> None:
    key = site.user("hank")
    client = Client(site.port)
    token = client.get("/-/signin").csrf()
    answer = client.post("/-/signin", {"csrf": token, "user": "hank", "key": key,
                                       "next": "//evil.example/x"})
    assert answer.headers["Location"] == "/-/models"


def _token(client: Client) -> str:
    """The signed-in CSRF token, from any page with the sign-out form."""
    return client.get("/-/models").csrf()


@pytest.fixture(scope="module")
def braked_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = make_site(Path(tmp_path_factory.mktemp("braked")),
                  {"auth": {"max_failures": 3, "max_failures_per_address": 1000}})
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_signin_is_braked_after_repeated_failures(braked_site: Site) -> None:
    key = braked_site.user("ivy")
    client = Client(braked_site.port)
    for _ in range(3):
        token = client.get("/-/signin").csrf()
        bad = client.post("/-/signin", {"csrf": token, "user": "ivy",
                                        "key": "mg_" + "y" * 40})  # pragma: allowlist secret
        assert bad.status == 401
    token = client.get("/-/signin").csrf()
    stopped = client.post("/-/signin", {"csrf": token, "user": "ivy", "key": key})
    assert stopped.status == 429
    assert "Try again in" in stopped.body
    assert "mg_session" not in client.cookies
