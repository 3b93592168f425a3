"""install.sh on an existing git host, with real web servers (issue 7, docs/architecture.md).

For each web server: the host serves a bare repository anonymously; install.sh runs from its
checkout's folder (with the session's one real virtual environment, see conftest.py;
``test_real_install`` checks that install itself); for Apache, its helper must run modelgit
from the installed environment, which Apache's user can read wherever the checkout is. The
generated snippet replaces the host's git configuration and ``modelgit serve`` starts from
the generated unit's ``ExecStart``. Then: every refusal answered exactly as a standalone
``modelgit serve`` on the same data answers it (the parity table of issue 17: a private model
is a 404 like a missing one, 401 with the challenge, the 403 texts), anonymous clone refused
with the Basic challenge, a user without a role told "not found" (and keeps their stored
key), the owner clones and pushes with ``credential.helper store``, the host's own hook still
runs, an invalid model card is refused by the hook, an LFS push goes through the proxy; and
after a second install.sh the host still works and nothing was changed or printed twice.

One test per web server on purpose: the steps share one expensive host, and pytest-xdist
would otherwise spread them over workers that each build it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelgit.hooks import install as hooks_install
from tests.helpers.webhosts import (
    APACHE_MODULES,
    APACHE_USER,
    BAD_CARD,
    GOOD_README,
    IS_ROOT,
    LEGACY_HOOK,
    Client,
    Installed,
    Layout,
    SharedInstall,
    apache_plain_git,
    client,
    http_get,
    layout,
    make_host_repo,
    modelgit,
    nginx_plain_git,
    run_install,
    skip_unless,
    start_apache,
    start_fcgiwrap,
    start_modelgit,
    start_nginx,
    start_standalone,
    unreachable_for,
)


def _require(web: str) -> None:
    skip_unless("git-lfs")
    if web == "nginx":
        skip_unless("nginx", "fcgiwrap")
        return
    skip_unless("apache2")
    if not (APACHE_MODULES / "mod_authnz_external.so").exists():
        pytest.fail("needs libapache2-mod-authnz-external: run `bash tests/bootstrap.sh`")
    if IS_ROOT:
        import pwd

        try:
            pwd.getpwnam(APACHE_USER)
        except KeyError:
            pytest.fail(f"Apache cannot run as root and there is no {APACHE_USER} user")


def _apache_can_run_its_helper(lay: Layout, installed: Installed) -> None:
    """The site-less launcher (python -I -S), not the console script, runs modelgit from the
    installed environment (never from the checkout install.sh ran in), and Apache's user can
    run it: a helper it cannot run only shows as "Authentication failed" later."""
    launcher = lay.prefix / "bin" / "modelgit-credential-check"
    conf = (lay.prefix / "etc" / "modelgit-apache.conf").read_text()
    if f"{launcher} --data " not in conf:
        python = Path(conf.split("modelgit-key pipe \"", 1)[-1].split()[0])
        blocked = unreachable_for(APACHE_USER, python.resolve())
        pytest.fail(f"Apache's helper is not the launcher {launcher}"
                    + (f": {APACHE_USER} cannot get through {blocked}" if blocked else "")
                    + f"\n{installed.stderr}")
    text = launcher.read_text()
    python = Path(text.splitlines()[0].removeprefix("#!").split()[0])
    package = text.split("sys.path.insert(0, ", 1)[1].split(")", 1)[0].strip("'\"")
    checkout = lay.base / "checkout"
    assert not Path(package).is_relative_to(checkout), \
        f"the launcher runs modelgit from the checkout install.sh ran in: {package}"
    for needed in (python.resolve(), Path(package) / "modelgit" / "credcheck.py"):
        blocked = unreachable_for(APACHE_USER, needed)
        if blocked is not None:
            pytest.fail(f"Apache's user {APACHE_USER} cannot get through {blocked}, so it"
                        f" cannot run {launcher} ({needed}): put the checkout or"
                        " MODELGIT_TEST_INSTALL_PYTHON's environment where it can read")


def _serve_git_before(lay: Layout) -> None:
    if lay.web == "nginx":
        start_fcgiwrap(lay)
        start_nginx(lay, nginx_plain_git(lay))
    else:
        start_apache(lay, apache_plain_git(lay))


def _serve_with_modelgit(lay: Layout) -> None:
    """What the administrator does after install.sh: include the snippet in place of the old
    git configuration, reload the web server, start the unit."""
    snippet = lay.prefix / "etc" / f"modelgit-{lay.web}.conf"
    assert snippet.is_file()
    if lay.web == "nginx":
        start_nginx(lay, f"        include {snippet};\n")
    else:
        start_apache(lay, f"    Include {snippet}\n")
    lay.stop("modelgit")
    start_modelgit(lay)


@dataclass(frozen=True)
class Case:
    """One row of the parity table: who asks what, and what modelgit serve answers."""

    name: str
    path: str                 # after the git prefix
    user: str | None          # None: anonymous
    key: str | None
    status: int
    post: bool = False        # the service request itself, not the refs discovery


def _parity_cases(lay: Layout, keys: dict[str, str]) -> list[Case]:
    """The cases of issue 17 on this host's models: acme/demo (private, adopted), acme/gated
    (public, gated manual), acme/nope (missing); bob has no role, carol is user on
    acme/demo."""
    modelgit(lay, "model", "create", "acme/gated", "--owner", "alice", "--public",
             "--gated", "manual")
    modelgit(lay, "user", "add", "carol")
    modelgit(lay, "grant", "acme/demo", "carol", "user")
    keys = {**keys, "carol": modelgit(lay, "key", "create", "carol").strip()}
    read = "info/refs?service=git-upload-pack"
    push = "info/refs?service=git-receive-pack"
    return [
        Case("stranger, private model", f"/acme/demo.git/{read}", "bob", keys["bob"], 404),
        Case("stranger, missing model", f"/acme/nope.git/{read}", "bob", keys["bob"], 404),
        Case("stranger, private model, POST", "/acme/demo.git/git-upload-pack", "bob",
             keys["bob"], 404, post=True),
        Case("anonymous, private model", f"/acme/demo.git/{read}", None, None, 401),
        Case("anonymous, missing model", f"/acme/nope.git/{read}", None, None, 401),
        Case("wrong key", f"/acme/demo.git/{read}", "alice", "mg_" + "x" * 40, 401),
        Case("user role, push", f"/acme/demo.git/{push}", "carol", keys["carol"], 403),
        Case("read-only key, push", f"/acme/demo.git/{push}", "alice", keys["alice-ro"], 403),
        Case("stranger, gated model", f"/acme/gated.git/{read}", "bob", keys["bob"], 403),
    ]


def _same_answers_as_serve(lay: Layout, keys: dict[str, str]) -> list[str]:
    """Every case answered by the web server exactly as by a standalone ``modelgit serve``
    on the same data: status, the challenge, and the text (docs/access.md). Returns the
    table's lines for the log."""
    standalone, serve_url = start_standalone(lay)
    site = lay.url.split("://", 1)[1]  # links in the texts name the site the client used
    lines = [f"{'case':32} {'serve':>5} {lay.web:>6}"]
    bodies: dict[str, bytes] = {}
    try:
        for case in _parity_cases(lay, keys):
            data = b"0000" if case.post else None
            ours = http_get(serve_url + case.path, case.user, case.key, data=data, host=site)
            theirs = http_get(lay.url + "/git" + case.path, case.user, case.key, data=data)
            lines.append(f"{case.name:32} {ours.status:>5} {theirs.status:>6}")
            where = f"{case.name} ({lay.web}): {theirs.status} {theirs.body!r}"
            assert ours.status == case.status, f"{case.name} (serve): {ours.status} {ours.body!r}"
            assert theirs.status == ours.status, where
            if case.status == 401:
                assert theirs.headers.get_all("WWW-Authenticate") == \
                    ['Basic realm="modelgit"'], where
            else:
                assert "text/plain" in str(theirs.headers.get("Content-Type")), where
            assert theirs.body == ours.body, f"{where}; serve: {ours.body!r}"
            bodies[case.name] = theirs.body
    finally:
        standalone.stop()
        lay.procs.remove(standalone)
    private, missing = bodies["stranger, private model"], bodies["stranger, missing model"]
    assert b"not found" in private and private.replace(b"demo", b"nope") == missing
    assert b"read-only" in bodies["read-only key, push"]
    assert b"you are user on acme/demo" in bodies["user role, push"]
    assert b"user-access-request" in bodies["stranger, gated model"], "no how-to-request text"
    return lines


