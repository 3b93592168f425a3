"""One real install.sh for the whole session, shared by the pytest-xdist workers.

Making the virtual environment and pip-installing this checkout into it is most of
install.sh's time (about half a minute here, more on a busy machine). It is done once, for
real, by the first worker that needs it, in a folder named after the test session (the xdist
controller's process id, which every worker sees as its parent) and guarded by a lock file;
the web server tests then run install.sh on their own hosts with ``MODELGIT_INSTALL_PYTHON``
pointing at it, the path install.sh offers for exactly this. The last worker using it
removes it, and a later session removes what a killed one left behind.

``MODELGIT_TEST_INSTALL_PYTHON=/path/to/python`` skips the build (that Python must have
modelgit installed, and as root be runnable by www-data).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.webhosts import (
    APACHE_USER,
    IS_ROOT,
    KEY_RE,
    Installed,
    Layout,
    SharedInstall,
    chown_tree,
    run_install,
    sbin,
)

STEM = f"modelgit-shared-install-{os.geteuid()}-"


def _session_pid() -> int:
    """xdist workers are children of the controller; a plain run is its own session."""
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(tmp: Path) -> None:
    """Remove what sessions that were killed left behind."""
    for old in tmp.glob(STEM + "*"):
        suffix = old.name.removeprefix(STEM).removesuffix(".done")
        if suffix.isdigit() and not _alive(int(suffix)):
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _locked(folder: Path) -> Iterator[bool]:
    """Hold the folder's lock; True while the folder is still the live one (the last user
    retires it by renaming it away under the lock)."""
    try:
        lock = open(folder / ".lock", "a")
    except FileNotFoundError:
        yield False
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            live = os.stat(folder / ".lock").st_ino == os.fstat(lock.fileno()).st_ino
        except FileNotFoundError:
            live = False
        yield live


def _service_user() -> str:
    import pwd

    if IS_ROOT:
        try:
            pwd.getpwnam(APACHE_USER)
            return APACHE_USER
        except KeyError:
            return "root"
    return pwd.getpwuid(os.geteuid()).pw_name


def _record(run: Installed) -> dict[str, object]:
    return {"returncode": run.returncode, "seconds": round(run.seconds, 1),
            "keys_printed": len(run.keys_printed),
            "stdout": KEY_RE.sub("mg_<key>", run.stdout),
            "stderr": KEY_RE.sub("mg_<key>", run.stderr)}


@pytest.fixture(scope="session")
def shared_install() -> Iterator[SharedInstall]:
    """The real install (default path: venv + pip), run twice, once per test session."""
    given = os.environ.get("MODELGIT_TEST_INSTALL_PYTHON")
    if given:
        yield SharedInstall(given, [])
        return
    tmp = Path(tempfile.gettempdir())
    _sweep(tmp)
    folder = tmp / f"{STEM}{_session_pid()}"
    web = "nginx" if sbin("nginx") and sbin("fcgiwrap") else "apache"
    lay = Layout(base=folder, web=web, service_user=_service_user())
    results = folder / "results.json"
    for _ in range(5):
        folder.mkdir(exist_ok=True)
        if folder.is_symlink() or folder.stat().st_uid != os.geteuid():
            raise RuntimeError(f"{folder} is not this user's own folder")
        folder.chmod(0o755)  # Apache's user (as root: www-data) runs the venv's Python
        with _locked(folder) as live:
            if not live:
                continue  # the last user of a finished round retired it just now
            users = folder / "users"
            users.write_text(str(int(users.read_text()) + 1 if users.exists() else 1))
            if not results.exists():
                lay.repos.mkdir(parents=True, exist_ok=True)
                # Owned by the user Apache serves as, like a Debian host's repositories:
                # install.sh must then pick an interpreter that user can run (not one
                # under root's home).
                chown_tree(lay.repos.parent, lay.service_user)
                runs = [run_install(lay)]
                if runs[0].returncode == 0:
                    runs.append(run_install(lay))
                results.write_text(json.dumps([_record(r) for r in runs]))
            break
    else:
        raise RuntimeError(f"could not set up {folder}")
    try:
        yield SharedInstall(str(lay.prefix / "bin" / "python"),
                            json.loads(results.read_text()))
    finally:
        retired: Path | None = None
        with _locked(folder) as live:
            users = folder / "users"
            left = int(users.read_text()) - 1 if live else 1
            if live:
                users.write_text(str(left))
            if live and left <= 0:
                retired = folder.with_name(f"{folder.name}.done")
                shutil.rmtree(retired, ignore_errors=True)
                folder.rename(retired)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
