"""How a sync task fails: one line a person can act on, never carrying the region key.

Every step raises :class:`SyncFailure`; the attempt records its message as the task's error.
"""

from __future__ import annotations

#: Longest error text kept (one line).
MAX_ERROR = 600


class SyncFailure(Exception):
    """Why a task failed, in one line a person can act on (it becomes the task's error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[:MAX_ERROR - 1] + "…"


def scrub(text: str, key: str | None) -> str:
    """Belt and braces: no message that leaves the sync package may carry the key."""
    return text.replace(key, "[region key]") if key else text
