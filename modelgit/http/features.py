"""Which feature modules fill the route table, in the order their routes are tried.

The one place that names every feature: git's smart protocol first (the hot path), then the
nginx auth_request hook, LFS, the gating API and the hub API, then the hub API's answers for
what it does not offer, the web pages (all under ``/-/``), and git's catch-all under a model's
path last, so it never shadows another feature's route.
"""

from __future__ import annotations

from collections.abc import Callable

from modelgit.http import authreq, gating_api, git, hub, lfs, web
from modelgit.http.routes import Host

FEATURES: tuple[Callable[[Host], None], ...] = (
    git.register,
    authreq.register,
    lfs.register,
    gating_api.register,
    hub.register,
    hub.register_not_offered,
    web.register,
    git.register_fallback,
)
