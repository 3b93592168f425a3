"""The compiled hook forwarder (``forward.c``): built once per installation when a C compiler
is there, so that a push does not start Python twice just to talk to the server.

Starting the Python shim costs ~20 ms here (``python -I -S`` alone is ~15 ms), and git runs
two hooks per push: ~40 ms of a small push that takes ~60 ms on a plain host. The forwarder
does what ``forward.py`` does in ~1 ms and starts the Python shim itself when no server
answers, so the cold path, legacy hooks and every check stay in Python. Without a compiler
nothing changes: the hooks start Python as before.

The binary sits beside the interpreter the hooks run (the virtualenv's ``bin``), named after
a hash of its source, so an upgrade builds a new one and old hooks keep a working one.
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
PREFIX = "modelgit-hook-forward-"
COMPILE_TIMEOUT = 120


def _source() -> bytes:
    return resources.files("modelgit.hooks").joinpath(SOURCE).read_bytes()


def target_path(python: str | None = None) -> Path:
    """Where the forwarder for this source version lives, for the hooks of ``python``."""
    tag = hashlib.sha256(_source()).hexdigest()[:12]
    return Path(python or sys.executable).parent / f"{PREFIX}{tag}"


@functools.cache
def forwarder(python: str | None = None) -> str | None:
    """The compiled forwarder's absolute path, built now if it is missing; None when it
    cannot be built (no compiler, a read-only folder, a compiler error), and the hooks then
    start Python. Built into a temporary name and renamed, so concurrent installs are safe."""
    try:
        target = target_path(python)
    except OSError as exc:  # the source is missing from the installed package
        log.warning("hook forwarder source unreadable (%s); hooks start Python", exc)
        return None
    if os.access(target, os.X_OK):
        return str(target)
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None or not os.access(target.parent, os.W_OK):
        log.info("hook forwarder not built (%s): hooks start Python to reach the server",
                 "no C compiler" if compiler is None else f"{target.parent} is read-only")
        return None
    tmp: str | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="modelgit-cc-") as scratch:
            source = Path(scratch) / SOURCE
            source.write_bytes(_source())
            built = Path(scratch) / "forward"
            subprocess.run([compiler, "-O2", "-o", str(built), str(source)], check=True,
                           capture_output=True, timeout=COMPILE_TIMEOUT)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(fd)
            shutil.copyfile(built, tmp)
            os.chmod(tmp, 0o755)  # noqa: S103  # nosec B103 - run by the hooks, like python
            os.replace(tmp, target)
            tmp = None
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log.warning("could not build the hook forwarder (%s) %s; hooks start Python instead",
                    exc, detail.decode("utf-8", "replace")[:500])
        return None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return str(target)
