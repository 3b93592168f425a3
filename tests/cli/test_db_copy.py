"""``modelgit db copy --to postgresql://...`` (issue 23): a SQLite site with rows in every
table moves to a real PostgreSQL with nothing lost, read back independently of modelgit, and
the site then runs on PostgreSQL with the same users, keys and roles."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from modelgit.authz import keys
from modelgit.store import Store
from tests.helpers.cli_run import mg, ok


def _fill(data: Path) -> str:
    """A site whose every table has rows, through the CLI and the store; the admin's key."""
    admin_key = ok(data, "init", "--admin", "admin").out.strip().splitlines()[-1]
    ok(data, "user", "add", "alice")
    store = Store(data / "modelgit.db")
    store.add_space("alice", "alice", None)
    store.add_model("alice/m", "alice", display_name="Ünïcode ‘model’", gated="manual")
    store.set_model_role("alice/m", "admin", "developer")
    store.set_space_role("alice", "admin", "maintainer")
    new = keys.make_key()
    store.add_key(new.key_id, "alice", new.digest, "read", "2099-01-01T00:00:00.000Z")
    store.link_object("alice/m", "b" * 64, 7 * 1024**3)
    store.add_lock("alice/m", "weights.bin", "alice")
    store.save_request("alice/m", "admin", status="pending", fields={"why": "it's 100%"},
                       timestamp="2026-01-01T00:00:00.000Z", reviewed_at=None,
                       granted_by=None, reason=None)
    store.record_auth_failure("127.0.0.1", "ghost", 1_780_000_000.123456789)
    scan = store.start_scan("alice/m", "refs/heads/main", "c" * 40, "secrets")
    store.finish_scan(scan, [{"path": "a.py", "line": 3, "rule": "r", "severity": "high",
                              "confidence": "high", "message": "m", "commit": "c" * 40}])
    task = store.add_task("sync", "alice/m", "refs/heads/main", "c" * 40, region="eu")
    store.record_replica("alice/m", "eu", "refs/heads/main", "c" * 40, task)
    store.audit("test.fill", actor="cli", target="alice/m", detail={"x": 1})
    store.add_session("f" * 64, "alice", new.key_id, "csrf", "2026-01-01T00:00:00.000Z",
                      "2099-01-01T00:00:00.000Z")
    store.add_xorb("alice/m", "d" * 64, "e" * 64, 100, 120, 2)
    store.add_dedupe_chunks("d" * 64, ["1" * 64])
    store.note_uploader("alice", "d" * 64)
    store.add_file("alice/m", "2" * 64, "b" * 64, 120, [("d" * 64, 0, 2, 120)])
    store.add_model("alice/old", "alice")
    store.rename_model("alice/old", "alice/renamed", space="alice", name="renamed",
                       redirect_seconds=3600)
    store.close()
    return admin_key


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name <> '_sqlite_migrations'")]


def _rows_sqlite(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")]
    names = ", ".join(f'"{c}"' for c in sorted(cols))
    return sorted(conn.execute(f'SELECT {names} FROM "{table}"').fetchall(),  # noqa: S608
                  key=repr)


def _rows_pg(url: str, table: str, cols: list[str]) -> list[tuple[Any, ...]]:
    names = ", ".join(f'"{c}"' for c in sorted(cols))
    with psycopg.connect(url) as conn:
        return sorted(conn.execute(f'SELECT {names} FROM "{table}"').fetchall(),  # noqa: S608
                  key=repr)


def test_copy_to_postgresql_loses_nothing_and_the_site_runs_on_it(
        tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "site"
    admin_key = _fill(data)

    run = ok(data, "--json", "db", "copy", "--to", pg_url)
    assert "every table identical" in run.err
    report = {t["table"]: t for t in run.json()}

    lite = sqlite3.connect(data / "modelgit.db")
    tables = _tables(lite)
    assert {"users", "keys", "models", "lfs_objects", "tasks", "findings"} <= set(tables)
    for table in tables:
        before = _rows_sqlite(lite, table)
        assert before, f"{table} has rows to copy"
        cols = [r[1] for r in lite.execute(f"PRAGMA table_info('{table}')")]
        assert _rows_pg(pg_url, table, cols) == before, table
        assert report[table]["same"] == "yes"
        assert report[table]["source rows"] == report[table]["target rows"] == len(before)
    assert set(report) == set(tables)

    # The site on PostgreSQL: same users and roles; the next task id follows the copied ones.
    (data / "config.yaml").write_text(f"database: {pg_url}\n")
    users = ok(data, "--json", "user", "list").json()
    assert sorted(u["name"] for u in users) == ["admin", "alice"]
    pg = Store(pg_url)
    assert pg.key_by_hash(keys.digest(admin_key))["user"] == "admin"  # type: ignore[index]
    assert pg.lfs_bytes(model_id="alice/m") == 7 * 1024**3
    last = max(t["id"] for t in pg.list_tasks())
    assert pg.add_task("gc", "alice/m", "", "") == last + 1


def test_copy_refuses_a_database_that_is_not_empty(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "site"
    _fill(data)
    ok(data, "db", "copy", "--to", pg_url)
    again = mg(data, "db", "copy", "--to", pg_url)
    assert again.code == 1
    assert "not empty" in again.err and "new, empty database" in again.err


def test_db_migrate_on_postgresql_then_nothing_to_do(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "site"
    data.mkdir()
    (data / "config.yaml").write_text(f"database: {pg_url}\n")
    first = ok(data, "--json", "db", "migrate").json()
    assert "schema version" in first["message"]
    again = ok(data, "--json", "db", "migrate").json()
    assert again["applied"] == [] and "nothing to do" in again["message"]
    assert not (data / "modelgit.db").exists()


def test_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    data = tmp_path / "site"
    ok(data, "init")
    run = mg(data, "db", "copy", "--to",
             "postgresql://mg:s3cret-pw@127.0.0.1:1/none")  # pragma: allowlist secret
    assert run.code == 1
    assert "cannot connect" in run.err and "mg:***@127.0.0.1:1" in run.err
    assert "s3cret-pw" not in run.out + run.err
    wrong = mg(data, "db", "copy", "--to", "/tmp/other.db")
    assert wrong.code == 1 and "postgresql://" in wrong.err
