"""HTML answers: Jinja2 templates (autoescaped) and the security headers every page carries.

The Content-Security-Policy allows nothing but this site's own files: no inline script or
style, no other origin, no framing, forms posting only here. A card or a name that slipped
past escaping still could not run a script.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from modelgit.http.responses import Response, status_line

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
       " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Headers on every page: the policy above, no framing (old browsers too), no sniffing, no
#: caching of pages that carry a CSRF token or private data, no Referer to other sites.
SECURITY_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]


@cache
def environment() -> Environment:
    """One Jinja2 environment per process: autoescape on for every template, and an unknown
    variable is an error rather than an empty string."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def html(status: int, template: str, values: dict[str, Any],
         headers: list[tuple[str, str]] | None = None) -> Response:
    """A rendered page with its length and the security headers."""
    body = environment().get_template(template).render(**values).encode("utf-8")
    hdrs = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    return status_line(status), hdrs + SECURITY_HEADERS + (headers or []), [body]


def redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """303 See Other: after a form, the browser GETs the next page (no re-post on reload)."""
    return ("303 See Other", [("Location", location), ("Content-Length", "0")]
            + SECURITY_HEADERS + (headers or []), [b""])


def local_path(target: str | None, default: str = "/-/models") -> str:
    """``target`` when it is a path on this site, else ``default``: a ``next=`` argument
    must not send a person to another site after sign-in (``//evil``, ``/\\evil``, schemes)."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(ch) < 33 for ch in target) or len(target) > 2000):
        return default
    return target
