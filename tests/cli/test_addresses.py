"""Every address modelgit prints follows the real server: its port (``--port``, ``--port 0``),
or ``public_url`` and ``git_prefix`` when config.yaml sets them. Checked where people see them:
``modelgit serve``'s banner, ``model create``/``model show`` (another process), the hub API's
``create_repo`` answer, git's ``remote:`` refusal text and the notification mails' links."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
from pathlib import Path

from tests.conftest import BIN, TEST_SETTINGS, Site, git, make_site
from tests.helpers.gating import gated_model
from tests.helpers.wait import wait_for


def _create_repo(site: Site, name: str, key: str) -> dict[str, object]:
    answer = site.http("POST", "/api/repos/create", key=key,
                       body=json.dumps({"name": name, "organization": "addr"}).encode(),
                       headers={"Content-Type": "application/json"})
    assert answer.status == 200, answer.body
    data = json.loads(answer.body)
    assert isinstance(data, dict)
    return data


def _gated_refusal(site: Site, model: str, user: str, work: Path) -> str:
    """What git prints to someone without an accepted request who clones the gated model."""
    proc = git("clone", "-q", site.clone_url(model, user), str(work / f"refused-{user}"),
               check=False)
    assert proc.returncode != 0
    return proc.stderr


def test_links_carry_the_port_the_server_runs_on(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.start()
    try:
        banner = (site.data / "serve-test.log").read_text()
        assert f"serving {site.data} on http://127.0.0.1:{site.port} " in banner
        assert site.port != 8080

        site.space("addr")
        _, out, _ = site.cli("model", "create", "addr/bert-small", "--owner", "owner")
        assert f"git clone http://127.0.0.1:{site.port}/addr/bert-small.git" in out
        _, out, _ = site.cli("model", "show", "addr/bert-small")
        assert f"clone_url: http://127.0.0.1:{site.port}/addr/bert-small.git" in out
        _, out, _ = site.cli("model", "show", "addr/bert-small", "--json")
        assert json.loads(out)["clone_url"] == f"{site.url}/addr/bert-small.git"
        # What the CLI prints is what git clones.
        git("clone", "-q", site.clone_url("addr/bert-small", "owner"), str(tmp_path / "c"))

        assert _create_repo(site, "made-by-api", site.keys["owner"])["url"] == (
            f"{site.url}/addr/made-by-api")

        model = gated_model(site, "addr/gated", tmp_path)
        site.user("visitor")
        err = _gated_refusal(site, model, "visitor", tmp_path)
        assert f"remote:   POST {site.url}/api/models/{model}/user-access-request" in err, err
        assert ":8080" not in err

        # A Host header that is not a plain host[:port] is never repeated in a link: the
        # server's own listen address stands in.
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
        conn.putrequest("POST", "/api/repos/create", skip_host=True)
        body = json.dumps({"name": "hostile-host", "organization": "addr"}).encode()
        for name, value in (("Host", "evil.example/phish?"),
                            ("Authorization", f"Bearer {site.keys['owner']}"),
                            ("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))):
            conn.putheader(name, value)
        conn.endheaders(body)
        answer = json.loads(conn.getresponse().read())
        conn.close()
        assert answer["url"] == f"{site.url}/addr/hostile-host"
    finally:
        site.stop()
    # Stopped: the record is gone, and the CLI falls back to config.yaml's host and port.
    assert not (site.data / "run" / "serve.json").exists()
    _, out, _ = site.cli("model", "show", "addr/bert-small")
    assert "clone_url: http://127.0.0.1:8080/addr/bert-small.git" in out


def test_port_zero_is_the_real_port_everywhere(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([str(BIN / "modelgit"), "--data", str(site.data), "serve",
                                 "--port", "0"], stdout=fh, stderr=fh)
    try:
        def serving() -> re.Match[str] | None:
            assert proc.poll() is None, log.read_text()
            return re.search(r"serving \S+ on http://127\.0\.0\.1:(\d+) ", log.read_text())

        found = wait_for(serving, 20, lambda: f"the 'serving' line in:\n{log.read_text()}")
        port = int(found.group(1))
        assert port != 0
        site.port = port
        assert site.http("GET", "/-/health").status == 200
        site.space("zero")
        _, out, _ = site.cli("model", "create", "zero/m", "--owner", "owner")
        assert f"git clone http://127.0.0.1:{port}/zero/m.git" in out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not (site.data / "run" / "serve.json").exists()


def test_public_url_and_git_prefix_win(tmp_path: Path) -> None:
    site = make_site(tmp_path, {**TEST_SETTINGS, "public_url": "https://hub.example.org/",
                                "git_prefix": "/git"})
    site.start()
    try:
        banner = (site.data / "serve-test.log").read_text()
        assert f"on http://127.0.0.1:{site.port}; links say https://hub.example.org" in banner
        site.space("pub")
        _, out, _ = site.cli("model", "create", "pub/bert-small", "--owner", "owner")
        assert "git clone https://hub.example.org/git/pub/bert-small.git" in out
        _, out, _ = site.cli("--json", "model", "show", "pub/bert-small")
        assert json.loads(out)["clone_url"] == "https://hub.example.org/git/pub/bert-small.git"

        # The hub API's repo URL is the model's page, under the site and not the git prefix
        # (huggingface_hub reads the repo id back from it).
        site.cli("space", "create", "addr", "--owner", "owner")
        assert _create_repo(site, "via-api", site.keys["owner"])["url"] == (
            "https://hub.example.org/addr/via-api")

        model = gated_model(site, "pub/gated", tmp_path)
        site.user("visitor")
        err = _gated_refusal(site, model, "visitor", tmp_path)
        assert ("remote:   POST https://hub.example.org/api/models/pub/gated/"
                "user-access-request") in err, err
        remote = [line for line in err.splitlines() if line.startswith("remote:")]
        assert remote and not any("127.0.0.1" in line for line in remote), err
    finally:
        site.stop()


def test_git_prefix_without_public_url(tmp_path: Path) -> None:
    """``git`` and ``/git/`` mean ``/git``: the prefix goes between the address and the repo."""
    site = make_site(tmp_path, {**TEST_SETTINGS, "git_prefix": "git/", "port": 8123})
    site.space("pfx")
    _, out, _ = site.cli("model", "create", "pfx/m", "--owner", "owner")
    assert "git clone http://127.0.0.1:8123/git/pfx/m.git" in out


def test_a_killed_servers_record_is_not_believed(tmp_path: Path) -> None:
    """``kill -9`` leaves ``run/serve.json`` behind; its process is gone, so the CLI says
    config.yaml's address instead of a port nobody listens on."""
    site = make_site(tmp_path, {**TEST_SETTINGS, "port": 8124})
    site.start()
    site.space("dead")
    _, out, _ = site.cli("model", "create", "dead/m", "--owner", "owner")
    assert f"http://127.0.0.1:{site.port}/dead/m.git" in out
    assert site.proc is not None
    site.proc.kill()
    site.proc.wait()
    assert (site.data / "run" / "serve.json").exists()
    _, out, _ = site.cli("model", "show", "dead/m")
    assert "clone_url: http://127.0.0.1:8124/dead/m.git" in out
