"""Which model and which action a git smart-HTTP request path asks for.

Shared by everything that sees a git request before git does: the standalone server, nginx's
``/-/auth`` and Apache's ``credential-check``. The last starts a fresh process per request, so
this module imports only built-in modules at import time (``re`` and ``urllib`` on first use).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is a measurable import for credential-check
if TYPE_CHECKING:
    import re


class GitTarget:
    """A model and the action a git smart-HTTP request needs on it.

    A plain class, not a dataclass: building dataclasses at import time costs the helper's
    start, and this one is made once per process.
    """

    __slots__ = ("action", "model_id")

    def __init__(self, model_id: str, action: str) -> None:
        self.model_id = model_id
        self.action = action  # read | write

    def __repr__(self) -> str:
        return f"GitTarget({self.model_id!r}, {self.action!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GitTarget) and \
            (self.model_id, self.action) == (other.model_id, other.action)

    def __hash__(self) -> int:
        return hash((self.model_id, self.action))


def normalise_prefix(prefix: str | None) -> str:
    """``git``, ``/git/`` and ``/git`` all mean ``/git``; ``""`` and ``/`` mean no prefix."""
    value = (prefix or "").strip().strip("/")
    return f"/{value}" if value else ""


_compiled: list[re.Pattern[str]] = []


def _git_path() -> re.Pattern[str]:
    if not _compiled:
        import re

        _compiled.append(re.compile(
            r"/(?P<space>[^/]+)/(?P<model>[^/]+)\.git/"
            r"(?P<service>info/refs|git-upload-pack|git-receive-pack)"))
    return _compiled[0]


def git_target(path: str, query: str = "", prefix: str | None = "") -> GitTarget | None:
    """Map a request path (and query) under the git prefix to (model, action), or None.

    Only git's smart HTTP paths count; anything else (dumb-protocol files, other URLs, names
    that break the rules) is None, which every caller treats as a refusal. Names are checked
    as they arrive, undecoded: a percent-encoded or dot-segment path never passes, so what is
    checked here is exactly what the web server routes to the backend.
    """
    from modelgit.names import is_model_id

    root = normalise_prefix(prefix)
    if root:
        if not path.startswith(root + "/"):
            return None
        path = path[len(root):]
    match = _git_path().fullmatch(path)
    if match is None:
        return None
    model_id = f"{match['space']}/{match['model']}"
    if not is_model_id(model_id):
        return None
    service = match["service"]
    # Several service= values: any receive-pack makes it a write (the stricter reading).
    asked: list[str] = []
    if query:
        from urllib.parse import parse_qs

        asked = parse_qs(query, keep_blank_values=True).get("service", [])
    write = service == "git-receive-pack" or (
        service == "info/refs" and "git-receive-pack" in asked)
    return GitTarget(model_id, "write" if write else "read")
