"""CLI habits (the README): ``--json`` before or after any command, JSON that never shortens a
value, tables that keep ids whole on a narrow terminal, and destructive commands that ask on a
terminal and otherwise need ``--yes``."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from modelgit.authz import keys
from modelgit.cli.main import cli
from tests.conftest import BIN
from tests.helpers.cli_run import assert_refused, mg, ok

LONG_MODEL = "acme/bert-small-multilingual-cased-v2"
LONG_USER = "a-rather-long-user-name.example"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Admin ``root``; bob (a key, user in space acme, developer on acme/m) and carol."""
    folder = tmp_path / "data"
    ok(folder, "init", "--admin", "root")
    ok(folder, "user", "add", "bob")
    ok(folder, "user", "add", "carol")
    ok(folder, "space", "create", "acme", "--owner", "root")
    ok(folder, "model", "create", "acme/m", "--owner", "root")
    ok(folder, "space", "grant", "acme", "bob", "user")
    ok(folder, "grant", "acme/m", "bob", "developer")
    ok(folder, "key", "create", "bob")
    return folder


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


# ----------------------------------------------------------------------------- --json
def test_every_command_takes_json_after_its_name() -> None:
    paths = list(_commands(cli))
    assert ("scan", "show") in paths and ("key", "list") in paths and ("gc",) in paths
    for path in paths:
        options = [p for p in _command(path).params if isinstance(p, click.Option)]
        assert any("--json" in p.opts for p in options), f"modelgit {' '.join(path)}"


def test_json_before_or_after_the_command_means_the_same(data: Path) -> None:
    for args in (["key", "list", "bob"], ["scan", "show", "acme/m"], ["model", "show", "acme/m"],
                 ["roles", "acme/m"], ["sync", "list"], ["access", "list", "acme/m"]):
        before = ok(data, "--json", *args).json()
        assert ok(data, *args, "--json").json() == before, args
    # Between the arguments, and after a group's name, too.
    listed = ok(data, "--json", "key", "list", "bob").json()
    assert ok(data, "key", "list", "--json", "bob").json() == listed
    assert ok(data, "key", "--json", "list", "bob").json() == listed
    assert ok(data, "gc", "--dry-run", "--json").json()["dry_run"] is True
    # A value that happens to read "--json" stays the option's value.
    ok(data, "user", "add", "dave", "--fullname", "--json")
    users = ok(data, "user", "list", "--json").json()
    assert next(u for u in users if u["name"] == "dave")["fullname"] == "--json"


def test_json_never_shortens_an_id(data: Path) -> None:
    key = ok(data, "key", "create", "carol").out.strip()
    [entry] = ok(data, "key", "list", "carol", "--json").json()
    assert entry["id"] == keys.public_id(key) and key.startswith(entry["id"])
    assert entry["id"] in ok(data, "key", "list", "carol").out  # the table shows it whole
    ok(data, "key", "revoke", entry["id"], "--yes")  # and it is what revoke takes
    for args in (["user", "list"], ["key", "list", "bob"], ["space", "list"], ["model", "list"],
                 ["roles", "acme/m"], ["space", "show", "acme"], ["model", "show", "acme/m"],
                 ["access", "list", "acme/m"], ["sync", "list"], ["scan", "show", "acme/m"]):
        out = ok(data, "--json", *args).out
        assert "…" not in out, (args, out)


# ----------------------------------------------------------------------------- tables
def _at_width(data: Path, columns: int, *args: str) -> str:
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, ["--data", str(data), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [40, 60, 120])
def test_tables_keep_ids_whole_on_any_terminal(data: Path, columns: int) -> None:
    ok(data, "model", "create", LONG_MODEL, "--owner", "root",
       "--name", "A multilingual model with a long display name")
    ok(data, "user", "add", LONG_USER, "--fullname", "Someone With A Long Name",
       "--email", "someone.with.a.long.name@example.org")
    ok(data, "grant", LONG_MODEL, LONG_USER, "maintainer")
    key_id = ok(data, "--json", "key", "list", "bob").json()[0]["id"]
    for args, ids in ((["model", "list"], ["acme/m", LONG_MODEL]),
                      (["user", "list"], ["root", "bob", LONG_USER]),
                      (["key", "list", "bob"], [key_id]),
                      (["roles", LONG_MODEL], ["root", LONG_USER]),
                      (["space", "list"], ["acme"])):
        out = _at_width(data, columns, *args)
        lines = out.splitlines()
        for name in ids:
            assert any(name in line for line in lines), f"{args} at {columns}: {name}\n{out}"
        assert "…" not in out
        for line in lines:
            if line[:1] in "┏┃┡│└":  # a table is drawn within the terminal's width
                assert cell_len(line) <= columns, f"{args} at {columns}:\n{out}"
    # A wide terminal draws tables; a narrow one lists one block per row, nothing cut.
    assert "┃" in _at_width(data, 120, "model", "list")
    narrow = _at_width(data, 40, "model", "list")
    assert f"id: {LONG_MODEL}" in narrow
    assert "display_name: A multilingual model with a long display name" in narrow