def _lfs_object(lay: Layout, oid: str) -> Path | None:
    found = list((lay.data / "lfs").rglob(oid))
    return found[0] if found else None


def test_real_install(shared_install: SharedInstall) -> None:
    """install.sh's default path: a virtual environment at --prefix with this checkout
    pip-installed into it (not linked), made once; the second run reinstalls nothing."""
    if not shared_install.runs:
        pytest.skip("MODELGIT_TEST_INSTALL_PYTHON given: no real install this session")
    first, second = shared_install.runs
    print(f"install.sh, real venv + pip: {first['seconds']} s; again: {second['seconds']} s")
    assert first["returncode"] == 0, f"{first['stdout']}\n{first['stderr']}"
    assert first["keys_printed"] == 1
    assert "creating the virtual environment" in str(first["stderr"])
    assert "installing modelgit" in str(first["stderr"])
    prefix = Path(shared_install.python).parent.parent
    assert (prefix / "pyvenv.cfg").is_file()
    script = prefix / "bin" / "modelgit"
    assert script.is_file() and not script.is_symlink()
    probe = "import modelgit; print(modelgit.__file__)"
    where = subprocess.run([shared_install.python, "-c", probe], cwd="/", capture_output=True,
                           text=True, check=True).stdout
    assert where.startswith(str(prefix)), f"modelgit is not installed in the venv: {where}"
    assert second["returncode"] == 0, second["stderr"]
    assert second["keys_printed"] == 0
    assert "installing modelgit" not in str(second["stderr"])
    assert "is up to date" in str(second["stderr"])


