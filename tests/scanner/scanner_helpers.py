"""Shared helpers for the scanner tests: an isolated git, real repositories, a real hook.

Imported by each test module (rather than a conftest.py) so that the autouse fixture is
visible there without clashing with other test folders' conftest modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

GIT_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH", "GIT_CONFIG_GLOBAL",
)


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HOME in tmp and no system config: the person's git settings are never used."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Scanner Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "scanner@example.com")
    for var in GIT_VARS:
        monkeypatch.delenv(var, raising=False)
    git("config", "--global", "init.defaultBranch", "main")
    yield


def git(*args: str, cwd: Path | str | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real git; a failure shows what git said."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def commit(work: Path, files: dict[str, str | bytes | None], message: str = "change") -> str:
    """Write (or delete, for None) files in the work tree, commit them all, return the sha."""
    for name, content in files.items():
        target = work / name
        if content is None:
            git("rm", "-q", name, cwd=work)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        git("add", name, cwd=work)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


HOOK = r'''#!{python}
"""Test pre-receive hook: runs modelgit.scanner inside git's quarantine and reports as JSON."""
import dataclasses, hashlib, json, os, sys
import pygit2
sys.path.insert(0, {root!r})
from modelgit.git.repo import open_path
from modelgit.scanner.blobs import pushed_blobs
from modelgit.scanner.secrets import scan_secrets

updates = [tuple(line.split()) for line in sys.stdin.read().splitlines() if line.strip()]
mode = os.environ.get("SCANNER_TEST_HOOK", "blobs")
env = dict(os.environ) if mode == "secrets-env" else None
blobs = list(pushed_blobs(os.getcwd(), updates, env=env))
if mode == "blobs":
    print("BLOBS " + json.dumps([
        [b.path, b.commit, b.oid, b.size, hashlib.sha1(b.data()).hexdigest()] for b in blobs
    ]))
    print("QUARANTINE " + json.dumps(bool(os.environ.get("GIT_QUARANTINE_PATH"))))
    sys.exit(0)
baseline = None
tips = [new for _old, new, _ref in updates if set(new) != {{"0"}}]
if tips:
    tree = open_path(os.getcwd(), env).get(tips[-1]).peel(pygit2.Commit).tree
    try:
        baseline = tree[".secrets.baseline"].data
    except KeyError:
        pass
findings = scan_secrets(blobs, baseline=baseline)
print("FINDINGS " + json.dumps([dataclasses.asdict(f) for f in findings]))
sys.exit(1 if findings else 0)
'''


def bare_repo(tmp_path: Path, name: str = "origin.git") -> Path:
    """A bare repository with the test pre-receive hook installed."""
    bare = tmp_path / name
    git("init", "-q", "--bare", str(bare))
    hook = bare / "hooks" / "pre-receive"
    root = str(Path(__file__).resolve().parents[2])
    hook.write_text(HOOK.format(python=sys.executable, root=root))
    hook.chmod(0o755)
    return bare


def clone(bare: Path, tmp_path: Path, name: str = "work") -> Path:
    work = tmp_path / name
    git("clone", "-q", str(bare), str(work))
    return work


def push(work: Path, *refspecs: str, mode: str = "blobs") -> tuple[bool, dict[str, object]]:
    """git push over the local file transport; (accepted, what the hook printed by tag)."""
    proc = git("push", "origin", *(refspecs or ("HEAD:refs/heads/main",)), cwd=work,
               check=False, env={"SCANNER_TEST_HOOK": mode})
    out: dict[str, object] = {}
    for line in proc.stderr.splitlines():
        line = line.removeprefix("remote: ").strip()
        tag, _, payload = line.partition(" ")
        if tag in ("BLOBS", "FINDINGS", "QUARANTINE"):
            out[tag] = json.loads(payload)
    out["stderr"] = proc.stderr
    return proc.returncode == 0, out


def rev(repo: Path, name: str) -> str | None:
    proc = git("rev-parse", "--verify", "-q", name, cwd=repo, check=False)
    return proc.stdout.strip() or None


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
