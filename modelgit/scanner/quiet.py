"""The scanners' own log lines go to modelgit's log, never to a pusher's or an operator's screen.

bandit warns ``Unable to find qualified name for module: run.py`` for every top-level file (it
looks for the module's package on disk, and a blob has no place there), stevedore logs the
plugins it could not load, and detect-secrets puts
its own ``stderr`` handler on its logger when it is imported. None of that is for the person at
the other end of ``git push`` or ``modelgit scan run``.

:func:`relay_logs` gives each such logger one handler that passes its records on to
``modelgit.scanner.thirdparty`` when that logger has somewhere to write (the server's log file;
pytest's capture) and drops them otherwise, and stops them from reaching the root logger, whose
last-resort handler would print them on ``stderr``. It is idempotent and cheap, so every scanner
calls it after importing its third-party module.
"""

from __future__ import annotations

import logging
import threading

#: Where the relayed records go (a child of ``modelgit``: the server's log handlers see them).
TARGET = "modelgit.scanner.thirdparty"
#: Warnings that say nothing about a blob scanned from memory: set to ERROR at the source.
NOISE = {"bandit.core.node_visitor": logging.ERROR}
_lock = threading.Lock()  # scans run in several server threads at once


class _Relay(logging.Handler):
    """Hand a third-party record to modelgit's logger, or drop it if nothing would write it."""

    def emit(self, record: logging.LogRecord) -> None:
        target = logging.getLogger(TARGET)
        if target.isEnabledFor(record.levelno) and target.hasHandlers():
            target.handle(record)


def relay_logs(*names: str) -> None:
    """Route the named third-party loggers (and their children) through modelgit's log."""
    with _lock:
        for name in names:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if not isinstance(handler, _Relay):
                    logger.removeHandler(handler)  # e.g. detect-secrets' own stderr handler
            if not logger.handlers:
                logger.addHandler(_Relay())
            logger.propagate = False
        for name, level in NOISE.items():
            if name.split(".", 1)[0] in names:
                logging.getLogger(name).setLevel(level)