@pytest.mark.parametrize("web", ["nginx", "apache"])
def test_existing_host(web: str, shared_install: SharedInstall,
                       record_property: pytest.RecordProperty) -> None:
    _require(web)
    reuse = {"MODELGIT_INSTALL_PYTHON": shared_install.python}
    with layout(web) as lay:
        host_repo = make_host_repo(lay)
        work = lay.base / "work"

        # -- before: the host serves its repository anonymously --------------------------
        _serve_git_before(lay)
        anyone = client(lay, "anyone")
        anyone.git("clone", "-q", f"{lay.url}/git/demo.git", str(work / "before"))
        assert (work / "before" / "README.md").read_text() == GOOD_README

        # -- install.sh ------------------------------------------------------------------
        first = run_install(lay, extra_env=reuse)
        record_property(f"install_{web}_seconds", round(first.seconds, 1))
        print(f"install.sh --web {web}: {first.seconds:.1f} s")
        assert first.returncode == 0, first.stdout + first.stderr
        assert len(first.keys_printed) == 1, "the site admin's key is printed once, first time"
        assert "Not_A_Model.git" in first.stdout and "skipped" in first.stdout
        assert f"modelgit-{web}.conf" in first.stdout, "next steps name the snippet"
        assert "systemctl enable --now" in first.stdout
        if web == "apache":
            _apache_can_run_its_helper(lay, first)
        assert (host_repo / "hooks" / "pre-receive.legacy").read_text() == LEGACY_HOOK
        _serve_with_modelgit(lay)
        alice_key = modelgit(lay, "key", "create", "alice").strip()
        modelgit(lay, "user", "add", "bob")
        bob_key = modelgit(lay, "key", "create", "bob").strip()
        alice_read_key = modelgit(lay, "key", "create", "alice", "--scope", "read").strip()
        url = lay.clone_url()
        # install.sh wrote the git prefix into config.yaml: modelgit's clone hints carry it.
        shown = json.loads(modelgit(lay, "--json", "model", "show", "acme/demo"))
        assert shown["clone_url"].endswith("/git/acme/demo.git"), shown["clone_url"]

        # -- every refusal answered as modelgit serve answers it ---------------------------
        table = _same_answers_as_serve(lay, {"bob": bob_key, "alice-ro": alice_read_key})
        print("\n".join(table))
        record_property(f"parity_{web}", "; ".join(table[1:]))
        if web == "apache":  # the error document's address answers nothing from outside
            forged = {"X-Modelgit-Check": "user", "X-Modelgit-User": "alice",
                      "X-Original-URI": "/git/acme/demo.git/info/refs"}
            direct = http_get(f"{lay.url}/_modelgit/denied", headers=forged)
            assert direct.status == 403 and b"ok" not in direct.body, direct

        # -- anonymous: the Basic challenge ----------------------------------------------
        answer = http_get(f"{url}/info/refs?service=git-upload-pack")
        assert answer.status == 401
        assert answer.headers.get("WWW-Authenticate") == 'Basic realm="modelgit"'
        refused = anyone.git("clone", "-q", url, str(work / "anon"), check=False)
        assert refused.returncode != 0
        assert "terminal prompts disabled" in refused.stderr or "Authentication" in \
            refused.stderr, refused.stderr

        # -- a user without a role: "not found", and git keeps their stored key ------------
        bob = client(lay, "bob", lay.url, bob_key)
        refused = bob.git("clone", "-q", url, str(work / "bob"), check=False)
        assert refused.returncode != 0
        assert "remote: model acme/demo not found" in refused.stderr, refused.stderr
        assert bob_key in bob.store.read_text(), "a 404 must not erase the stored key"
        forged = bob.git("-c", "http.extraHeader=X-Modelgit-Check: user",
                         "-c", "http.extraHeader=X-Modelgit-User: alice",
                         "clone", "-q", url, str(work / "forged"), check=False)
        assert forged.returncode != 0, "headers the client made up reached the decision"

        # -- the owner clones and pushes with credential.helper store ----------------------
        alice = client(lay, "alice", lay.url, alice_key)
        mine = work / "alice"
        alice.git("clone", "-q", url, str(mine))
        assert (mine / "README.md").read_text() == GOOD_README
        (mine / "notes.txt").write_text("pushed through modelgit\n")
        alice.git("add", "notes.txt", cwd=mine)
        alice.git("commit", "-q", "-m", "notes", cwd=mine)
        alice.git("push", "-q", "origin", "main", cwd=mine)
        head = alice.git("rev-parse", "HEAD", cwd=mine).stdout.strip()
        assert alice.git("ls-remote", url, "refs/heads/main").stdout.split()[0] == head
        assert "legacy-ran" in (host_repo / "legacy.log").read_text(), \
            "the host's own pre-receive hook no longer runs"
        hook_env = (host_repo / "legacy.env").read_text()
        assert "REMOTE_USER=alice" in hook_env.splitlines(), "the hooks cannot name the pusher"
        assert alice_key not in hook_env, "the key reached git's environment"

        # -- a read-only key cannot push ---------------------------------------------------
        reader = client(lay, "alice", lay.url, alice_read_key, home_name="alice-reader")
        (mine / "ro.txt").write_text("x\n")
        alice.git("add", "ro.txt", cwd=mine)
        alice.git("commit", "-q", "-m", "ro", cwd=mine)
        refused = reader.git("push", "origin", "main", cwd=mine, check=False)
        assert refused.returncode != 0
        assert "read-only" in refused.stderr, refused.stderr
        assert alice_read_key in reader.store.read_text(), "a 403 must not erase the key"
        alice.git("reset", "-q", "--hard", "HEAD~1", cwd=mine)

        # -- an invalid model card is refused by the hook ----------------------------------
        (mine / "README.md").write_text(BAD_CARD)
        alice.git("commit", "-q", "-am", "bad card", cwd=mine)
        refused = alice.git("push", "origin", "main", cwd=mine, check=False)
        assert refused.returncode != 0
        assert "pre-receive hook declined" in refused.stderr, refused.stderr
        assert "README.md" in refused.stderr and "Pytorch" in refused.stderr, refused.stderr
        assert alice.git("ls-remote", url, "refs/heads/main").stdout.split()[0] == head
        alice.git("reset", "-q", "--hard", "HEAD~1", cwd=mine)

        # -- LFS through the proxy ---------------------------------------------------------
        alice.git("lfs", "install", "--local", cwd=mine)
        alice.git("lfs", "track", "*.bin", cwd=mine)
        weights = os.urandom(4096)
        (mine / "weights.bin").write_bytes(weights)
        alice.git("add", ".gitattributes", "weights.bin", cwd=mine)
        alice.git("commit", "-q", "-m", "weights", cwd=mine)
        alice.git("push", "-q", "origin", "main", cwd=mine)
        oid = hashlib.sha256(weights).hexdigest()
        stored = _lfs_object(lay, oid)
        assert stored is not None, "the LFS object did not reach modelgit's store"
        fresh = work / "alice-fresh"
        alice.git("clone", "-q", url, str(fresh))
        assert (fresh / "weights.bin").read_bytes() == weights

        # -- install.sh again: nothing changes, the host keeps working ---------------------
        pre_receive = (host_repo / "hooks" / "pre-receive").read_bytes()
        snippet = (lay.prefix / "etc" / f"modelgit-{web}.conf").read_bytes()
        second = run_install(lay, extra_env=reuse)
        record_property(f"install_{web}_again_seconds", round(second.seconds, 1))
        print(f"install.sh --web {web} again: {second.seconds:.1f} s")
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.keys_printed == [], "no key is printed on a rerun"
        assert "installing modelgit" not in second.stderr, "an unchanged checkout reinstalled"
        assert f"modelgit-{web}.conf is up to date" in second.stderr
        assert "modelgit.service is up to date" in second.stderr
        assert "up to date" in second.stdout  # adopt: the model is already there
        assert (lay.prefix / "etc" / f"modelgit-{web}.conf").read_bytes() == snippet
        assert (host_repo / "hooks" / "pre-receive").read_bytes() == pre_receive
        assert hooks_install.is_ours(host_repo / "hooks" / "pre-receive")
        assert (host_repo / "hooks" / "pre-receive.legacy").read_text() == LEGACY_HOOK
        _serve_with_modelgit(lay)
        again = work / "alice-again"
        alice.git("clone", "-q", url, str(again))
        (again / "again.txt").write_text("after the second install\n")
        alice.git("add", "again.txt", cwd=again)
        alice.git("commit", "-q", "-m", "again", cwd=again)
        alice.git("push", "-q", "origin", "main", cwd=again)
        assert http_get(f"{url}/info/refs?service=git-upload-pack").status == 401
        _database_outage(lay, alice, url, alice_key)


