"""The suite's fixtures and session setup: a real ``modelgit serve`` on 127.0.0.1, real git,
real SQLite (the helpers behind them are in tests/helpers/).

Every test runs with HOME in a temporary folder and without the system git config, so the
person's own git settings and credentials are never read or written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.git import LFS_ENV, commit_file, git, sha256_file
from tests.helpers.postgres import Cluster, postgres_installed
from tests.helpers.postgres import shared as shared_cluster
from tests.helpers.site import BIN, TEST_SETTINGS, HttpAnswer, Site, free_port, make_site

# Test modules have long imported these from here; they live in tests/helpers/ now.
__all__ = ["BIN", "LFS_ENV", "TEST_SETTINGS", "HttpAnswer", "Site", "commit_file", "free_port",
           "git", "make_site", "sha256_file"]

#: The real tools the suite drives; tests/bootstrap.sh installs them (make test runs it).
REQUIRED_TOOLS = ("git", "git-lfs", "nginx", "fcgiwrap", "apache2", "node", "npm", "shellcheck",
                  "chromium", "chromedriver")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Missing tools stop the run with what to do, rather than skipping what needs them."""
    missing = [t for t in REQUIRED_TOOLS
               if shutil.which(t) is None and shutil.which(t, path="/usr/sbin:/sbin") is None]
    if not postgres_installed():
        missing.append("postgresql (initdb, pg_ctl)")
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


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_servers() -> Iterator[None]:
    """The SeaweedFS and PostgreSQL cluster this process started stop with the session."""
    yield
    from tests.helpers import postgres, seaweed

    seaweed.stop_shared()
    postgres.stop_shared()


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


@pytest.fixture(scope="session")
def pg_cluster() -> Cluster:
    """One throwaway PostgreSQL cluster per test process (tests/helpers/postgres.py), the
    one ``MODELGIT_TEST_DATABASE=postgresql`` sites also use."""
    return shared_cluster()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return pg_cluster.new_database()
