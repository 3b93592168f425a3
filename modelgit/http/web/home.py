"""The pages' front door: ``/-/`` and ``/-/web`` lead to the model list."""

from __future__ import annotations

import re

from modelgit.http.responses import Response
from modelgit.http.web.context import Page


def home(pg: Page, match: re.Match[str]) -> Response:
    return pg.redirect("/-/models")
