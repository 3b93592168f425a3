"""The hook shim forwards to the running server (warm) and checks by itself without one."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Site, commit_file, git, make_site


def test_push_through_server_takes_warm_path(site: Site, work: Path) -> None:
    model = site.model("warm/through-server")
    git("clone", "-q", site.clone_url(model, "owner"), str(work / "w"))
    commit_file(work / "w", "a.txt", "a")
    git("push", "-q", "origin", "main", cwd=work / "w")
    log = (site.data / "log" / "server.log").read_text()
    assert f"pre-receive {model} on " in log and "(warm) via the compiled forwarder" in log
    assert f"post-receive {model} (warm) via the compiled forwarder" in log
    hooks_log = site.data / "log" / "hooks.log"
    assert not hooks_log.exists() or f"{model}: no server reachable" not in hooks_log.read_text()


def test_a_hook_connection_that_leaves_without_a_request_is_no_error(site: Site,
                                                                     work: Path) -> None:
    """A client of the hook socket that connects and leaves at once (a hook killed before it
    wrote, a probe) is neither an error in the log nor the end of the warm path."""
    import socket

    for _ in range(3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(site.data / "run" / "hooks.sock"))
    model = site.model("warm/after-probes")
    git("clone", "-q", site.clone_url(model, "owner"), str(work / "p"))
    commit_file(work / "p", "a.txt", "a")
    git("push", "-q", "origin", "main", cwd=work / "p")
    log = site.log_text()
    assert f"post-receive {model} (warm)" in log
    assert "warm hook request failed" not in log and "Traceback" not in log


def test_hooks_without_the_forwarder_start_python_and_still_go_warm(site: Site,
                                                                   work: Path) -> None:
    """Hooks written where no compiler was (MODELGIT_FORWARD empty) start the Python shim,
    which forwards the same push; refusals reach the pusher the same way."""
    from modelgit.hooks import install as hooks_install

    model = site.model("warm/python-shim")
    bare = site.data / "repos" / f"{model}.git"
    for name in hooks_install.HOOKS:
        (bare / "hooks" / name).write_text(hooks_install.render(site.data, model, forward=""))
    git("clone", "-q", site.clone_url(model, "owner"), str(work / "p"))
    commit_file(work / "p", "a.txt", "a")
    git("push", "-q", "origin", "main", cwd=work / "p")
    commit_file(work / "p", "README.md", "---\nlicense: [not, a, licence]\n---\n")
    refused = git("push", "origin", "main", cwd=work / "p", check=False)
    assert refused.returncode != 0 and "README.md" in refused.stderr
    log = (site.data / "log" / "server.log").read_text()
    assert f"post-receive {model} (warm) via Python" in log
    assert f"pre-receive {model} on {bare}: rc=1 (warm) via Python" in log


def test_without_server_hook_checks_cold(tmp_path: Path) -> None:
    """No server listening: the same checks run in the hook process, refusals included."""
    offline = make_site(tmp_path)
    offline.user("owner", admin=True)
    offline.user("dev")
    model = offline.model("cold/offline")
    offline.cli("grant", model, "dev", "developer")
    bare = offline.data / "repos" / f"{model}.git"
    repo = tmp_path / "c"
    git("clone", "-q", str(bare), str(repo))
    commit_file(repo, "a.txt", "1", "one")
    commit_file(repo, "b.txt", "2", "two")
    git("push", "-q", "origin", "main", cwd=repo, env={"MODELGIT_USER": "dev"})
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    commit_file(repo, "c.txt", "3", "rewrite")
    refused = git("push", "--force", "origin", "main", cwd=repo, check=False,
                  env={"MODELGIT_USER": "dev"})
    assert refused.returncode != 0 and "needs maintainer" in refused.stderr
    log = (offline.data / "log" / "hooks.log").read_text()
    assert f"pre-receive {model}: no server reachable" in log


def test_wire_format_round_trip(tmp_path: Path) -> None:
    """What the shim sends is what the server reads: odd bytes, '=' in values, relative
    git paths made absolute against the hook's folder."""
    import io

    from modelgit.hooks import forward, warm

    stdin = b"0" * 40 + b" " + b"1" * 40 + b" refs/heads/main\n\x00\xff binary tail"
    env = {"GIT_DIR": ".", "X": "a=b=c", "U": "caf\u00e9", "GIT_QUARANTINE_PATH": "objects/q"}
    wire = forward.encode_request("pre-receive", "s/m", "/srv/r.git", env, stdin)
    hook, model, got_env, got_stdin = warm.decode_request(io.BytesIO(wire))
    assert (hook, model, got_stdin) == ("pre-receive", "s/m", stdin)
    assert got_env["X"] == "a=b=c" and got_env["U"] == "caf\u00e9"
    assert got_env["GIT_DIR"] == "/srv/r.git"
    assert got_env["GIT_QUARANTINE_PATH"] == "/srv/r.git/objects/q"


def test_shim_imports_nothing_heavy() -> None:
    """The hook process imports only built-ins before it knows whether a server is there."""
    import subprocess
    import sys

    from modelgit.hooks.install import package_root

    code = ("import sys; sys.path.insert(0, sys.argv[1]); import modelgit.hooks.entry, "
            "modelgit.hooks.forward; print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, package_root()],
                         capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("pygit2", "yaml", "jsonschema", "detect_secrets", "logging", "typing", "re",
                  "json", "socket", "sqlite3"):
        assert heavy not in out, f"the hook shim imports {heavy}"


def test_server_hooks_follow_config_changes(tmp_path: Path, work: Path) -> None:
    """The hook server keeps its configuration between pushes, and reads config.yaml again
    when it changed: a site that starts requiring a card refuses the next push without one."""
    import yaml

    from tests.conftest import TEST_SETTINGS

    own = make_site(tmp_path)
    own.user("owner", admin=True)
    model = own.model("warm/config")
    own.start()
    try:
        git("clone", "-q", own.clone_url(model, "owner"), str(work / "c"))
        commit_file(work / "c", "a.txt", "a")
        git("push", "-q", "origin", "main", cwd=work / "c")
        (own.data / "config.yaml").write_text(
            yaml.safe_dump({**TEST_SETTINGS, "card": {"required": True}}))
        # a new branch is checked for a card
        refused = git("push", "origin", "main:refs/heads/other", cwd=work / "c", check=False)
        assert refused.returncode != 0 and "model card" in refused.stderr, refused.stderr
    finally:
        own.stop()
