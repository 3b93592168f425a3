"""A real ``modelgit serve`` on 127.0.0.1 over a data folder of its own, and ways to make
people and models in it (through the CLI, as an administrator would).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from modelgit.cli.main import cli
from tests.helpers.ports import free_port
from tests.helpers.wait import wait_for

BIN = Path(sys.executable).parent


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
    fronts: Any = None  # tests.helpers.frontends.Frontends when several front ends serve

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store(self) -> Any:
        """The site's store, as its server opens it: the SQLite file, or the PostgreSQL
        database ``config.yaml`` names (``MODELGIT_TEST_DATABASE=postgresql``)."""
        from modelgit.config import load
        from modelgit.store import Store

        return Store(load(self.data).store_target)

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

    def log_text(self) -> str:
        """Everything the site's server processes wrote (one serve, or every front end)."""
        paths = [self.data / "serve-test.log", *sorted((self.data / "log").glob("*.log"))]
        if self.fronts is not None:
            paths += [proc.log for proc in self.fronts.serves]
        return "".join(p.read_text(errors="replace") for p in paths if p.is_file())

    def start(self) -> None:
        """``modelgit serve`` on the data folder; with ``MODELGIT_TEST_FRONTENDS=2``, two of
        them behind nginx (tests/helpers/frontends.py), the site's port being nginx's."""
        if os.environ.get("MODELGIT_TEST_FRONTENDS", "1") != "1":
            from tests.helpers.frontends import start_balanced

            self.fronts = start_balanced(self, int(os.environ["MODELGIT_TEST_FRONTENDS"]))
            return
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
        if self.fronts is not None:
            self.fronts.stop()
            self.fronts = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def on_postgres() -> bool:
    """Whether this run's sites keep their store on PostgreSQL (``make test-distributed``)."""
    return os.environ.get("MODELGIT_TEST_DATABASE", "sqlite") == "postgresql"


# Test sites share 127.0.0.1 for every client, so the brute-force brake is set high here;
# tests/http/test_brute_force.py runs it at its default.
TEST_SETTINGS = {"auth": {"max_failures": 10_000, "max_failures_per_address": 10_000}}


def make_site(root: Path, settings: dict[str, object] | None = None) -> Site:
    """A data folder (not yet served); ``settings`` become its config.yaml.

    With ``MODELGIT_TEST_STORAGE=s3`` a site whose settings name no LFS storage keeps its LFS
    objects under a key prefix of its own on the test process's SeaweedFS
    (tests/helpers/seaweed.py). With ``MODELGIT_TEST_DATABASE=postgresql`` a site whose
    settings name no database gets a database of its own on the test process's PostgreSQL
    cluster (tests/helpers/postgres.py). Whenever the settings name a database, config.yaml
    is written before ``init``, which then creates the schema there.
    """
    import yaml

    data = root / "data"
    root.mkdir(parents=True, exist_ok=True)
    site = Site(data=data, port=free_port())
    chosen = dict(TEST_SETTINGS if settings is None else settings)
    if os.environ.get("MODELGIT_TEST_STORAGE", "files") == "s3" and "lfs" not in chosen:
        from tests.helpers import seaweed

        chosen["lfs"] = seaweed.s3_settings(seaweed.shared(), root)
    if on_postgres() and "database" not in chosen:
        from tests.helpers import postgres

        chosen["database"] = postgres.shared().new_database()
    if "database" in chosen:  # init creates the schema in the database config.yaml names
        data.mkdir(parents=True, exist_ok=True)
        (data / "config.yaml").write_text(yaml.safe_dump(chosen))
    site.cli("init")
    (data / "config.yaml").write_text(yaml.safe_dump(chosen))
    return site