# ----------------------------------------------------------------------------- --yes
def _state(data: Path) -> dict[str, Any]:
    return {
        "models": ok(data, "--json", "model", "list").json(),
        "users": ok(data, "--json", "user", "list").json(),
        "keys": ok(data, "--json", "key", "list", "bob").json(),
        "roles": ok(data, "--json", "roles", "acme/m").json(),
        "members": ok(data, "--json", "space", "show", "acme").json()["members"],
    }


def _destructive(data: Path) -> list[list[str]]:
    key_id = ok(data, "--json", "key", "list", "bob").json()[0]["id"]
    return [["model", "delete", "acme/m"], ["user", "remove", "carol"],
            ["key", "revoke", key_id], ["key", "regenerate", "bob"],
            ["space", "revoke", "acme", "bob"], ["revoke", "acme/m", "bob"], ["gc"]]


def test_destructive_commands_without_a_terminal_need_yes(data: Path) -> None:
    before = _state(data)
    for args in _destructive(data):
        for run in (mg(data, *args), mg(data, "--json", *args)):
            assert_refused(run, hint=True)
            assert "--yes" in run.err.splitlines()[1], run.err
            assert not run.out
        # A piped answer is no terminal either: scripts say --yes.
        piped = CliRunner().invoke(cli, ["--data", str(data), *args], input="y\n")
        assert piped.exit_code == 1 and "--yes" in piped.stderr
    assert _state(data) == before
    assert (data / "repos" / "acme" / "m.git").is_dir()
    ok(data, "gc", "--dry-run")  # a dry run changes nothing, so it never asks

    # With --yes (or -y) each one does its work.
    ok(data, "revoke", "acme/m", "bob", "--yes")
    ok(data, "space", "revoke", "acme", "bob", "-y")
    key_id = ok(data, "--json", "key", "list", "bob").json()[0]["id"]
    ok(data, "key", "revoke", key_id, "--yes")
    assert len(ok(data, "key", "regenerate", "bob", "--yes").out.split()) == 1
    ok(data, "user", "remove", "carol", "--yes")
    assert "deleted acme/m" in ok(data, "model", "delete", "acme/m", "--yes").out
    ok(data, "gc", "--yes")
    after = _state_after(data)
    assert after["models"] == [] and "carol" not in after["users"]
    assert after["bob_roles"] == []


def _state_after(data: Path) -> dict[str, Any]:
    return {"models": ok(data, "--json", "model", "list").json(),
            "users": [u["name"] for u in ok(data, "--json", "user", "list").json()],
            "bob_roles": [m for m in ok(data, "--json", "space", "show", "acme").json()["members"]
                          if m["user"] == "bob"]}


def _on_terminal(data: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run the real ``modelgit`` on a pseudo-terminal, answer its question, return what the
    person saw."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN / "modelgit"), "--data", str(data), *args],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the program ended and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert answered, seen.decode(errors="replace")
        return proc.wait(timeout=30), seen.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_terminal_is_asked_first(data: Path) -> None:
    repo = data / "repos" / "acme" / "m.git"
    code, seen = _on_terminal(data, ["model", "delete", "acme/m"], "n")
    assert code == 1, seen
    assert "Delete acme/m with its repository, roles and access requests?" in seen
    assert "cancelled: nothing was changed" in seen
    assert repo.is_dir()

    code, seen = _on_terminal(data, ["revoke", "acme/m", "bob"], "y")
    assert code == 0 and "Take bob's role developer on acme/m away?" in seen, seen
    assert "bob has no role on acme/m any more" in seen

    code, seen = _on_terminal(data, ["model", "delete", "acme/m"], "y")
    assert code == 0 and "deleted acme/m" in seen, seen
    assert not repo.exists()
    assert json.loads(mg(data, "--json", "model", "list").out) == []
