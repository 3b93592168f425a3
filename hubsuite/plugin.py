"""The conftest of huggingface_hub's tests when they run against modelgit.

run.py writes a conftest.py into the unpacked suite that imports this module. On import it
points the client at a fresh ``modelgit serve`` on 127.0.0.1 (``HF_ENDPOINT``, set before
huggingface_hub reads its constants); each pytest process (each xdist worker) starts its own
server over a throwaway data folder, makes the people the suite expects (testing_constants:
USER with FULL_NAME and the org ``valid_org_hub``, OTHER_USER) with real modelgit keys, and
writes those names and keys into ``testing_constants`` before any test module imports them.

The upstream suite talks to ``hub-ci.huggingface.co``; requests that still name that host
(some tests patch it in) are sent to the local server, and every other host is refused, so the
run never depends on, nor writes to, the public hubs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

#: Names the suite's constants get: modelgit user names are lower case.
USER, FULL_NAME, OTHER_USER, ORG = "hubci-user", "Dummy User", "dvuser", "valid_org_hub"
ORG_FULL_NAME = "Dummy Hub Org"
STAGING_HOST = "hub-ci.huggingface.co"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", STAGING_HOST})
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = _free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
WORK = Path(tempfile.mkdtemp(prefix="modelgit-hubsuite-"))

# Before huggingface_hub is imported: its constants read these once.
os.environ.update({
    "HF_ENDPOINT": ENDPOINT,
    "HF_HOME": str(WORK / "hf-home"),
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0",
    "HOME": str(WORK / "home"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "DISABLE_SYMLINKS_IN_WINDOWS_TESTS": "1",
})
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_CO_STAGING", "HF_HUB_OFFLINE"):
    os.environ.pop(_var, None)
(WORK / "home").mkdir()

import httpx2  # noqa: E402 - after the environment above
import huggingface_hub  # noqa: E402
import pytest  # noqa: E402
from huggingface_hub import HfApi, RepoUrl, constants  # noqa: E402
from huggingface_hub.utils import _http  # noqa: E402


def _modelgit(*args: str) -> str:
    done = subprocess.run([str(BIN / "modelgit"), "--data", str(WORK / "data"), *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"modelgit {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout.strip()


class Server:
    """One ``modelgit serve`` over WORK/data, with the suite's people and keys."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.keys: dict[str, str] = {}

    def start(self) -> None:
        _modelgit("init")
        # Every client is 127.0.0.1 here, so the brute-force brake is set high (as in tests/).
        (WORK / "data" / "config.yaml").write_text(
            "auth: {max_failures: 100000, max_failures_per_address: 100000}\n")
        log = (WORK / "serve.log").open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "modelgit"), "--data", str(WORK / "data"), "serve", "--port", str(PORT)],
            stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError((WORK / "serve.log").read_text())
            try:
                with urllib.request.urlopen(f"{ENDPOINT}/-/health", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        _modelgit("user", "add", USER, "--fullname", FULL_NAME, "--email", "hubci@example.com",
                  "--space-creator")
        _modelgit("user", "add", OTHER_USER, "--email", "dv@example.com")
        # The hub fixture's organisation, with the full name the suite expects of it.
        _modelgit("space", "create", ORG, "--owner", USER, "--fullname", ORG_FULL_NAME)
        self.keys = {name: _modelgit("key", "create", name) for name in (USER, OTHER_USER)}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        keep = os.environ.get("MODELGIT_HUBSUITE_KEEP")
        if keep:
            shutil.copytree(WORK / "data", Path(keep) / f"data-{PORT}", dirs_exist_ok=True)
            shutil.copy(WORK / "serve.log", Path(keep) / f"serve-{PORT}.log")
        shutil.rmtree(WORK, ignore_errors=True)
        self.proc = None


SERVER = Server()


class _LocalOnly(httpx2.HTTPTransport):
    """Sends requests for the staging hub to the local server and refuses any other host."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        host = request.url.host
        if host not in LOCAL_HOSTS:
            raise httpx2.ConnectError(f"the hub suite runs against modelgit only: {host} "
                                      "is not reachable from it", request=request)
        if host == STAGING_HOST:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=PORT)
            request.headers["Host"] = f"127.0.0.1:{PORT}"
        return super().handle_request(request)


def _client() -> httpx2.Client:
    return httpx2.Client(transport=_LocalOnly(), follow_redirects=True, timeout=None,
                         event_hooks={"request": [_http.hf_request_event_hook]})


def pytest_configure(config: pytest.Config) -> None:
    """Start this process's server and hand the suite its names, keys and endpoint."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return  # the xdist controller runs no test: each worker has its own server
    SERVER.start()
    atexit.register(SERVER.stop)
    from tests import testing_constants as tc  # the unpacked upstream suite

    tc.USER, tc.FULL_NAME, tc.OTHER_USER = USER, FULL_NAME, OTHER_USER
    tc.TOKEN, tc.OTHER_TOKEN = SERVER.keys[USER], SERVER.keys[OTHER_USER]
    tc.ENDPOINT_STAGING = ENDPOINT
    huggingface_hub.set_client_factory(_client)


def pytest_unconfigure(config: pytest.Config) -> None:
    SERVER.stop()


# ---- the fixtures the upstream tests ask for (their own conftest is not in the sdist) ----


@pytest.fixture(scope="session")
def api() -> HfApi:
    """The suite's user on the local server (session-wide: class fixtures of the suite use it)."""
    from tests.testing_constants import TOKEN

    return HfApi(endpoint=ENDPOINT, token=TOKEN)


class RepoFactory:
    """Makes repositories for one test and deletes them after it (``repo_factory``)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str, str]] = []

    def __call__(self, repo_type: str = "model", repo_id: str | None = None,
                 token: str | None = None, **kwargs: Any) -> RepoUrl:
        from tests.testing_constants import TOKEN
        from tests.testing_utils import repo_name

        token = token or TOKEN
        url = HfApi(endpoint=ENDPOINT, token=token).create_repo(
            repo_id or repo_name(), repo_type=repo_type, **kwargs)
        self.made.append((url.repo_id, repo_type, token))
        return url

    def cleanup(self) -> None:
        for repo_id, repo_type, token in reversed(self.made):
            HfApi(endpoint=ENDPOINT, token=token).delete_repo(
                repo_id, repo_type=repo_type, missing_ok=True)


@pytest.fixture
def repo_factory() -> Iterator[RepoFactory]:
    factory = RepoFactory()
    yield factory
    try:
        factory.cleanup()
    except Exception as exc:
        print(f"hubsuite: could not delete a test repository: {exc}")


@pytest.fixture
def api_prod() -> HfApi:
    pytest.fail("needs the production hub (huggingface.co), which the suite does not reach")


class _Mocker:
    """The part of pytest-mock's ``mocker`` the suite uses: patches undone after the test."""

    def __init__(self) -> None:
        self._patches: list[Any] = []
        self.patch = self._Patch(self)
        self.Mock, self.MagicMock = mock.Mock, mock.MagicMock
        self.ANY, self.call = mock.ANY, mock.call

    class _Patch:
        def __init__(self, owner: _Mocker) -> None:
            self._owner = owner

        def _start(self, patcher: Any) -> Any:
            self._owner._patches.append(patcher)
            return patcher.start()

        def __call__(self, target: str, *args: Any, **kwargs: Any) -> Any:
            return self._start(mock.patch(target, *args, **kwargs))

        def object(self, target: Any, attribute: str, *args: Any, **kwargs: Any) -> Any:
            return self._start(mock.patch.object(target, attribute, *args, **kwargs))

        def dict(self, target: Any, values: Any = (), **kwargs: Any) -> Any:
            return self._start(mock.patch.dict(target, values, **kwargs))

    def spy(self, obj: Any, name: str) -> Any:
        return self.patch.object(obj, name, wraps=getattr(obj, name))

    def stopall(self) -> None:
        for patcher in reversed(self._patches):
            patcher.stop()
        self._patches.clear()


@pytest.fixture
def mocker() -> Iterator[_Mocker]:
    m = _Mocker()
    yield m
    m.stopall()


@pytest.fixture(autouse=True)
def _quiet_experimental(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_EXPERIMENTAL_WARNING", True)


__all__ = ["RepoFactory", "_quiet_experimental", "api", "api_prod", "mocker",
           "pytest_configure", "pytest_unconfigure", "repo_factory"]
