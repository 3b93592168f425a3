"""``modelgit credential-check``: Apache's helper (mod_authnz_external "pipe");
docs/architecture.md, bench/README.md.

The decisions come from the same ``decide()`` as the server; these tests pin the protocol
(stdin lines, ``URI``/``AUTHTYPE``/``CONTEXT`` in a bare environment, exit statuses), the
mapping of URIs to (model, action), and that the fast path never loads click or the heavy
libraries (the import budget is what keeps a call under 50 ms).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelgit import credcheck
from modelgit.authz import keys
from modelgit.cli.serve import initialise
from modelgit.config import load
from modelgit.credcheck import parse_argv
from modelgit.git.targets import GitTarget, git_target
from modelgit.store import Store
from tests.helpers.wait import wait_for

BIN = Path(sys.executable).parent
PREFIX = "/git"


@pytest.mark.parametrize(("path", "query", "prefix", "expected"), [
    ("/git/acme/bert.git/info/refs", "service=git-upload-pack", "/git",
     GitTarget("acme/bert", "read")),
    ("/git/acme/bert.git/info/refs", "service=git-receive-pack", "/git",
     GitTarget("acme/bert", "write")),
    ("/git/acme/bert.git/info/refs", "service=git-upload-pack&service=git-receive-pack", "git/",
     GitTarget("acme/bert", "write")),
    ("/git/acme/bert.git/info/refs", "", "/git", GitTarget("acme/bert", "read")),
    ("/git/acme/bert.git/git-upload-pack", "", "/git", GitTarget("acme/bert", "read")),
    ("/git/acme/bert.git/git-receive-pack", "", "/git", GitTarget("acme/bert", "write")),
    ("/acme/bert.git/git-receive-pack", "", "", GitTarget("acme/bert", "write")),
    ("/a/b/acme/bert.git/info/refs", "", "/a/b", GitTarget("acme/bert", "read")),
    # Not a model's smart-HTTP path: refused by every caller.
    ("/acme/bert.git/info/refs", "", "/git", None),
    ("/git/acme/bert.git/HEAD", "", "/git", None),
    ("/git/acme/bert.git/objects/info/packs", "", "/git", None),
    ("/git/acme/bert.git/info/lfs/objects/batch", "", "/git", None),
    ("/git/x/acme/bert.git/info/refs", "", "/git", None),
    ("/git/acme/../priv/x.git/info/refs", "", "/git", None),
    ("/git/acme/%62ert.git/info/refs", "", "/git", None),
    ("/git/Acme/bert.git/info/refs", "", "/git", None),
    ("/git/acme/bert.git.git/info/refs", "", "/git", None),
    ("/git/acme/bert.git/info/refs/", "", "/git", None),
    ("/gitx/acme/bert.git/info/refs", "", "/git", None),
])
def test_git_target(path: str, query: str, prefix: str, expected: GitTarget | None) -> None:
    assert git_target(path, query, prefix) == expected


def test_parse_argv() -> None:
    opts = parse_argv(["--data", "/d", "credential-check", "--git-prefix", "/git", "--key-only"])
    assert opts is not None
    assert (opts.data_dir, opts.git_prefix, opts.key_only) == ("/d", "/git", True)
    opts = parse_argv(["credential-check", "--data=/e", "--git-prefix=/g"])
    assert opts is not None
    assert (opts.data_dir, opts.git_prefix, opts.key_only) == ("/e", "/g", False)
    # Anything else goes to click (usage errors, --help): None.
    assert parse_argv(["credential-check", "--help"]) is None
    assert parse_argv(["--json", "credential-check"]) is None
    assert parse_argv(["user", "list"]) is None
    assert parse_argv(["--git-prefix", "/g", "credential-check"]) is None
    assert parse_argv(["credential-check", "--data"]) is None


@dataclass
class Folks:
    data: Path
    keys: dict[str, str]


@pytest.fixture(scope="module")
def folks(tmp_path_factory: pytest.TempPathFactory) -> Folks:
    """alice owns the private model acme/bert; bob has no role; reader has a read key."""
    data = tmp_path_factory.mktemp("credcheck") / "data"
    cfg = load(data)
    initialise(cfg, None)
    store = Store(cfg.db_path)
    made: dict[str, str] = {}
    for name, scope in (("alice", "write"), ("bob", "write"), ("alice-ro", "read")):
        user = name.split("-")[0]
        if store.get_user(user) is None:
            store.add_user(user)
        new = keys.make_key()
        store.add_key(new.key_id, user, new.digest, scope, None)
        made[name] = new.key
    store.add_space("acme", "alice", None)
    store.add_model("acme/bert", "alice")
    store.add_model("acme/open", "alice", visibility="public")
    return Folks(data, made)


def run(folks: Folks, user: str, second: str, uri: str, *, authtype: str = "PASS",
        context: str = "", key_only: bool = False, ip: str = "192.0.2.1") -> int:
    opts = credcheck.Options(str(folks.data), PREFIX, key_only)
    env = {"URI": uri, "AUTHTYPE": authtype, "IP": ip, "PATH": "/usr/bin:/bin"}
    if context:
        env["CONTEXT"] = context
    code, reason = credcheck.check(opts, f"{user}\n{second}\n", env)
    assert "mg_" not in reason, "a key reached the log line"
    return code


READ = "/git/acme/bert.git/info/refs"
PUSH = "/git/acme/bert.git/git-receive-pack"


def test_full_decision(folks: Folks) -> None:
    """Alone (no group step) the helper checks the key and then decide()."""
    k = folks.keys
    assert run(folks, "alice", k["alice"], READ) == credcheck.OK
    assert run(folks, "alice", k["alice"], PUSH) == credcheck.OK
    assert run(folks, "bob", k["bob"], READ) == credcheck.DENIED
    assert run(folks, "bob", k["bob"], "/git/acme/open.git/info/refs") == credcheck.OK
    assert run(folks, "bob", k["bob"], "/git/acme/open.git/git-receive-pack") == credcheck.DENIED
    assert run(folks, "alice", k["alice-ro"], READ) == credcheck.OK
    assert run(folks, "alice", k["alice-ro"], PUSH) == credcheck.DENIED
    assert run(folks, "alice", k["alice"], "/git/acme/nope.git/info/refs") == credcheck.DENIED
    assert run(folks, "alice", k["alice"], "/elsewhere/x") == credcheck.NOT_GIT_PATH


def test_wrong_keys(folks: Folks) -> None:
    k = folks.keys
    assert run(folks, "bob", k["alice"], READ, ip="192.0.2.2") == credcheck.BAD_KEY
    assert run(folks, "", k["alice"], READ, ip="192.0.2.2") == credcheck.BAD_KEY
    assert run(folks, "alice", "mg_" + "x" * 40, READ, ip="192.0.2.2") == credcheck.BAD_KEY
    assert run(folks, "alice", "not-a-key", READ, ip="192.0.2.2") == credcheck.BAD_KEY


def test_key_only_step(folks: Folks) -> None:
    """The provider step of the split set-up: the key and its scope, nothing else."""
    k = folks.keys
    assert run(folks, "bob", k["bob"], READ, key_only=True) == credcheck.OK
    assert run(folks, "alice", k["alice-ro"], READ, key_only=True) == credcheck.OK
    assert run(folks, "alice", k["alice-ro"], READ, key_only=True,
               context="write") == credcheck.READ_ONLY_KEY
    assert run(folks, "alice", k["alice-ro"], PUSH, key_only=True) == credcheck.READ_ONLY_KEY
    assert run(folks, "alice", "wrong", READ, key_only=True, ip="192.0.2.3") == credcheck.BAD_KEY


def test_group_step(folks: Folks) -> None:
    """``Require external-group read|write``: the user is Apache's, decide() answers."""
    assert run(folks, "alice", "read", READ, authtype="GROUP") == credcheck.OK
    assert run(folks, "alice", "write", READ, authtype="GROUP") == credcheck.OK
    assert run(folks, "bob", "read", READ, authtype="GROUP") == credcheck.DENIED
    assert run(folks, "bob", "read", "/git/acme/open.git/info/refs",
               authtype="GROUP") == credcheck.OK
    # A push is a write whatever group the configuration asked for.
    assert run(folks, "bob", "read", "/git/acme/open.git/git-receive-pack",
               authtype="GROUP") == credcheck.DENIED
    assert run(folks, "nobody", "read", READ, authtype="GROUP") == credcheck.DENIED
    assert run(folks, "alice", "admins", READ, authtype="GROUP") == credcheck.USAGE


