"""Scan functions that fail inside a scan process (tests/scanner/test_scanner_secrets.py names
them through ``secrets._IN_WORKER``; a scan process imports this module by name)."""

from __future__ import annotations

import os
import signal


def exit_3(path: str, data: bytes) -> list[tuple[int, str, str]]:
    os._exit(3)


def killed(path: str, data: bytes) -> list[tuple[int, str, str]]:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def terminated(path: str, data: bytes) -> list[tuple[int, str, str]]:
    os.kill(os.getpid(), signal.SIGTERM)
    raise AssertionError("unreachable")


def broken(path: str, data: bytes) -> list[tuple[int, str, str]]:
    raise ValueError("detect-secrets broke")


def quiet_exit(path: str, data: bytes) -> list[tuple[int, str, str]]:
    os._exit(0)  # "successfully", without sending results
