"""PostgreSQL goes away under a running ``modelgit serve``, then comes back (issue "Past one
machine: PostgreSQL ..."): what git, git's credential helper and the hub API see meanwhile,
and that the same server serves again once the database is back, without a restart.

The site has a throwaway cluster of its own (tests/helpers/postgres.py), since stopping the
test process's shared one would pull it from under other tests.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelgit.config import load
from modelgit.git.paths import repo_path
from tests.conftest import BIN, TEST_SETTINGS, Site, commit_file, git, make_site
from tests.helpers.postgres import Cluster, cluster
from tests.helpers.wait import wait_for

MODEL = "down/weights"


@pytest.fixture(scope="module")
def pg_down_cluster() -> Iterator[Cluster]:
    with cluster() as own:
        yield own


@pytest.fixture(scope="module")
def outage_site(pg_down_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("pgdown"),
                     {**TEST_SETTINGS, "database": pg_down_cluster.new_database()})
    site.start()
    site.model(MODEL)
    site.user("dev")
    site.cli("grant", MODEL, "dev", "developer")
    yield site
    site.stop()


@pytest.fixture
def database_back(pg_down_cluster: Cluster) -> Iterator[None]:
    """Whatever a test did, the next one finds PostgreSQL running."""
    yield
    if not (pg_down_cluster.folder / "data" / "postmaster.pid").exists():
        pg_down_cluster.start()


def _helper(path: Path) -> list[str]:
    """git's own ``store`` credential helper on a file of this test's: what a person who let
    git remember their key has (``-c`` only, nothing written to any git config)."""
    return ["-c", "credential.helper=", "-c", f"credential.helper=store --file={path}"]


def _tip(site: Site) -> str:
    """``main`` in the bare repository on the server, read from disk (no database needed)."""
    repo = repo_path(load(site.data), MODEL)
    return git("--git-dir", str(repo), "rev-parse", "refs/heads/main").stdout.strip()


def _credential_check(site: Site, key: str) -> subprocess.CompletedProcess[str]:
    """``modelgit credential-check`` as Apache's mod_authnz_external runs it for a clone
    (without ``--socket``: deciding in its own process, against the database)."""
    return subprocess.run(
        [str(BIN / "modelgit"), "--data", str(site.data), "credential-check"],
        input=f"dev\n{key}\n", capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": os.environ["PATH"], "URI": f"/{MODEL}.git/info/refs", "IP": "192.0.2.9"})


def _serving(site: Site) -> None:
    """The server process is the one started at the beginning and still answers."""
    if site.proc is not None:
        assert site.proc.poll() is None, site.log_text()[-3000:]
    assert site.http("GET", "/-/health").status == 200


UNAVAILABLE = "the server's database is unavailable right now"


def test_git_and_the_api_while_postgresql_is_down_and_after(
        outage_site: Site, pg_down_cluster: Cluster, work: Path, database_back: None) -> None:
    site = outage_site
    url = f"http://dev@127.0.0.1:{site.port}/{MODEL}.git"
    remembered = work / "credentials"
    remembered.write_text(f"http://dev:{site.keys['dev']}@127.0.0.1:{site.port}\n")
    helper = _helper(remembered)
    pid = site.proc.pid if site.proc is not None else None

    # What git does with a 401, for contrast: the credential helper forgets the key.
    wrong = work / "wrong-credentials"
    wrong.write_text(f"http://dev:mg_not-a-key@127.0.0.1:{site.port}\n")  # pragma: allowlist secret
    refused = git(*_helper(wrong), "clone", "-q", url, str(work / "refused"), check=False)
    assert refused.returncode != 0 and "Authentication failed" in refused.stderr
    assert wrong.read_text() == ""

    # Up: clone and push with the remembered key.
    git(*helper, "clone", "-q", url, str(work / "up"))
    commit_file(work / "up", "README.md", "# before the outage\n", "before")
    git(*helper, "push", "-q", "origin", "main", cwd=work / "up")
    before = _tip(site)

    pg_down_cluster.stop("immediate")

    # Down: clone, fetch and push all fail closed, with git printing why; the answer is a
    # 503, so git keeps the remembered key (a 401 would have erased it, as above).
    cloned = git(*helper, "clone", url, str(work / "down"), check=False)
    fetched = git(*helper, "fetch", "origin", cwd=work / "up", check=False)
    commit_file(work / "up", "during.txt", "written while the database was down\n", "during")
    pushed = git(*helper, "push", "origin", "main", cwd=work / "up", check=False)
    for what, done in (("clone", cloned), ("fetch", fetched), ("push", pushed)):
        assert done.returncode != 0, f"{what} worked without the database: {done.stderr}"
        assert f"remote: modelgit: {UNAVAILABLE}" in done.stderr, (what, done.stderr)
        assert "Try again in a few minutes" in done.stderr, (what, done.stderr)
        assert "error: 503" in done.stderr, (what, done.stderr)
        assert "Authentication failed" not in done.stderr and "error: 500" not in done.stderr
    assert not (work / "down").exists()
    assert f"dev:{site.keys['dev']}@127.0.0.1" in remembered.read_text()  # still remembered
    assert _tip(site) == before

    # The hub API: a JSON error with a 503, whether the key (checked first) or the model
    # (anonymous, read by the route) is what needed the database.
    for key in (site.keys["dev"], None):
        answer = site.http("GET", f"/api/models/{MODEL}", key=key)
        assert answer.status == 503, answer.body
        assert answer.headers["Content-Type"].startswith("application/json")
        assert UNAVAILABLE in json.loads(answer.body)["error"]
        assert answer.headers["Retry-After"] == "30"
    # git-lfs's batch API: its JSON ``message``, which git-lfs prints.
    for key in (site.keys["dev"], None):
        batch = site.http(
            "POST", f"/{MODEL}.git/info/lfs/objects/batch", key=key,
            user="dev" if key else None,
            body=json.dumps({"operation": "download", "objects": []}).encode(),
            headers={"Accept": "application/vnd.git-lfs+json",
                     "Content-Type": "application/vnd.git-lfs+json"})
        assert batch.status == 503, batch.body
        assert UNAVAILABLE in json.loads(batch.body)["message"]
    page = site.http("GET", "/-/models")  # the web pages: a page saying so
    assert page.status == 503 and "Try again later" in page.body.decode()
    assert UNAVAILABLE in page.body.decode().replace("&#39;", "'")
    _serving(site)
    assert "cannot connect to the database" in site.log_text()

    # The administrator's CLI says where and why.
    code, _, err = site.cli("user", "list", ok=False)
    assert code == 1 and "error: cannot connect to the modelgit database at" in err, err

    # Apache's credential-check refuses too (exit 6, ERROR), saying why in Apache's log.
    checked = _credential_check(site, site.keys["dev"])
    assert checked.returncode == 6, checked.stderr
    assert "refused: the database is unavailable" in checked.stderr
    assert "try again later" in checked.stderr and site.keys["dev"] not in checked.stderr

    pg_down_cluster.start()

    # Back, and the same server process: clone and push work again, no restart.
    git(*helper, "clone", "-q", url, str(work / "back"))
    assert (work / "back" / "README.md").read_text() == "# before the outage\n"
    git(*helper, "push", "-q", "origin", "main", cwd=work / "up")
    assert _tip(site) != before
    git(*helper, "fetch", "-q", "origin", cwd=work / "back")
    assert site.http("GET", f"/api/models/{MODEL}", key=site.keys["dev"]).status == 200
    assert _credential_check(site, site.keys["dev"]).returncode == 0
    if pid is not None:
        assert site.proc is not None and site.proc.pid == pid
    _serving(site)


def test_database_gone_during_the_push_checks_moves_no_ref(
        outage_site: Site, pg_down_cluster: Cluster, work: Path, database_back: None) -> None:
    """PostgreSQL stops after the push was let in (key and role checked) but before modelgit's
    pre-receive checks read the store: the push is refused and no ref moves. The repository's
    own (legacy) pre-receive hook, which modelgit runs first, stops the database, so the
    moment is the same every run; as an administrator would (``fast``: PostgreSQL ends every
    session with "terminating connection"), where the test above makes it crash."""
    site = outage_site
    git("clone", "-q", site.clone_url(MODEL, "dev"), str(work / "c"))
    commit_file(work / "c", "mid.txt", "pushed as the database stops\n", "mid-push")
    before = _tip(site)
    legacy = repo_path(load(site.data), MODEL) / "hooks" / "pre-receive.legacy"
    legacy.write_text("#!/bin/sh\n" + shlex.join(pg_down_cluster.stop_command("fast"))
                      + " >/dev/null 2>&1\nexit 0\n")
    legacy.chmod(0o755)
    try:
        pushed = git("push", "origin", "main", cwd=work / "c", check=False)
    finally:
        legacy.unlink()
    assert pushed.returncode != 0, pushed.stderr
    assert not (pg_down_cluster.folder / "data" / "postmaster.pid").exists(), \
        "the legacy hook did not stop PostgreSQL"
    assert f"remote: modelgit: {UNAVAILABLE}" in pushed.stderr, pushed.stderr
    assert "pre-receive hook declined" in pushed.stderr, pushed.stderr
    assert "internal error" not in pushed.stderr
    assert _tip(site) == before

    pg_down_cluster.start()
    git("push", "-q", "origin", "main", cwd=work / "c")
    assert _tip(site) == git("rev-parse", "HEAD", cwd=work / "c").stdout.strip()
    _serving(site)


def test_database_gone_after_the_refs_moved_loses_nothing(
        outage_site: Site, pg_down_cluster: Cluster, work: Path, database_back: None) -> None:
    """PostgreSQL stops after the push's refs moved (the repository's own post-receive hook,
    which modelgit runs first, stops it): the push stands, and what modelgit owes a push (the
    audit row, the card index, the reporting scans) is spooled in the data folder and run by
    the same server's task worker once PostgreSQL is back: the scan report of the commit
    pushed during the outage appears without a restart or another push."""
    site = outage_site
    git("clone", "-q", site.clone_url(MODEL, "dev"), str(work / "p"))
    commit_file(work / "p", "risky.py",
                "import subprocess\n\n\ndef run(cmd):\n"
                "    return subprocess.call(cmd, shell=True)\n", "risky code")
    head = git("rev-parse", "HEAD", cwd=work / "p").stdout.strip()
    legacy = repo_path(load(site.data), MODEL) / "hooks" / "post-receive.legacy"
    legacy.write_text("#!/bin/sh\n" + shlex.join(pg_down_cluster.stop_command("fast"))
                      + " >/dev/null 2>&1\nexit 0\n")
    legacy.chmod(0o755)
    try:
        git("push", "-q", "origin", "main", cwd=work / "p")
    finally:
        legacy.unlink()
    assert not (pg_down_cluster.folder / "data" / "postmaster.pid").exists(), \
        "the legacy hook did not stop PostgreSQL"
    assert _tip(site) == head
    spooled = site.data / "spool" / "post-receive"
    [owed] = list(spooled.glob("*.json"))
    assert json.loads(owed.read_text())["updates"][0][1:] == [head, "refs/heads/main"]
    assert site.keys["dev"] not in owed.read_text()

    pg_down_cluster.start()
    wait_for(lambda: not any(spooled.iterdir()), 60,
             lambda: f"the spooled post-receive to run: {sorted(spooled.iterdir())}\n"
                     + site.log_text()[-2000:])

    def reported() -> dict[str, Any] | None:
        _, out, _ = site.cli("--json", "scan", "show", MODEL, "--ref", "main")
        data = json.loads(out)
        done = data["scans"] and all(s["status"] == "done" for s in data["scans"])
        return data if data["commit"] == head and done else None

    report = wait_for(reported, 60, "the reporting scans of the commit pushed during the outage")
    assert any(f["path"] == "risky.py" for f in report["findings"]), report
    _serving(site)
