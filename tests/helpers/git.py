"""Real git for the tests, without the person's configuration (conftest.py's
session fixture sets HOME and GIT_CONFIG_NOSYSTEM): a failure shows what git said.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

#: git-lfs's filters for one git command, without touching any config file.
LFS_ENV = {
    "GIT_CONFIG_COUNT": "4",
    "GIT_CONFIG_KEY_0": "filter.lfs.process", "GIT_CONFIG_VALUE_0": "git-lfs filter-process",
    "GIT_CONFIG_KEY_1": "filter.lfs.smudge", "GIT_CONFIG_VALUE_1": "git-lfs smudge -- %f",
    "GIT_CONFIG_KEY_2": "filter.lfs.clean", "GIT_CONFIG_VALUE_2": "git-lfs clean -- %f",
    "GIT_CONFIG_KEY_3": "filter.lfs.required", "GIT_CONFIG_VALUE_3": "true",
}


def git(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
        check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real git; on failure show what git said."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, input=input.decode() if input else None, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def commit_file(repo: Path, name: str, content: str | bytes, message: str = "change") -> str:
    target = repo / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    git("add", name, cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def sha256_file(path: Path) -> str:
    """sha256 of a (large) file, read in pieces: LFS objects are named by it."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
