"""Two front ends on one data folder both start a warm-hook server: the newest takes
``run/hooks.sock``, and the older one stopping leaves the newer one's socket in place."""

from __future__ import annotations

import socket
from pathlib import Path

from modelgit.hooks.warm import HookServer, socket_path


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True


def test_an_older_server_stopping_keeps_the_newer_ones_socket(tmp_path: Path) -> None:
    first = HookServer(tmp_path)
    first.start()
    second = HookServer(tmp_path)
    second.start()
    path = socket_path(tmp_path)
    try:
        first.close()
        assert path.exists() and _answers(path)
    finally:
        second.close()
    assert not path.exists()
