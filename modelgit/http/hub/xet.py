"""The Xet endpoints: modelgit serves Git LFS, so these say how to switch Xet off."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from modelgit.http.hub.common import XET_HELP_PATH, XET_MESSAGE, HubError
from modelgit.http.request import base_url
from modelgit.http.responses import (
    Response,
    header_text,
    status_line,
)

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


def xet_token(app: Host, req: Request, match: re.Match[str]) -> Response:
    """modelgit serves Git LFS, not Xet: say so, and how to switch the client over.

    The token is fetched by ``hf_xet`` (Rust), which shows only the status and the URL of a
    failed request, never its body. So the answer is a redirect to :data:`XET_HELP_PATH`,
    whose URL itself carries the instruction, and which answers the error (JSON body and
    ``X-Error-Message`` for every other client).
    """
    location = f"{base_url(app, req)}{XET_HELP_PATH}"
    return status_line(307), [("Location", location), ("Content-Length", "0"),
                                   ("X-Error-Message", header_text(XET_MESSAGE)),
                                   ("X-Error-Code", "XetNotSupported")], [b""]


def xet_help(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Where :func:`xet_token` sends the Xet client: the error, said plainly."""
    raise HubError(501, XET_MESSAGE, "XetNotSupported")