def _database_outage(lay: Layout, alice: Client, url: str, key: str) -> None:
    """The site moved to PostgreSQL as docs/operations.md says (``db copy``, ``database:``,
    restart); then PostgreSQL stops. git must show modelgit's 503 and its words, and keep the
    stored key (a 401 would erase it); when PostgreSQL is back, the same server serves.

    Both web servers only know "refused" from their own check: nginx's ``auth_request`` makes
    any answer but 2xx, 401 and 403 its own 500, which the snippet sends to the named location
    that asks modelgit what the client should see; Apache's helper exits "denied", a 401,
    whose ``ErrorDocument`` is modelgit's answer the same way, status included."""
    from tests.helpers.postgres import cluster

    work = lay.base / "work"
    with cluster() as pg:
        database = pg.new_database()
        modelgit(lay, "db", "copy", "--to", database)
        config = lay.data / "config.yaml"
        config.write_text(config.read_text() + f"database: {database}\n")
        lay.stop("modelgit")
        start_modelgit(lay)
        alice.git("clone", "-q", url, str(work / "on-postgresql"))

        pg.stop("immediate")
        refused = alice.git("clone", url, str(work / "database-down"), check=False)
        assert refused.returncode != 0
        assert "remote: modelgit: the server's database is unavailable right now" in \
            refused.stderr, refused.stderr
        assert "error: 503" in refused.stderr and "error: 500" not in refused.stderr, \
            refused.stderr
        assert key in alice.store.read_text(), "an outage must not erase the stored key"
        answer = http_get(f"{url}/info/refs?service=git-upload-pack", "alice", key)
        assert answer.status == 503 and answer.headers.get("Retry-After"), answer

        pg.start()
        alice.git("clone", "-q", url, str(work / "database-back"))
