"""The route table of the HTTP front end and what a feature module may ask of the app.

Modelled on dulwich's ``HTTPGitApplication.services``: an ordered list of
``(methods, regex, handler)`` entries; the first whose regex matches the path answers. Feature
modules fill it through ``Host.add`` and see the app only as a ``Host``, so none of them imports
the app and the app learns the features from ``modelgit.http.features`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from modelgit.authz.decide import Decision
    from modelgit.config import Config
    from modelgit.http.request import Request
    from modelgit.http.responses import Response
    from modelgit.store import Store

Handler = Callable[["Request", "re.Match[str]"], "Response"]


@dataclass(frozen=True)
class Route:
    """One entry: the methods it answers, the whole path it matches, and who answers."""

    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    handler: Handler


def route(methods: str | tuple[str, ...], pattern: str, handler: Handler) -> Route:
    """A route whose regex must match the whole path."""
    ms = (methods,) if isinstance(methods, str) else methods
    return Route(ms, re.compile("^" + pattern + "$"), handler)


class Host(Protocol):
    """What a feature module needs from the app: its settings and store, the route table to add
    to, and the one access check with its explanation and brute-force brake."""

    cfg: Config
    store: Store

    def add(self, methods: str | tuple[str, ...], pattern: str, handler: Handler) -> None: ...

    def model_decision(self, req: Request, model_id: str, action: str
                       ) -> tuple[Decision, dict[str, Any] | None]: ...

    def explain(self, decision: Decision, model_id: str, req: Request) -> Decision: ...

    def brake_seconds(self, environ: dict[str, Any], header: str) -> int: ...

    def record_failure(self, req: Request) -> None: ...