def test_brake(folks: Folks) -> None:
    """Guessing keys through Apache is braked like guessing them through modelgit serve."""
    ip = "198.51.100.7"
    limit = int(load(folks.data).get("auth.max_failures"))
    for _ in range(limit):
        assert run(folks, "alice", "mg_" + "y" * 40, READ, ip=ip) == credcheck.BAD_KEY
    assert run(folks, "alice", folks.keys["alice"], READ, ip=ip) == credcheck.BRAKED
    assert run(folks, "alice", folks.keys["alice"], READ, ip="198.51.100.8") == credcheck.OK


def test_missing_database_denies(tmp_path: Path) -> None:
    opts = credcheck.Options(str(tmp_path / "none"), PREFIX, False)
    code, reason = credcheck.check(opts, "alice\nmg_x\n", {"URI": READ})
    assert code == credcheck.ERROR
    assert "--data" in reason


def _helper(folks: Folks, user: str, second: str, env: dict[str, str],
            *extra: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as Apache runs it: a bare environment, stdin lines."""
    return subprocess.run(
        [str(BIN / "modelgit"), "--data", str(folks.data), "credential-check",
         "--git-prefix", PREFIX, *extra],
        input=f"{user}\n{second}\n", env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True, text=True, timeout=60, check=False)


def test_console_script(folks: Folks) -> None:
    ok = _helper(folks, "alice", folks.keys["alice"], {"URI": READ, "AUTHTYPE": "PASS"})
    assert ok.returncode == 0, ok.stderr
    denied = _helper(folks, "bob", folks.keys["bob"], {"URI": READ, "AUTHTYPE": "PASS"})
    assert denied.returncode == credcheck.DENIED
    assert "acme/bert" in denied.stderr and "mg_" not in denied.stderr
    group = _helper(folks, "alice", "write", {"URI": PUSH, "AUTHTYPE": "GROUP",
                                               "CONTEXT": "write"})
    assert group.returncode == 0, group.stderr
    # The click command takes the same options (e.g. after --json, which the fast path
    # leaves to click) and gives the same answer.
    slow = subprocess.run(
        [str(BIN / "modelgit"), "--json", "--data", str(folks.data), "credential-check",
         "--git-prefix", PREFIX], input=f"bob\n{folks.keys['bob']}\n",
        env={"PATH": "/usr/bin:/bin", "URI": READ}, capture_output=True, text=True,
        timeout=60, check=False)
    assert slow.returncode == credcheck.DENIED


def test_click_command_asks_the_server(folks: Folks, server: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "modelgit"), "--json", "--data", str(folks.data), "credential-check",
         "--git-prefix", PREFIX, "--socket", str(server)], input=f"bob\n{folks.keys['bob']}\n",
        env={"PATH": "/usr/bin:/bin", "URI": READ}, capture_output=True, text=True,
        timeout=60, check=False)
    assert proc.returncode == credcheck.DENIED
    assert "(modelgit serve)" in proc.stderr and "mg_" not in proc.stderr


def test_brake_spares_other_users(folks: Folks) -> None:
    """Apache's helper shares the server's brake: failures for one user from an address do
    not stop another user there."""
    ip = "198.51.100.17"
    limit = int(load(folks.data).get("auth.max_failures"))
    for _ in range(limit):
        assert run(folks, "bob", "mg_" + "y" * 40, READ, ip=ip) == credcheck.BAD_KEY
    assert run(folks, "bob", folks.keys["bob"], READ, ip=ip) == credcheck.BRAKED
    assert run(folks, "alice", folks.keys["alice"], READ, ip=ip) == credcheck.OK


def test_key_as_user_name_is_refused_and_not_recorded(folks: Folks) -> None:
    """Through Apache a key sent as the user name would be Apache's REMOTE_USER and access-log
    user: refused (the reason says what to do), and stored nowhere."""
    key = folks.keys["alice"]
    for second in ("", "x-oauth-basic"):
        assert run(folks, key, second, READ, ip="198.51.100.18") == credcheck.BAD_KEY
    stored = "".join(f.read_bytes().decode("latin-1") for f in folks.data.glob("modelgit.db*"))
    assert (key in stored) is False


@pytest.fixture(scope="module")
def server(folks: Folks) -> Iterator[Path]:
    """``modelgit serve`` on a unix socket, as the systemd unit runs it."""
    sock = folks.data / "run" / "modelgit.sock"
    log = open(folks.data / "serve.log", "ab")
    proc = subprocess.Popen([str(BIN / "modelgit"), "--data", str(folks.data), "serve",
                             "--socket", str(sock)], stdout=log, stderr=log)
    try:
        def listening() -> bool:
            assert proc.poll() is None, (folks.data / "serve.log").read_text()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(str(sock))
            return True

        # Accepting, not merely bound: a warm check that found no server would fall back to
        # the cold path, and the warm tests would pass without a server.
        wait_for(listening, 30, "modelgit serve to accept on its socket", ignore=(OSError,))
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


CASES = [
    # user, second, uri, authtype, context, key_only
    ("alice", "alice", READ, "PASS", "", False),
    ("alice", "alice", PUSH, "PASS", "", False),
    ("bob", "bob", READ, "PASS", "", False),
    ("bob", "bob", "/git/acme/open.git/info/refs", "PASS", "", False),
    ("bob", "bob", "/git/acme/open.git/info/refs", "PASS", "write", False),
    ("alice", "alice-ro", PUSH, "PASS", "", False),
    ("alice", "alice-ro", READ, "PASS", "write", True),
    ("alice", "alice-ro", READ, "PASS", "", True),
    ("bob", "bob", READ, "PASS", "", True),
    ("bob", "alice", READ, "PASS", "", True),
    ("alice", "read", READ, "GROUP", "", False),
    ("alice", "write", READ, "GROUP", "write", False),
    ("bob", "read", READ, "GROUP", "", False),
    ("bob", "read", "/git/acme/open.git/info/refs", "GROUP", "", False),
    ("bob", "write", "/git/acme/open.git/info/refs", "GROUP", "write", False),
    ("nobody", "read", READ, "GROUP", "", False),
    ("alice", "alice", "/git/acme/nope.git/info/refs", "PASS", "", False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join((*c[:2], c[3], c[2][-12:])))
def test_warm_answers_like_cold(folks: Folks, server: Path,
                                case: tuple[str, str, str, str, str, bool]) -> None:
    """The server's answer over the socket and the in-process one are the same decision."""
    user, second, uri, authtype, context, key_only = case
    second = folks.keys.get(second, second)
    env = {"URI": uri, "AUTHTYPE": authtype, "IP": "192.0.2.50", "CONTEXT": context}
    stdin = f"{user}\n{second}\n"
    cold = credcheck.check(credcheck.Options(str(folks.data), PREFIX, key_only), stdin, env)
    warm = credcheck.check(credcheck.Options(str(folks.data), PREFIX, key_only, str(server)),
                           stdin, env)
    assert warm[1].endswith("(modelgit serve)"), warm
    assert warm[0] == cold[0], (warm, cold)


def test_warm_brake_is_per_client_address(folks: Folks, server: Path) -> None:
    opts = credcheck.Options(str(folks.data), PREFIX, True, str(server))
    limit = int(load(folks.data).get("auth.max_failures"))
    right = f"alice\n{folks.keys['alice']}\n"
    wrong = "alice\nmg_" + "w" * 40 + "\n"
    for _ in range(limit):
        assert credcheck.check(opts, wrong, {"URI": READ, "IP": "203.0.113.9"})[0] == \
            credcheck.BAD_KEY
    code, reason = credcheck.check(opts, right, {"URI": READ, "IP": "203.0.113.9"})
    assert code != credcheck.OK and "too many failed sign-ins" in reason
    assert credcheck.check(opts, right, {"URI": READ, "IP": "203.0.113.10"})[0] == credcheck.OK


def test_unreachable_server_falls_back(folks: Folks, tmp_path: Path) -> None:
    opts = credcheck.Options(str(folks.data), PREFIX, False, str(tmp_path / "no.sock"))
    code, reason = credcheck.check(opts, f"alice\n{folks.keys['alice']}\n", {"URI": READ})
    assert code == credcheck.OK and "modelgit serve" not in reason


@pytest.mark.parametrize(("user", "second", "uri", "expected"), [
    ("alice\r\nX-Modelgit-Check: user", "k", READ, credcheck.BAD_KEY),
    ("Alice", "k", READ, credcheck.BAD_KEY),
    ("", "k", READ, credcheck.BAD_KEY),
    ("alice", "mg_a b", READ, credcheck.BAD_KEY),
    ("alice", "mg_a\rX-Modelgit-User: alice", READ, credcheck.BAD_KEY),
    ("alice", "k", READ + "\r\nX-Modelgit-Check: user", credcheck.NOT_GIT_PATH),
    ("alice", "k", "/git/acme/a b.git/info/refs", credcheck.NOT_GIT_PATH),
])
def test_nothing_odd_reaches_the_server(folks: Folks, user: str, second: str, uri: str,
                                        expected: int) -> None:
    """User, key and URI go into the request to the server: anything that could add a
    header (or is simply not a name, key or path) is refused before it is sent."""
    opts = credcheck.Options(str(folks.data), PREFIX, True, "/nonexistent/never-asked.sock")
    assert credcheck.check(opts, f"{user}\n{second}\n", {"URI": uri})[0] == expected


HEAVY = ("click", "yaml", "pygit2", "jsonschema", "detect_secrets", "rich", "cheroot",
         "sqlite_utils", "bandit")


def _modules_loaded(folks: Folks, authtype: str, *extra: str) -> list[str]:
    second = folks.keys["alice"] if authtype == "PASS" else "read"
    probe = (
        "import sys, json\n"
        "from modelgit.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "--data", str(folks.data), "credential-check",
         "--git-prefix", PREFIX, *extra],
        input=f"alice\n{second}\n", capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "URI": READ, "AUTHTYPE": authtype})
    code, modules = json.loads(proc.stdout)
    assert code == 0, proc.stderr
    return list(modules)


