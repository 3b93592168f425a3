"""The compiled hook forwarder (``forward.c``): built once per installation when a C compiler
is there, so that a push does not start Python twice just to talk to the server.

Starting the Python shim costs ~20 ms here (``python -I -S`` alone is ~15 ms), and git runs
two hooks per push: ~40 ms of a small push that takes ~60 ms on a plain host. The forwarder
does what ``forward.py`` does in ~1 ms and starts the Python shim itself when no server
answers, so the cold path, legacy hooks and every check stay in Python. Without a compiler
nothing changes: the hooks start Python as before.

The binary sits beside the interpreter the hooks run (the virtualenv's ``bin``) under one
name, with the sha256 of the source it was built from beside it. Every hook of the
installation runs that one file, so when an upgrade changes the source, the next build
(``modelgit serve`` starting, a model created, ``hooks install``, install.sh) replaces it and
hooks written long ago speak the new version's protocol with the new server.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

log = logging.getLogger("modelgit.hooks")

SOURCE = "forward.c"
NAME = "modelgit-hook-forward"
COMPILE_TIMEOUT = 120


def _source() -> bytes:
    return resources.files("modelgit.hooks").joinpath(SOURCE).read_bytes()


def target_path(python: str | None = None) -> Path:
    """Where the forwarder lives for the hooks of ``python``."""
    return Path(python or sys.executable).parent / NAME


def _stamp(target: Path) -> Path:
    return target.with_name(f"{target.name}.source-sha256")


@functools.cache
def forwarder(python: str | None = None) -> str | None:
    """The compiled forwarder's absolute path, built now if it is missing or was built from
    another source; None when it cannot be built (no compiler, a read-only folder, a compiler
    error), and the hooks then start Python. Built under a temporary name and renamed, so
    concurrent builds are safe and a hook running the old file keeps it to the end."""
    try:
        source = _source()
    except OSError as exc:  # the source is missing from the installed package
        log.warning("hook forwarder source unreadable (%s); hooks start Python", exc)
        return None
    digest = hashlib.sha256(source).hexdigest()
    target = target_path(python)
    if os.access(target, os.X_OK) and _read(_stamp(target)) == digest:
        return str(target)
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None or not os.access(target.parent, os.W_OK):
        log.info("hook forwarder not built (%s): hooks start Python to reach the server",
                 "no C compiler" if compiler is None else f"{target.parent} is read-only")
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="modelgit-cc-") as scratch:
            (Path(scratch) / SOURCE).write_bytes(source)
            built = Path(scratch) / "forward"
            subprocess.run([compiler, "-O2", "-o", str(built), str(Path(scratch) / SOURCE)],
                           check=True, capture_output=True, timeout=COMPILE_TIMEOUT)
            _replace(target, built.read_bytes(), 0o755)
            _replace(_stamp(target), digest.encode(), 0o644)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log.warning("could not build the hook forwarder (%s) %s; hooks start Python instead",
                    exc, detail.decode("utf-8", "replace")[:500])
        return None
    return str(target)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _replace(target: Path, content: bytes, mode: int) -> None:
    """Write ``content`` beside ``target`` and rename it over ``target`` (atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
