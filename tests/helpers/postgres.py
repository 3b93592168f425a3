"""A throwaway PostgreSQL cluster from Debian's package for the tests: ``initdb`` and
``pg_ctl`` in a temporary folder, listening on 127.0.0.1 on a free port, with trust
authentication for the one local test role. PostgreSQL refuses to run as root, so when the
tests run as root the cluster runs as ``nobody`` with its folder chowned to it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.ports import free_port

ROLE = "modelgit"


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(
        f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"{name} not found: PostgreSQL is needed for the store tests;"
                           " run tests/bootstrap.sh (apt-get install postgresql)")
    return found


def postgres_installed() -> bool:
    try:
        _bin("initdb")
        _bin("pg_ctl")
    except RuntimeError:
        return False
    return True


@dataclass
class Cluster:
    port: int
    folder: Path
    #: What :func:`cluster` started it with, so that a test can stop it and start it again
    #: on the same port and data folder (tests/e2e/test_postgres_outage.py).
    options: str = ""
    as_user: tuple[str, ...] = ()

    def stop_command(self, mode: str = "immediate") -> list[str]:
        """The command that stops the server (``immediate``: as if it crashed; ``fast``: as
        an administrator would) and waits until it is down."""
        return [*self.as_user, _bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", mode,
                "-w", "stop"]

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run(self.stop_command(mode), check=True, capture_output=True,
                       cwd=self.folder)

    def start(self) -> None:
        """Start it again where it was, waiting until it accepts connections."""
        subprocess.run([*self.as_user, _bin("pg_ctl"), "-D", str(self.folder / "data"),
                        "-o", self.options, "-l", str(self.folder / "log"), "-w", "-t", "60",
                        "start"], check=True, capture_output=True, cwd=self.folder)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def new_database(self, icu_locale: str | None = None) -> str:
        """A fresh empty database (with an ICU locale's collation if given); its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        icu = (f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'"
               if icu_locale else "")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{icu}')  # type: ignore[arg-type]
        return self.url(name)


@contextmanager
def cluster() -> Iterator[Cluster]:
    """Start a cluster; stop it and delete its folder afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="modelgit-pg-"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    port = free_port()
    run = {"check": True, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
           "cwd": folder}
    try:
        subprocess.run([*as_user, _bin("initdb"), "-D", str(data), "-U", ROLE, "-A", "trust",
                        "--no-sync", "-E", "UTF8", "--locale", "C"], **run)  # type: ignore[call-overload]
        # max_connections: with MODELGIT_TEST_DATABASE=postgresql every served site's
        # front ends hold a connection per request thread, and a test module may run several
        # sites at once on this worker's one cluster.
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=400 -c shared_buffers=64MB")
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-o", options,
                        "-l", str(folder / "log"), "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
        yield Cluster(port, folder, options, tuple(as_user))
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "immediate",
                            "-w", "stop"], check=False, capture_output=True, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


_shared: Cluster | None = None
_shared_context: contextlib.AbstractContextManager[Cluster] | None = None


def shared() -> Cluster:
    """This test process's cluster, started on first use (each xdist worker has its own;
    sites and tests keep apart by database) and stopped by :func:`stop_shared`."""
    global _shared, _shared_context
    if _shared is None:
        _shared_context = cluster()
        _shared = _shared_context.__enter__()
    return _shared


def stop_shared() -> None:
    """Stop this process's cluster and remove its folder (the session's last fixture)."""
    global _shared, _shared_context
    if _shared_context is not None:
        context, _shared_context, _shared = _shared_context, None, None
        context.__exit__(None, None, None)