@pytest.mark.parametrize("authtype", ["PASS", "GROUP"])
def test_warm_path_imports_no_modelgit_internals(folks: Folks, server: Path,
                                                 authtype: str) -> None:
    """What keeps the helper under 50 ms: with the server there, the helper loads neither
    click nor the store, decide() or their libraries, only built-in modules."""
    modules = _modules_loaded(folks, authtype, "--socket", str(server))
    loaded = [m for m in modules if m.split(".")[0] in HEAVY or m in (
        "modelgit.store", "modelgit.config", "modelgit.authz.decide", "modelgit.authz.keys",
        "modelgit.names", "modelgit.cli.output", "sqlite3", "logging", "dataclasses")]
    assert loaded == [], f"credential-check imported {loaded}"


@pytest.mark.parametrize("authtype", ["PASS", "GROUP"])
def test_cold_path_imports_nothing_heavy(folks: Folks, authtype: str) -> None:
    modules = _modules_loaded(folks, authtype)
    loaded = [m for m in modules if m.split(".")[0] in HEAVY or m == "modelgit.cli.output"]
    assert loaded == [], f"credential-check imported {loaded}"


def test_cli_still_importable() -> None:
    """``from modelgit.cli.main import cli`` keeps working (tests and tools use it)."""
    from modelgit.cli import main as main_mod

    group = main_mod.cli
    assert "credential-check" in group.commands and "adopt" in group.commands
    assert main_mod.cli is group
    with pytest.raises(AttributeError):
        _ = main_mod.not_there  # type: ignore[attr-defined]



