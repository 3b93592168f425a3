"""Shared test helpers: a real ``modelgit serve`` on 127.0.0.1, real git, real SQLite.

Every test runs with HOME in a temporary folder and without the system git config, so the
person's own git settings and credentials are never read or written.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelgit.cli.main import cli
from tests.helpers.wait import wait_for

BIN = Path(sys.executable).parent

#: The real tools the suite drives; tests/bootstrap.sh installs them (make test runs it).
REQUIRED_TOOLS = ("git", "git-lfs", "nginx", "fcgiwrap", "apache2", "node", "npm", "shellcheck")

#: git-lfs's filters for one git command, without touching any config file.
LFS_ENV = {
    "GIT_CONFIG_COUNT": "4",
    "GIT_CONFIG_KEY_0": "filter.lfs.process", "GIT_CONFIG_VALUE_0": "git-lfs filter-process",
    "GIT_CONFIG_KEY_1": "filter.lfs.smudge", "GIT_CONFIG_VALUE_1": "git-lfs smudge -- %f",
    "GIT_CONFIG_KEY_2": "filter.lfs.clean", "GIT_CONFIG_VALUE_2": "git-lfs clean -- %f",
    "GIT_CONFIG_KEY_3": "filter.lfs.required", "GIT_CONFIG_VALUE_3": "true",
}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Missing tools stop the run with what to do, rather than skipping what needs them."""
    missing = [t for t in REQUIRED_TOOLS
               if shutil.which(t) is None and shutil.which(t, path="/usr/sbin:/sbin") is None]
    if missing:
        pytest.exit(f"the tests need {', '.join(missing)}: run `bash tests/bootstrap.sh` as root"
                    " (make test does), or install the Debian packages it names", returncode=1)


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    os.environ.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    for var in ("MODELGIT_HOME", "GIT_ASKPASS", "SSH_ASKPASS", "HF_TOKEN", "HF_ENDPOINT"):
        os.environ.pop(var, None)
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], check=True)
    yield
    os.environ.clear()
    os.environ.update(saved)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@dataclass
class HttpAnswer:
    status: int
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes


@dataclass
class Site:
    """A data folder with a running server, and ways to make people and models in it."""

    data: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, ok: bool = True) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--data", str(self.data), *args],
                                    catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"modelgit {' '.join(args)} -> {result.exit_code}\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result.exit_code, result.stdout, result.stderr

    def user(self, name: str, *, admin: bool = False, scope: str = "write",
             email: str = "") -> str:
        """Add a user (if new) and return a fresh key of theirs."""
        self.cli("user", "add", name, *(["--admin"] if admin else []),
                              *(["--email", email] if email else []), ok=False)
        _, out, _ = self.cli("key", "create", name, "--scope", scope)
        key = out.strip()
        self.keys[name] = key
        return key

    def space(self, name: str, owner: str = "owner") -> None:
        if owner not in self.keys:
            self.user(owner, admin=True)
        self.cli("space", "create", name, "--owner", owner, ok=False)

    def model(self, model_id: str, *, owner: str = "owner", public: bool = False,
              gated: str = "off") -> str:
        self.space(model_id.split("/")[0], owner)
        self.cli("model", "create", model_id, "--owner", owner,
                 *(["--public"] if public else []), "--gated", gated)
        return model_id

    def clone_url(self, model_id: str, user: str | None = None, key: str | None = None) -> str:
        if user is None:
            return f"{self.url}/{model_id}.git"
        return f"http://{user}:{key or self.keys[user]}@127.0.0.1:{self.port}/{model_id}.git"

    def http(self, method: str, path: str, *, key: str | None = None, user: str | None = None,
             body: bytes | None = None, headers: dict[str, str] | None = None) -> HttpAnswer:
        req = urllib.request.Request(self.url + path, data=body, method=method)  # noqa: S310
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if key is not None and user is not None:
            token = base64.b64encode(f"{user}:{key}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        elif key is not None:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
                return HttpAnswer(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return HttpAnswer(err.code, err.headers, err.read())

    def start(self) -> None:
        log = open(self.data / "serve-test.log", "ab")  # closed with the process
        self.proc = subprocess.Popen(
            [str(BIN / "modelgit"), "--data", str(self.data), "serve", "--port", str(self.port)],
            stdout=log, stderr=log,
        )
        proc = self.proc

        def answering() -> bool:
            if proc.poll() is not None:
                raise RuntimeError((self.data / "serve-test.log").read_text())
            with urllib.request.urlopen(f"{self.url}/-/health", timeout=1):  # noqa: S310
                return True

        wait_for(answering, 20, "modelgit serve to answer /-/health", ignore=(OSError,))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# Test sites share 127.0.0.1 for every client, so the brute-force brake is set high here;
# tests/http/test_brute_force.py runs it at its default.
TEST_SETTINGS = {"auth": {"max_failures": 10_000, "max_failures_per_address": 10_000}}


def make_site(root: Path, settings: dict[str, object] | None = None) -> Site:
    """A data folder (not yet served); ``settings`` become its config.yaml."""
    import yaml

    data = root / "data"
    site = Site(data=data, port=free_port())
    site.cli("init")
    (data / "config.yaml").write_text(
        yaml.safe_dump(TEST_SETTINGS if settings is None else settings))
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One running server per test module (tests use their own model names)."""
    s = make_site(tmp_path_factory.mktemp("site"))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder for clones."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def sha256_file(path: Path) -> str:
    """sha256 of a (large) file, read in pieces: LFS objects are named by it."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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

