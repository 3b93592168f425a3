"""The ``git`` processes modelgit starts, each with an environment it chose.

In process (pygit2) is the rule; a process is started only where git does something libgit2
does not (``http-backend``, ``init``, ``update-ref``'s compare-and-swap with git's reflog and
locking, ``push``) or where it streams a large blob without holding it in memory
(``cat-file``). Every invocation drops the caller's ``GIT_*`` variables unless it passes an
environment on purpose (a hook's quarantine), so a variable inherited from a hook never points
git at another repository.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, cast

#: Bytes per piece when a blob is streamed from ``git cat-file``.
STREAM_CHUNK = 1 << 20


def clean_env() -> dict[str, str]:
    """This process's environment without git's repository variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def run(git_dir: str | os.PathLike[str], *args: str, input: bytes | None = None,
        env: Mapping[str, str] | None = None, timeout: float | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    """``git --git-dir <git_dir> <args>``, output captured, never raising for the exit code.

    ``env`` replaces the clean environment (a hook passes its quarantine variables, whose
    relative paths are relative to the repository: git runs there).
    """
    return subprocess.run(["git", "--git-dir", os.fspath(git_dir), *args], input=input,
                          capture_output=True, check=False, cwd=git_dir, timeout=timeout,
                          env=dict(env) if env is not None else clean_env())


def stream_blob(git_dir: str | os.PathLike[str], oid: str, first: int = 0,
                length: int | None = None, env: Mapping[str, str] | None = None
                ) -> Iterator[bytes]:
    """A blob's bytes ``[first, first + length)`` from ``git cat-file`` in 1 MiB pieces (git
    streams big blobs itself, so memory stays flat); the process is killed when the consumer
    stops early (a client that went away)."""
    proc = subprocess.Popen(["git", "--git-dir", os.fspath(git_dir), "cat-file", "blob", oid],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=git_dir,
                            env=dict(env) if env is not None else clean_env())
    out = cast(IO[bytes], proc.stdout)
    try:
        skip = first
        while skip > 0:
            data = out.read(min(STREAM_CHUNK, skip))
            if not data:
                return
            skip -= len(data)
        remaining = length
        while remaining is None or remaining > 0:
            data = out.read(STREAM_CHUNK if remaining is None else min(STREAM_CHUNK, remaining))
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data
    finally:
        proc.kill()
        proc.wait()
        out.close()


def blob_head(git_dir: str | os.PathLike[str], oid: str, count: int,
              env: Mapping[str, str] | None = None) -> bytes:
    """The first ``count`` bytes of a (large) blob without reading the rest."""
    return b"".join(stream_blob(git_dir, oid, 0, count, env))


@functools.cache
def http_backend() -> str:
    """The ``git-http-backend`` program itself: ``git http-backend`` would start the ``git``
    wrapper first, ~5 ms more on every request."""
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                               check=True, env=clean_env()).stdout.strip()
    program = os.path.join(exec_path, "git-http-backend")
    if not os.access(program, os.X_OK):
        raise FileNotFoundError(f"git-http-backend not found in {exec_path}")
    return program


def init_bare(path: Path, default_branch: str, config: Mapping[str, str]) -> None:
    """``git init --bare`` with ``config`` written into the new repository's own config."""
    subprocess.run(["git", "init", "--bare", "--quiet", f"--initial-branch={default_branch}",
                    str(path)], check=True, capture_output=True, env=clean_env())
    for key, value in config.items():
        subprocess.run(["git", "config", "--file", str(path / "config"), key, value],
                       check=True, capture_output=True, env=clean_env())


def update_ref(git_dir: str | os.PathLike[str], ref: str, new: str, old: str,
               message: str) -> subprocess.CompletedProcess[bytes]:
    """Move ``ref`` from ``old`` to ``new`` only if it still is ``old`` (compare-and-swap)."""
    return run(git_dir, "update-ref", "-m", message, ref, new, old)