@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file install.sh writes for Apache: Python with -I -S, modelgit's folder on the path."""
    path = tmp_path_factory.mktemp("launcher") / "modelgit-credential-check"
    path.write_text(credcheck.launcher_text(str(BIN / "python")))
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_launcher_answers_like_the_check(folks: Folks, server: Path, launcher: Path,
                                         warm: bool) -> None:
    """Started without site-packages, the launcher gives every case the in-process answer:
    asking the server (warm), and deciding itself, which turns site on first (cold)."""
    for i, (user, second_name, uri, authtype, context, key_only) in enumerate(CASES):
        second = folks.keys.get(second_name, second_name)
        # An address per case: the failures counted here must not brake a later case.
        ip = f"198.18.{1 if warm else 2}.{i + 1}"
        env = {"PATH": "/usr/bin:/bin", "URI": uri, "AUTHTYPE": authtype, "IP": ip}
        if context:
            env["CONTEXT"] = context
        args = [str(launcher), "--data", str(folks.data), "--git-prefix", PREFIX]
        if warm:
            args += ["--socket", str(server)]
        if key_only:
            args.append("--key-only")
        got = subprocess.run(args, input=f"{user}\n{second}\n", env=env, capture_output=True,
                             text=True, timeout=60, check=False)
        expected, _ = credcheck.check(credcheck.Options(str(folks.data), PREFIX, key_only),
                                      f"{user}\n{second}\n", env)
        assert got.returncode == expected, (user, second_name, uri, authtype, got.stderr)
        assert "mg_" not in got.stderr
        assert ("(modelgit serve)" in got.stderr) == (warm and expected != credcheck.OK)


