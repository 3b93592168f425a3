"""The admin CLI as docs/access.md and the README describe it: exit 0 ok, 1 refused or invalid
input, 2 usage; refusals are one ``error:`` line on stderr (plus an optional ``hint:``), never a
traceback; ``--json`` for scripts; keys shown once."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelgit.authz import keys
from modelgit.store import Store
from tests.helpers.cli_run import assert_refused, mg, ok

KEY_LINE = re.compile(r"^mg_[A-Za-z0-9]{40}$")
ANY_KEY = re.compile(r"mg_[A-Za-z0-9]{40}")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A fresh data folder with site admin ``root``, users bob and carol, space ``acme``
    (owned by root) and a private model ``acme/m`` (owned by root)."""
    folder = tmp_path / "data"
    ok(folder, "init", "--admin", "root")
    ok(folder, "user", "add", "bob", "--email", "bob@example.com")
    ok(folder, "user", "add", "carol")
    ok(folder, "space", "create", "acme", "--owner", "root")
    ok(folder, "model", "create", "acme/m", "--owner", "root")
    return folder


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same seed, shared by the read-only refusal cases."""
    folder = tmp_path_factory.mktemp("shared") / "data"
    ok(folder, "init", "--admin", "root")
    ok(folder, "user", "add", "bob")
    ok(folder, "space", "create", "acme", "--owner", "root")
    ok(folder, "model", "create", "acme/m", "--owner", "root")
    yield folder


# ----------------------------------------------------------------------------- exit codes
REFUSED: list[tuple[str, list[str]]] = [
    ("unknown user: key create", ["key", "create", "nobody"]),
    ("unknown user: key list", ["key", "list", "nobody"]),
    ("unknown user: key regenerate", ["key", "regenerate", "nobody"]),
    ("unknown user: user remove", ["user", "remove", "nobody"]),
    ("unknown user: model owner", ["model", "create", "acme/x1", "--owner", "nobody"]),
    ("unknown user: space owner", ["space", "create", "newspace", "--owner", "nobody"]),
    ("unknown user: grant", ["grant", "acme/m", "nobody", "user"]),
    ("unknown user: space grant", ["space", "grant", "acme", "nobody", "user"]),
    ("unknown model: show", ["model", "show", "acme/nope"]),
    ("unknown model: roles", ["roles", "acme/nope"]),
    ("unknown model: grant", ["grant", "acme/nope", "bob", "user"]),
    ("unknown model: revoke", ["revoke", "acme/nope", "bob"]),
    ("unknown model: set", ["model", "set", "acme/nope", "--public"]),
    ("unknown model: delete", ["model", "delete", "acme/nope"]),
    ("unknown space: model create", ["model", "create", "nospace/m", "--owner", "root"]),
    ("unknown space: show", ["space", "show", "nospace"]),
    ("unknown key id", ["key", "revoke", "mg_notthere"]),
    ("existing user", ["user", "add", "bob"]),
    ("existing space", ["space", "create", "acme", "--owner", "root"]),
    ("existing model", ["model", "create", "acme/m", "--owner", "root"]),
    ("invalid user name", ["user", "add", "Bad_Name"]),
    ("invalid user name: dot start", ["user", "add", ".hidden"]),
    ("invalid user name: slash", ["user", "add", "a/b"]),
    ("invalid user name: too long", ["user", "add", "a" * 40]),
    ("invalid space: uppercase", ["space", "create", "Bad_Name", "--owner", "root"]),
    ("invalid space: ..", ["space", "create", "a..b", "--owner", "root"]),
    ("invalid space: .git", ["space", "create", "x.git", "--owner", "root"]),
    ("invalid model: uppercase", ["model", "create", "acme/Bad_Name", "--owner", "root"]),
    ("invalid model: ..", ["model", "create", "acme/a..b", "--owner", "root"]),
    ("invalid model: .git", ["model", "create", "acme/x.git", "--owner", "root"]),
    ("invalid model: traversal", ["model", "create", "../etc", "--owner", "root"]),
    ("invalid model: deep traversal", ["model", "create", "acme/../../etc", "--owner", "root"]),
    ("invalid model: absolute", ["model", "create", "/etc/passwd", "--owner", "root"]),
    ("invalid model: no slash", ["model", "create", "justamodel", "--owner", "root"]),
    ("invalid model: two slashes", ["model", "create", "acme/a/b", "--owner", "root"]),
    ("invalid model: empty part", ["model", "create", "acme/", "--owner", "root"]),
    ("invalid model: show without slash", ["model", "show", "justamodel"]),
    ("invalid model: grant without slash", ["grant", "justamodel", "bob", "user"]),
    ("invalid model: too long", ["model", "create", "acme/" + "a" * 97, "--owner", "root"]),
    ("expiry not positive", ["key", "create", "bob", "--expires", "0"]),
    ("invalid quota", ["space", "create", "quotaspace", "--owner", "root", "--quota", "lots"]),
]


@pytest.mark.parametrize(("why", "args"), REFUSED, ids=[w for w, _ in REFUSED])
def test_refused_or_invalid_exits_1_with_one_error_line(shared: Path, why: str,
                                                        args: list[str]) -> None:
    run = mg(shared, *args)
    assert_refused(run)
    assert not ANY_KEY.search(run.out), "a refused command printed a key"


def test_invalid_ids_create_nothing_on_disk(shared: Path) -> None:
    for model_id in ("../etc", "acme/../../etc", "acme/a..b", "acme/x.git", "justamodel"):
        assert_refused(mg(shared, "model", "create", model_id, "--owner", "root"))
    repos = shared / "repos"
    made = sorted(str(p.relative_to(shared)) for p in repos.rglob("*.git"))
    assert made == ["repos/acme/m.git"]
    assert not (shared / "etc.git").exists()
    assert not (shared.parent / "etc.git").exists()
    ids = [m["id"] for m in mg(shared, "--json", "model", "list").json()]
    assert ids == ["acme/m"]


USAGE: list[tuple[str, list[str]]] = [
    ("missing argument: user add", ["user", "add"]),
    ("missing argument: key create", ["key", "create"]),
    ("missing argument: revoke", ["revoke", "acme/m"]),
    ("missing argument: grant", ["grant", "acme/m", "bob"]),
    ("missing option: model create --owner", ["model", "create", "acme/x2"]),
    ("missing option: space create --owner", ["space", "create", "s2"]),
    ("invalid role choice", ["grant", "acme/m", "bob", "superuser"]),
    ("invalid space role choice", ["space", "grant", "acme", "bob", "developer"]),
    ("invalid scope choice", ["key", "create", "bob", "--scope", "admin"]),
    ("invalid gated choice", ["model", "create", "acme/x3", "--owner", "root", "--gated", "yes"]),
    ("expires not a number", ["key", "create", "bob", "--expires", "soon"]),
    ("unknown option", ["user", "list", "--frobnicate"]),
    ("unknown command", ["frobnicate"]),
]


@pytest.mark.parametrize(("why", "args"), USAGE, ids=[w for w, _ in USAGE])
def test_usage_errors_exit_2(shared: Path, why: str, args: list[str]) -> None:
    run = mg(shared, *args)
    assert run.code == 2, f"{why}: exit {run.code}\n{run.out}\n{run.err}"
    assert not ANY_KEY.search(run.out)


def test_usage_error_changed_nothing(shared: Path) -> None:
    mg(shared, "model", "create", "acme/x3", "--owner", "root", "--gated", "yes")
    mg(shared, "key", "create", "bob", "--scope", "admin")
    assert [m["id"] for m in mg(shared, "--json", "model", "list").json()] == ["acme/m"]
    assert mg(shared, "--json", "key", "list", "bob").json() == []


# ----------------------------------------------------------------------------- init
def test_init_admin_prints_the_key_once(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    first = ok(folder, "init", "--admin", "root")
    printed = ANY_KEY.findall(first.out + first.err)
    assert len(printed) == 1, first
    key = printed[0]
    assert key in first.out.splitlines(), "the key is on stdout, on a line of its own"

    # The printed key is root's, and root is a site admin.
    row = Store(folder / "modelgit.db").key_by_hash(keys.digest(key))
    assert row is not None and row["user"] == "root" and row["is_admin"]
    assert row["revoked"] is None

    second = ok(folder, "init", "--admin", "root")
    assert not ANY_KEY.search(second.out + second.err), second
    users = ok(folder, "--json", "user", "list").json()
    assert [u["name"] for u in users] == ["root"]
    assert len(ok(folder, "--json", "key", "list", "root").json()) == 1


def test_init_without_admin_prints_no_key(tmp_path: Path) -> None:
    run = ok(tmp_path / "plain", "init")
    assert not ANY_KEY.search(run.out + run.err)
    assert (tmp_path / "plain" / "modelgit.db").is_file()
    assert ok(tmp_path / "plain", "--json", "user", "list").json() == []


def test_init_refuses_invalid_admin_name(tmp_path: Path) -> None:
    run = mg(tmp_path / "bad", "init", "--admin", "Bad_Name")
    assert_refused(run)
    assert not ANY_KEY.search(run.out + run.err)


def test_commands_without_a_data_folder_are_refused(tmp_path: Path) -> None:
    run = mg(tmp_path / "missing", "user", "list")
    assert_refused(run)


# ----------------------------------------------------------------------------- keys
def test_key_create_prints_only_the_key(data: Path) -> None:
    for extra in ([], ["--scope", "read"], ["--expires", "30"]):
        run = ok(data, "key", "create", "bob", *extra)
        assert run.out.endswith("\n")
        lines = run.out.splitlines()
        assert len(lines) == 1 and KEY_LINE.match(lines[0]), repr(run.out)
    listed = ok(data, "--json", "key", "list", "bob").json()
    assert len(listed) == 3
    assert sorted(k["scope"] for k in listed) == ["read", "write", "write"]
    assert all(k["state"] == "active" for k in listed)
    assert sum(1 for k in listed if k["expires"]) == 1
    # A listing never shows a whole key or its digest.
    text = json.dumps(listed)
    assert not ANY_KEY.search(text)
    assert not re.search(r"[0-9a-f]{64}", text)


def test_key_list_id_revokes_that_key(data: Path) -> None:
    key = ok(data, "key", "create", "bob").out.strip()
    other = ok(data, "key", "create", "bob").out.strip()
    listed = ok(data, "--json", "key", "list", "bob").json()
    (entry,) = [k for k in listed if key.startswith(k["id"].rstrip("…"))]
    ok(data, "key", "revoke", entry["id"], "--yes")
    states = {k["id"]: k["state"] for k in ok(data, "--json", "key", "list", "bob").json()}
    assert states[entry["id"]] == "revoked"
    assert [s for i, s in states.items() if other.startswith(i.rstrip("…"))] == ["active"]
    assert_refused(mg(data, "key", "revoke", entry["id"]))  # already revoked


def test_key_regenerate_kills_every_older_key(data: Path) -> None:
    old = [ok(data, "key", "create", "bob", *s).out.strip()
           for s in ([], ["--scope", "read"], ["--expires", "5"])]
    ok(data, "key", "create", "carol")
    run = ok(data, "key", "regenerate", "bob", "--yes")
    new_keys = [line for line in run.out.splitlines() if KEY_LINE.match(line)]
    assert len(new_keys) == 1, run
    new = new_keys[0]
    assert new not in old

    listed = ok(data, "--json", "key", "list", "bob").json()
    assert len(listed) == 4
    active = [k for k in listed if k["state"] == "active"]
    assert len(active) == 1 and new.startswith(active[0]["id"].rstrip("…")), listed
    assert all(k["state"] == "revoked" for k in listed if k is not active[0])

    db = Store(data / "modelgit.db")
    for key in old:
        row = db.key_by_hash(keys.digest(key))
        assert row is not None and row["revoked"], key
    row = db.key_by_hash(keys.digest(new))
    assert row is not None and row["revoked"] is None and row["user"] == "bob"
    # Other people's keys are untouched.
    assert [k["state"] for k in ok(data, "--json", "key", "list", "carol").json()] == ["active"]


# ----------------------------------------------------------------------------- --json
def test_json_listings_parse(data: Path) -> None:
    ok(data, "key", "create", "bob")
    ok(data, "grant", "acme/m", "bob", "developer")

    users = ok(data, "--json", "user", "list").json()
    assert isinstance(users, list)
    assert {u["name"] for u in users} == {"root", "bob", "carol"}
    assert next(u for u in users if u["name"] == "bob")["email"] == "bob@example.com"

    key_list = ok(data, "--json", "key", "list", "bob").json()
    assert isinstance(key_list, list) and len(key_list) == 1

    spaces = ok(data, "--json", "space", "list").json()
    assert [s["name"] for s in spaces] == ["acme"]
    assert spaces[0]["owner"] == "root"

    models = ok(data, "--json", "model", "list").json()
    assert [m["id"] for m in models] == ["acme/m"]
    assert models[0]["visibility"] == "private"

    role_rows = ok(data, "--json", "roles", "acme/m").json()
    assert {(r["user"], r["role"]) for r in role_rows} >= {("root", "owner"),
                                                          ("bob", "developer")}

    shown = ok(data, "--json", "model", "show", "acme/m").json()
    assert shown["id"] == "acme/m" and shown["owner"] == "root"
    space = ok(data, "--json", "space", "show", "acme").json()
    assert space["name"] == "acme"


def test_json_is_empty_list_when_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    ok(folder, "init")
    for args in (["user", "list"], ["space", "list"], ["model", "list"]):
        assert ok(folder, "--json", *args).json() == []


# ----------------------------------------------------------------------------- owners
def test_user_remove_refuses_an_owner(data: Path) -> None:
    ok(data, "space", "grant", "acme", "bob", "user")
    ok(data, "model", "create", "acme/bobs", "--owner", "bob")
    for owner in ("root", "bob"):  # root owns the space and acme/m; bob owns acme/bobs
        assert_refused(mg(data, "user", "remove", owner))
    names = {u["name"] for u in ok(data, "--json", "user", "list").json()}
    assert {"root", "bob"} <= names
    # A plain user can be removed, and goes with their keys.
    ok(data, "key", "create", "carol")
    ok(data, "user", "remove", "carol", "--yes")
    names = {u["name"] for u in ok(data, "--json", "user", "list").json()}
    assert "carol" not in names
    assert_refused(mg(data, "key", "list", "carol"))


def test_grant_owner_is_refused(data: Path) -> None:
    """docs/access.md: the owner is the creator and fixed. Granting `owner` is a refusal by a
    rule (exit 1, one line that says why), not a usage error."""
    run = mg(data, "grant", "acme/m", "bob", "owner")
    assert_refused(run, mentions="owner")
    roles_now = ok(data, "--json", "roles", "acme/m").json()
    assert ("bob", "owner") not in {(r["user"], r["role"]) for r in roles_now}


def test_owner_role_cannot_be_changed_by_grant(data: Path) -> None:
    assert_refused(mg(data, "grant", "acme/m", "root", "developer"))
    roles_now = ok(data, "--json", "roles", "acme/m").json()
    assert {(r["user"], r["role"]) for r in roles_now} == {("root", "owner")}


def test_revoke_of_the_owner_is_refused(data: Path) -> None:
    assert_refused(mg(data, "revoke", "acme/m", "root"))
    assert_refused(mg(data, "space", "revoke", "acme", "root"))
    roles_now = ok(data, "--json", "roles", "acme/m").json()
    assert ("root", "owner") in {(r["user"], r["role"]) for r in roles_now}
    members = ok(data, "--json", "space", "show", "acme").json()["members"]
    assert {"user": "root", "role": "owner"} in members


def test_grant_and_revoke_round_trip(data: Path) -> None:
    ok(data, "grant", "acme/m", "bob", "maintainer")
    ok(data, "grant", "acme/m", "bob", "user")  # one role per user: replaced
    rows = [r for r in ok(data, "--json", "roles", "acme/m").json() if r["user"] == "bob"]
    assert [r["role"] for r in rows] == ["user"]
    ok(data, "revoke", "acme/m", "bob", "--yes")
    rows = [r for r in ok(data, "--json", "roles", "acme/m").json() if r["user"] == "bob"]
    assert rows == []


# ----------------------------------------------------------------------------- models
def test_model_create_needs_a_role_in_the_space(data: Path) -> None:
    run = mg(data, "model", "create", "acme/bobs", "--owner", "bob")
    assert_refused(run, hint=True)
    assert not (data / "repos" / "acme" / "bobs.git").exists()
    ok(data, "space", "grant", "acme", "bob", "user")
    ok(data, "model", "create", "acme/bobs", "--owner", "bob")
    assert (data / "repos" / "acme" / "bobs.git").is_dir()


def test_model_create_makes_a_bare_repo_with_hooks(data: Path) -> None:
    ok(data, "model", "create", "acme/new-model", "--owner", "root", "--public",
       "--gated", "auto", "--name", "Ein Modell ✨")
    repo = data / "repos" / "acme" / "new-model.git"
    assert repo.is_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    bare = subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "--is-bare-repository"],
                          capture_output=True, text=True, check=True, env=env)
    assert bare.stdout.strip() == "true"
    head = subprocess.run(["git", "--git-dir", str(repo), "symbolic-ref", "HEAD"],
                          capture_output=True, text=True, check=True, env=env)
    assert head.stdout.strip() == "refs/heads/main"
    for hook in ("pre-receive", "post-receive"):
        path = repo / "hooks" / hook
        assert path.is_file(), hook
        assert path.stat().st_mode & stat.S_IXUSR, f"{hook} is not executable"
    shown = ok(data, "--json", "model", "show", "acme/new-model").json()
    assert (shown["visibility"], shown["gated"]) == ("public", "auto")
    assert shown["display_name"] == "Ein Modell ✨"


def test_model_delete_removes_the_repository(data: Path) -> None:
    repo = data / "repos" / "acme" / "m.git"
    assert repo.is_dir()
    ok(data, "grant", "acme/m", "bob", "developer")
    ok(data, "model", "delete", "acme/m", "--yes")
    assert not repo.exists()
    assert ok(data, "--json", "model", "list").json() == []
    assert_refused(mg(data, "model", "show", "acme/m"))
    # The name is free again, and the new model starts with no grants.
    ok(data, "model", "create", "acme/m", "--owner", "root")
    rows = ok(data, "--json", "roles", "acme/m").json()
    assert {(r["user"], r["role"]) for r in rows} == {("root", "owner")}


def test_model_set_changes_visibility_and_gating(data: Path) -> None:
    ok(data, "model", "set", "acme/m", "--public", "--gated", "manual")
    shown = ok(data, "--json", "model", "show", "acme/m").json()
    assert (shown["visibility"], shown["gated"]) == ("public", "manual")
    ok(data, "model", "set", "acme/m", "--private", "--gated", "off")
    shown = ok(data, "--json", "model", "show", "acme/m").json()
    assert (shown["visibility"], shown["gated"]) == ("private", "off")


def test_space_create_needs_admin_or_space_creator(data: Path) -> None:
    assert_refused(mg(data, "space", "create", "bobspace", "--owner", "bob"))
    assert [s["name"] for s in ok(data, "--json", "space", "list").json()] == ["acme"]
    ok(data, "space", "create", "rootspace", "--owner", "root")


def test_space_full_name_is_set_shown_and_removed(data: Path) -> None:
    ok(data, "space", "create", "lab", "--owner", "root", "--fullname", "  Acme Research Lab ")
    listed = {s["name"]: s for s in ok(data, "--json", "space", "list").json()}
    assert listed["lab"]["fullname"] == "Acme Research Lab" and listed["acme"]["fullname"] is None
    ok(data, "space", "set", "acme", "--fullname", "Acme Corp")
    assert ok(data, "--json", "space", "show", "acme").json()["fullname"] == "Acme Corp"
    assert "Acme Corp" in ok(data, "space", "show", "acme").out
    assert_refused(mg(data, "space", "set", "acme", "--fullname", "two\nlines"))
    assert_refused(mg(data, "space", "set", "acme", "--fullname", "x" * 101))
    assert_refused(mg(data, "space", "set", "acme"))  # nothing to set
    assert ok(data, "--json", "space", "show", "acme").json()["fullname"] == "Acme Corp"
    ok(data, "space", "set", "acme", "--fullname", "")
    assert ok(data, "--json", "space", "show", "acme").json()["fullname"] is None


# ----------------------------------------------------------------------------- the database
def test_a_newer_database_is_refused_in_one_line(data: Path) -> None:
    conn = sqlite3.connect(data / "modelgit.db")
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                     " VALUES ('modelgit', '9000_from_the_future', '2099-01-01')")
    conn.close()
    for args in (["user", "list"], ["init"], ["model", "show", "acme/m"]):
        assert_refused(mg(data, *args))
    assert not list(data.glob("*.bak"))
