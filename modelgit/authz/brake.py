"""The brute-force brake: the one implementation ``modelgit serve``, nginx's ``/-/auth`` and
Apache's ``credential-check`` use. Its state is the store's ``auth_failures`` table, so several
front ends (and the helper processes) share the counts (docs/architecture.md).

Failures are counted per (client address, user name) and per client address:

* ``auth.max_failures`` (default 10) failures for one user from one address in
  ``auth.window_seconds`` stop that user from that address for ``auth.cooldown_seconds``;
* ``auth.max_failures_per_address`` (default 100) failures of any kind from one address stop
  every sign-in from it, the ceiling for someone who guesses many names at once.

Below the ceiling nobody is refused because of someone else's failures: ten wrong keys for
``alice`` from a NAT or a CI runner leave ``bob`` at the same address alone. A failure is
counted under a user name only when the name is an existing user's; anything else that was
sent as a name (a key pasted as the user name, a typo, a random string) is never stored - it
counts towards the address ceiling under the empty name, and the audit row says
``(not a user)``. A request without a name (Bearer, or a key as the user name) is braked by
the address ceiling only, since whose key it was is not known until it is checked.

Light on purpose (``credential-check`` imports it on its cold path): ``time`` and ``re``.
"""

from __future__ import annotations

import re
import time

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any

    from modelgit.config import Config

#: A user name as docs/access.md allows it (``modelgit.names.USER_RE``, repeated here so that the
#: helper does not import more than it needs). A key never matches: it is 43 characters.
_USER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,38}")
#: What the audit row says instead of a name that is no user's.
NOT_A_USER = "(not a user)"


def user_name_or_empty(claimed: str | None) -> str:
    """The name if it has a user name's shape, else ``""``: what the brake may look up."""
    if claimed and _USER_NAME.fullmatch(claimed) and ".." not in claimed:
        return claimed
    return ""


class Brake:
    """Counts failed sign-ins in the store and says when to refuse."""

    __slots__ = ("cooldown", "max_failures", "max_per_address", "store", "window")

    def __init__(self, store: Any, *, max_failures: int, max_per_address: int,
                 window_seconds: float, cooldown_seconds: float) -> None:
        self.store = store
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window = window_seconds
        self.cooldown = cooldown_seconds

    @classmethod
    def from_config(cls, store: Any, cfg: Config) -> Brake:
        return cls(store, max_failures=int(cfg.get("auth.max_failures")),
                   max_per_address=int(cfg.get("auth.max_failures_per_address")),
                   window_seconds=float(cfg.get("auth.window_seconds")),
                   cooldown_seconds=float(cfg.get("auth.cooldown_seconds")))

    def retry_after(self, address: str, claimed: str | None, now: float | None = None) -> int:
        """Seconds to wait before signing in as ``claimed`` from ``address``; 0 to go on.

        One indexed query (the address's rows in the window). ``claimed`` is what the client
        sent as its user name, or None; a name that is not a user's has no count of its own.
        """
        now = time.time() if now is None else now
        name = user_name_or_empty(claimed)
        pair, from_address, newest = self.store.auth_failures_since(
            address, name, now - self.window)
        if (name and pair >= self.max_failures) or from_address >= self.max_per_address:
            return max(1, int((newest or now) + self.cooldown - now + 0.999))
        return 0

    def record(self, address: str, claimed: str | None, *, target: str, name_sent: bool = True,
               detail: dict[str, Any] | None = None, now: float | None = None) -> None:
        """Count a failure and write its audit row: never the name sent unless it is a user's
        (so a key typed as the user name is stored nowhere). ``name_sent``: a user name came
        with the request, even if the caller already dropped it (``claimed`` None)."""
        name = user_name_or_empty(claimed)
        if name and self.store.get_user(name) is None:
            name = ""
        info = dict(detail or {})
        if (claimed or name_sent) and not name:
            info["name"] = NOT_A_USER
        self.store.record_auth_failure(address, name, time.time() if now is None else now)
        self.store.audit("auth.denied", actor=name or None, target=target, address=address,
                         detail=info)
