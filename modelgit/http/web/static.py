"""The pages' own files (one style sheet, one small script), served from the package."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from modelgit.http.responses import Response, text
from modelgit.http.web.render import SECURITY_HEADERS, STATIC

if TYPE_CHECKING:
    from modelgit.http.request import Request

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
#: The route's pattern: a plain file name, nothing that climbs out of the folder.
PATTERN = r"/-/static/(?P<name>[a-z0-9][a-z0-9_-]*\.(?:css|js))"


def static_file(req: Request, match: re.Match[str]) -> Response:
    name = match.group("name")
    path = STATIC / name
    suffix = path.suffix
    if suffix not in TYPES or not path.is_file():
        return text(404, "modelgit: not found")
    body = path.read_bytes()
    hdrs = [("Content-Type", TYPES[suffix]), ("Content-Length", str(len(body))),
            ("Cache-Control", "public, max-age=300")]
    hdrs += [h for h in SECURITY_HEADERS if h[0] != "Cache-Control"]
    return "200 OK", hdrs, [body]