def test_launcher_refuses_bad_usage(launcher: Path) -> None:
    got = subprocess.run([str(launcher), "--what"], input="", capture_output=True, text=True,
                         timeout=60, check=False)
    assert got.returncode == credcheck.USAGE and "usage: modelgit-credential-check" in got.stderr


def test_launcher_text_refuses_an_interpreter_a_shebang_cannot_hold() -> None:
    with pytest.raises(ValueError, match="#!"):
        credcheck.launcher_text("/opt/my python/bin/python")


def _launch_cold(launcher: Path, data: Path, user: str, second: str, ip: str) -> int:
    env = {"PATH": "/usr/bin:/bin", "URI": READ, "AUTHTYPE": "PASS", "IP": ip}
    got = subprocess.run([str(launcher), "--data", str(data), "--git-prefix", PREFIX],
                         input=f"{user}\n{second}\n", env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert "mg_" not in got.stderr
    return got.returncode


def test_launcher_reads_config_yaml_when_deciding_itself(tmp_path: Path, launcher: Path) -> None:
    """Started without site-packages, the cold path still reads the site's config.yaml (YAML
    comes from site-packages): a brake of one failure, set there, stops the next sign-in."""
    data = tmp_path / "data"
    cfg = load(data)
    initialise(cfg, None)
    store = Store(cfg.db_path)
    store.add_user("carol")
    new = keys.make_key()
    store.add_key(new.key_id, "carol", new.digest, "write", None)
    store.add_space("acme", "carol", None)
    store.add_model("acme/bert", "carol")
    ip = "203.0.113.9"
    assert _launch_cold(launcher, data, "carol", new.key, ip) == credcheck.OK
    (data / "config.yaml").write_text("auth:\n  max_failures: 1\n", encoding="utf-8")
    assert _launch_cold(launcher, data, "carol", "mg_" + "z" * 40, ip) == credcheck.BAD_KEY
    assert _launch_cold(launcher, data, "carol", new.key, ip) == credcheck.BRAKED
    assert _launch_cold(launcher, data, "carol", new.key, "203.0.113.10") == credcheck.OK


def test_launcher_cold_path_imports_only_what_it_decides_with(folks: Folks) -> None:
    """What keeps the fallback under 50 ms: deciding without the server loads the store and
    decide(), but not site, typing, dataclasses, logging, json or _strptime."""
    from modelgit.hooks.install import package_root

    assert not (folks.data / "config.yaml").exists()
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {package_root()!r})\n"
        "from modelgit.credcheck import main\n"
        f"code = main(['credential-check', '--data', {str(folks.data)!r},"
        f" '--git-prefix', {PREFIX!r}])\n"
        "sys.stdout.write(str(code) + ' ' + ' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([str(BIN / "python"), "-I", "-S", "-c", probe],
                          input=f"alice\n{folks.keys['alice']}\n", capture_output=True,
                          text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "URI": READ, "IP": "192.0.2.77"})
    code, *modules = proc.stdout.split()
    assert code == "0", proc.stderr
    assert "modelgit.store" in modules and "modelgit.authz.decide" in modules
    loaded = [m for m in modules if m.split(".")[0] in (*HEAVY, "site", "typing", "dataclasses",
                                                         "inspect", "logging", "json",
                                                         "_strptime")]
    assert loaded == [], f"the cold path imported {loaded}"
