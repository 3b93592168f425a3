"""install.sh refuses clearly, before touching anything, when something it needs is missing
(naming the Debian packages), and its shell is clean (``bash -n``, shellcheck)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.webhosts import INSTALL


def install(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "repos").mkdir(exist_ok=True)
    base = ["--prefix", str(tmp_path / "opt"), "--data", str(tmp_path / "data"),
            "--repos", str(tmp_path / "repos"), "--space", "acme", "--owner", "alice"]
    return subprocess.run(["bash", str(INSTALL), *base, *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60, check=False)


@pytest.mark.parametrize(("web", "env", "package"), [
    ("nginx", {"FCGIWRAP": "/nonexistent/fcgiwrap"}, "fcgiwrap"),
    ("nginx", {"NGINX": "/nonexistent/nginx"}, "nginx"),
    ("apache", {"APACHE2": "/nonexistent/apache2"}, "apache2"),
    ("apache", {"APACHE_MODULES_DIR": "/nonexistent"}, "libapache2-mod-authnz-external"),
    ("nginx", {"PYTHON": "/nonexistent/python3"}, "python3"),
])
def test_refuses_naming_the_package(tmp_path: Path, web: str, env: dict[str, str],
                                    package: str) -> None:
    proc = install(tmp_path, "--web", web, **env)
    assert proc.returncode == 1
    assert f"apt-get install -y {package}" in proc.stderr, proc.stderr
    assert not (tmp_path / "opt").exists() and not (tmp_path / "data").exists()


def test_refuses_an_old_python(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 3.9.2' && exit 0\n"
                    "exit 1\n")
    fake.chmod(0o755)
    proc = install(tmp_path, "--web", "nginx", PYTHON=str(fake))
    assert proc.returncode == 1
    assert "3.11 or newer (found Python 3.9.2" in proc.stderr, proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    ((), "missing --web"),
    (("--web", "lighttpd"), "--web must be nginx or apache"),
    (("--web", "nginx", "--git-prefix", "/"), "--git-prefix must not be empty"),
    (("--web", "nginx", "--git-prefix", "/a b"), "use a plain path"),
    (("--web", "nginx", "--frobnicate", "1"), "unknown option --frobnicate"),
])
def test_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = install(tmp_path, *args)
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr


def test_shell_is_clean() -> None:
    assert subprocess.run(["bash", "-n", str(INSTALL)], check=False).returncode == 0
    assert shutil.which("shellcheck"), "shellcheck missing: run `bash tests/bootstrap.sh`"
    proc = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout
