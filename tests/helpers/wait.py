"""Waiting for something to happen, with a deadline, instead of sleeping a fixed time.

A fixed sleep is either too short on a busy machine (the test flakes) or longer than needed
on an idle one (the suite is slow); a wait on the condition is neither, and when the thing
never happens it fails saying what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How often the condition is looked at: often enough for the tests' sub-second events.
POLL_SECONDS = 0.05


def wait_for(condition: Callable[[], T], timeout: float, what: str | Callable[[], str], *,
             ignore: tuple[type[BaseException], ...] = (),
             poll: float = POLL_SECONDS) -> T:
    """Call ``condition`` until it returns something true and return that value; after
    ``timeout`` seconds fail with "timed out after N s waiting for WHAT".

    ``what`` may be a function, called at the timeout, to say how far things got by then.
    Exceptions of the types in ``ignore`` count as "not yet" (a server that does not
    accept connections yet raises ``OSError``); any other exception propagates at once, so a
    condition may also assert that waiting still makes sense (the server process is alive).
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = condition()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            detail = f" (last error: {last!r})" if last is not None else ""
            text = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {text}{detail}")
        time.sleep(poll)
