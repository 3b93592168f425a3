"""The SQLite store (issue 2, docs/architecture.md, docs/access.md): WAL, foreign keys, versioned
migrations that refuse a newer schema and back up before changing an older one, atomic key
replacement, cascades, and concurrent writers without "database is locked"."""

from __future__ import annotations

import inspect
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelgit.store import SchemaTooNew, Store, StoreError
from modelgit.store import migrations as store_mod

EXTRA_STEP = "9999_test_extra_table"


def _extra_step(conn: Any) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS test_extra (x INTEGER)")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "modelgit.db"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of the Store interface run on both backends; those that read the SQLite file
    itself (they take ``db_path``) on SQLite only."""
    if "store" in metafunc.fixturenames:
        both = "db_path" not in inspect.signature(metafunc.function).parameters
        metafunc.parametrize("backend", ["sqlite", "postgresql"] if both else ["sqlite"])


@pytest.fixture
def store(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    target = request.getfixturevalue("pg_url") if backend == "postgresql" else db_path
    s = Store.create(target)
    yield s
    s.close()


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


def migration_names(path: Path) -> list[str]:
    with raw(path) as conn:
        rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?"
                            " ORDER BY rowid", ("modelgit",)).fetchall()
    return [r[0] for r in rows]


# ----------------------------------------------------------------------------- pragmas
def test_new_database_is_wal(store: Store, db_path: Path) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    # WAL is a property of the file: any other connection sees it too.
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        conn.close()


def test_foreign_keys_on_for_every_connection(store: Store, db_path: Path) -> None:
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    other = Store(db_path)
    assert other.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1

    seen: list[int] = []

    def in_thread() -> None:
        seen.append(store.conn.execute("PRAGMA foreign_keys").fetchone()[0])
        store.close()

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen == [1]
    # And they are enforced, not just reported.
    with pytest.raises(sqlite3.IntegrityError):
        other.set_model_role("nope/nothing", "ghost", "user")
    other.close()


def test_busy_timeout_is_set(store: Store, db_path: Path) -> None:
    """SQLite's wait for the write lock (PostgreSQL waits on row locks by itself)."""
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


# ----------------------------------------------------------------------------- schema
def test_schema_version_is_the_number_of_known_migrations(store: Store, db_path: Path) -> None:
    assert store.schema_version() == len(store_mod.MIGRATIONS)
    assert migration_names(db_path) == [name for name, _ in store_mod.MIGRATIONS]
    store.check_schema()  # current: no complaint
    assert store.migrate() == []  # nothing pending


def test_create_twice_is_a_no_op(db_path: Path) -> None:
    Store.create(db_path).close()
    Store.create(db_path).close()
    assert migration_names(db_path) == [name for name, _ in store_mod.MIGRATIONS]
    assert not list(db_path.parent.glob("*.bak"))


def _add_unknown_step(db_path: Path, migration_set: str = "modelgit") -> None:
    with raw(db_path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES (?, ?, ?)", (migration_set, "9000_from_the_future", "2099-01-01"),
        )
    conn.close()


def test_newer_schema_is_refused(store: Store, db_path: Path) -> None:
    store.close()
    _add_unknown_step(db_path)
    with pytest.raises(SchemaTooNew):
        Store(db_path).check_schema()
    with pytest.raises(SchemaTooNew):
        Store(db_path).migrate()
    with pytest.raises(SchemaTooNew):
        Store.create(db_path)  # what `modelgit init` on it does
    # Refusing touched nothing: the unknown step is still there, no backup was made.
    assert "9000_from_the_future" in migration_names(db_path)
    assert not list(db_path.parent.glob("*.bak"))


def test_other_migration_sets_are_not_ours(store: Store, db_path: Path) -> None:
    """Another application's steps in the same table say nothing about our schema."""
    store.close()
    _add_unknown_step(db_path, migration_set="some-other-app")
    fresh = Store(db_path)
    fresh.check_schema()
    assert fresh.schema_version() == len(store_mod.MIGRATIONS)
    fresh.close()


def test_pending_migration_backs_up_first(db_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "MIGRATIONS",
                        [*store_mod.MIGRATIONS, (EXTRA_STEP, _extra_step)])
    s = Store.create(db_path)
    assert s.schema_version() == len(store_mod.MIGRATIONS)
    assert not list(db_path.parent.glob("*.bak")), "a brand-new database needs no backup"
    s.add_user("keepme")
    s.close()

    # The database is now one step behind this code.
    with raw(db_path) as conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE migration_set = 'modelgit'"
                     " AND name = ?", (EXTRA_STEP,))
    conn.close()
    behind = Store(db_path)
    with pytest.raises(StoreError) as info:
        behind.check_schema()
    assert not isinstance(info.value, SchemaTooNew)

    assert behind.migrate() == [EXTRA_STEP]
    behind.check_schema()
    assert behind.schema_version() == len(store_mod.MIGRATIONS)
    behind.close()

    backups = sorted(db_path.parent.glob("modelgit.db.v*.bak"))
    assert len(backups) == 1, list(db_path.parent.iterdir())
    # The backup is the database as it was before the step: complete and readable.
    assert migration_names(backups[0]) == [n for n, _ in store_mod.MIGRATIONS][:-1]
    with raw(backups[0]) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT name FROM users").fetchall()[0][0] == "keepme"
    conn.close()


def test_failed_migration_step_leaves_nothing(db_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step is all or nothing: a failing step records nothing and keeps the old schema."""
    Store.create(db_path).close()

    def bad_step(conn: Any) -> None:
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("step failed")

    monkeypatch.setattr(store_mod, "MIGRATIONS",
                        [*store_mod.MIGRATIONS, ("9998_bad", bad_step)])
    s = Store(db_path)
    with pytest.raises(RuntimeError):
        s.migrate()
    s.close()
    assert "9998_bad" not in migration_names(db_path)
    with raw(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "half_done" not in tables


# ----------------------------------------------------------------------------- keys
def test_replace_keys_revokes_all_and_adds_one(store: Store) -> None:
    store.add_user("kim")
    store.add_user("lee")
    for i in range(3):
        store.add_key(f"mg_kim{i:05d}", "kim", f"{i:064x}", "write", None)
    store.add_key("mg_lee00000", "lee", "f" * 64, "write", None)
    store.revoke_key("mg_kim00000")  # already revoked: stays revoked, not counted again

    count = store.replace_keys("kim", "mg_kimnew00", "e" * 64, "read", None)
    assert count == 2
    rows = {r["id"]: r for r in store.list_keys("kim")}
    assert set(rows) == {"mg_kim00000", "mg_kim00001", "mg_kim00002", "mg_kimnew00"}
    assert all(rows[k]["revoked"] for k in ("mg_kim00000", "mg_kim00001", "mg_kim00002"))
    assert rows["mg_kimnew00"]["revoked"] is None
    assert rows["mg_kimnew00"]["scope"] == "read"
    # Other people's keys are untouched.
    assert store.list_keys("lee")[0]["revoked"] is None


def test_replace_keys_is_atomic(store: Store) -> None:
    store.add_user("kim")
    store.add_user("lee")
    store.add_key("mg_kim00000", "kim", "a" * 64, "write", None)
    store.add_key("mg_lee00000", "lee", "b" * 64, "write", None)
    # The new key's insert fails (its digest collides): the revocation must not stick.
    with pytest.raises(sqlite3.IntegrityError):
        store.replace_keys("kim", "mg_kimnew00", "b" * 64, "write", None)
    rows = store.list_keys("kim")
    assert [r["id"] for r in rows] == ["mg_kim00000"]
    assert rows[0]["revoked"] is None
    # And the connection is usable afterwards (no transaction left open).
    store.add_key("mg_kim00001", "kim", "c" * 64, "write", None)


# ----------------------------------------------------------------------------- cascades
def test_deleting_a_model_cascades_its_roles(store: Store, db_path: Path) -> None:
    for name in ("olga", "uma", "dev"):
        store.add_user(name)
    store.add_space("acme", "olga", None)
    store.add_model("acme/one", "olga")
    store.add_model("acme/two", "olga")
    store.set_model_role("acme/one", "uma", "user")
    store.set_model_role("acme/one", "dev", "developer")
    store.set_model_role("acme/two", "uma", "developer")

    store.delete_model("acme/one")
    assert store.get_model("acme/one") is None
    with raw(db_path) as conn:
        rows = conn.execute("SELECT model, user, role FROM model_roles").fetchall()
    conn.close()
    assert [tuple(r) for r in rows] == [("acme/two", "uma", "developer")]
    assert store.model_roles("acme/one") == []


def test_removing_a_user_cascades_keys_and_roles(store: Store) -> None:
    store.add_user("olga")
    store.add_user("uma")
    store.add_space("acme", "olga", None)
    store.add_model("acme/one", "olga")
    store.set_model_role("acme/one", "uma", "user")
    store.set_space_role("acme", "uma", "user")
    store.add_key("mg_uma00000", "uma", "d" * 64, "write", None)
    store.remove_user("uma")
    assert store.model_roles("acme/one") == []
    assert store.space_role("acme", "uma") is None
    assert store.list_keys("uma") == []
    assert store.key_by_hash("d" * 64) is None


# ----------------------------------------------------------------------------- concurrency
def test_concurrent_writers_never_see_locked(store: Store, db_path: Path) -> None:
    store.add_user("olga")
    store.add_space("acme", "olga", None)
    threads = 8
    per_thread = 40
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        own = Store(db_path)  # each thread its own Store object on the same file
        try:
            barrier.wait()
            for i in range(per_thread):
                name = f"t{n}-u{i}"
                own.add_user(name)
                own.add_key(f"mg_t{n}k{i:04d}", name, f"{n:032x}{i:032x}", "write", None)
                own.set_space_role("acme", name, "user")
                own.audit("test.write", actor=name, target="acme", detail={"i": i})
                own.list_users()  # readers interleave with writers
        except BaseException as exc:  # collected and reported below
            errors.append(exc)
        finally:
            own.close()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "writers hung"
    assert not errors, f"{len(errors)} writers failed, first: {errors[0]!r}"

    total = threads * per_thread
    assert len(store.list_users()) == total + 1
    assert len(store.audit_rows(action="test.write", limit=total * 2)) == total
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM keys").fetchone()[0] == total
        assert conn.execute("SELECT COUNT(*) FROM space_roles WHERE role = 'user'"
                            ).fetchone()[0] == total
    conn.close()


def test_a_replaced_database_file_is_read_not_the_old_one(store: Store, db_path: Path,
                                                         tmp_path: Path) -> None:
    """A file restored or moved under a running process: the open connection must not keep
    answering from the old file (a broken replacement then fails, never allows)."""
    store.add_user("before")
    assert store.get_user("before") is not None
    saved = tmp_path / "saved.db"
    db_path.rename(saved)
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError, match="no modelgit database"):
        store.get_user("before")
    db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        store.get_user("before")
    db_path.unlink()
    Store.create(db_path)
    assert store.get_user("before") is None


def _add_old_model(store: Store, model_id: str, owner: str) -> None:
    """A model row as the first schema steps know it (``add_model`` writes today's columns)."""
    from modelgit.store.connection import now_iso

    space, name = model_id.split("/", 1)
    with store.tx() as c:
        c.execute("INSERT INTO models (id, space, name, owner, created) VALUES (?, ?, ?, ?, ?)",
                  (model_id, space, name, owner, now_iso()))


def test_sync_tasks_move_to_the_task_table_with_their_ids(db_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """0007_tasks: every sync task keeps its id (replicas name it) and its state; a heartbeat
    becomes a lease ending 120 s after it, a running task without one is claimable at once."""
    import time

    steps = store_mod.MIGRATIONS
    names = [n for n, _ in steps]
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps[:names.index("0007_tasks")])
    old = Store.create(db_path)
    old.add_user("o")
    old.add_space("s", "o", None)
    _add_old_model(old, "s/m", "o")
    beat = time.time()
    with old.tx() as c:
        for task_id, status, worker, heartbeat in ((5, "done", None, None),
                                                   (7, "running", "w:1:a", beat),
                                                   (9, "running", "w:1:b", None)):
            c.execute("INSERT INTO sync_tasks (id, model, region, ref, commit_sha, status,"
                      " created, worker, heartbeat) VALUES (?, 's/m', 'eu', 'refs/heads/main',"
                      " ?, ?, 'now', ?, ?)", (task_id, "a" * 40, status, worker, heartbeat))
        c.execute("INSERT INTO sync_replicas (model, region, ref, commit_sha, synced, task)"
                  " VALUES ('s/m', 'eu', 'refs/heads/main', ?, 'now', 5)", ("a" * 40,))
    old.close()
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps)
    new = Store(db_path)
    assert new.migrate() == names[names.index("0007_tasks"):]
    rows = {t["id"]: t for t in new.list_tasks("sync")}
    assert sorted(rows) == [5, 7, 9] and rows[5]["status"] == "done"
    assert rows[7]["lease_until"] == pytest.approx(beat + 120)
    assert new.list_replicas("s/m")[0]["task"] == 5
    claimed = new.claim_task("w:2:c", 60)
    assert claimed is not None and claimed["id"] == 9  # its lease had run out; 7's holds
    assert new.add_task("scan", "s/m", "refs/heads/main", "b" * 40) > 9
    new.close()


def test_times_step_keeps_models_and_sorts_them_by_last_change(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0008_model_times: models made before it have no last change (they sort by their creation
    time) until a ref moves; the time sorts page by (time, id) without skipping a model."""
    steps = store_mod.MIGRATIONS
    names = [n for n, _ in steps]
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps[:names.index("0008_model_times")])
    old = Store.create(db_path)
    old.add_user("o")
    old.add_space("s", "o", None)
    for name in ("a", "b", "c"):
        _add_old_model(old, f"s/{name}", "o")
    old.close()
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps)
    new = Store(db_path)
    assert "0008_model_times" in new.migrate()
    assert new.get_model("s/a")["last_modified"] is None
    new.touch_model("s/a")
    newest = new.hub_models_for(None, "", 10, sort="last_modified", descending=True)
    assert [r["id"] for r in newest] == ["s/a", "s/c", "s/b"]
    first = new.hub_models_for(None, "", 1, sort="last_modified")
    rest = new.hub_models_for(None, first[0]["id"], 10, sort="last_modified",
                              after_key=first[0]["sort_key"])
    assert [r["id"] for r in first + rest] == ["s/b", "s/c", "s/a"]


def test_task_claims_by_many_workers_take_each_task_once(store: Store) -> None:
    """Four workers, each with its own connection, race for 40 tasks: every task is claimed
    by exactly one of them (SQLite's one writer; PostgreSQL's FOR UPDATE SKIP LOCKED)."""
    target = store.url or store.path
    store.add_user("alice")
    store.add_space("alice", "alice", None)
    store.add_model("alice/m", "alice")
    ids = store.add_tasks("scan", "alice/m", [(f"refs/heads/b{i}", None, "c" * 40)
                                               for i in range(40)])
    claimed: dict[str, list[int]] = {}

    def work(name: str) -> None:
        mine = Store(target)
        got = claimed.setdefault(name, [])
        while (task := mine.claim_task(name, 60.0)) is not None:
            got.append(task["id"])
        mine.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = sorted(i for got in claimed.values() for i in got)
    assert every == sorted(ids)
    assert all(store.get_task(i)["status"] == "running" for i in ids)  # type: ignore[index]


def test_sizes_past_two_gib_and_ids_come_back(store: Store) -> None:
    """LFS sizes are 64-bit and new rows' ids are returned, on both backends."""
    store.add_user("bob")
    store.add_space("bob", "bob", None)
    store.add_model("bob/m", "bob")
    store.link_object("bob/m", "a" * 64, 5 * 1024**3)
    assert store.lfs_bytes(model_id="bob/m") == 5 * 1024**3
    lock, created = store.add_lock("bob/m", "w.bin", "bob")
    assert created and lock["id"] >= 1 and lock["owner"] == "bob"
    assert store.add_lock("bob/m", "w.bin", "bob") == (lock, False)
    first = store.add_task("gc", "bob/m", "", "")
    assert store.add_task("gc", "bob/m", "", "") == first + 1


def test_racing_front_ends_queue_one_gc_and_share_one_lock(store: Store) -> None:
    """Eight connections at once: one queued gc task, one LFS lock (the others get it back)."""
    target = store.url or store.path
    store.add_user("carol")
    store.add_space("carol", "carol", None)
    store.add_model("carol/m", "carol")
    queued: list[int | None] = []
    locks: list[tuple[int, bool]] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        mine = Store(target)
        mine.get_user("carol")  # connect before the barrier
        barrier.wait()
        queued.append(mine.add_task_once("gc", "carol/m"))
        lock, created = mine.add_lock("carol/m", "big.bin", "carol")
        locks.append((lock["id"], created))
        mine.close()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([q for q in queued if q is not None]) == 1
    assert len({i for i, _ in locks}) == 1 and sum(c for _, c in locks) == 1


def test_names_sort_byte_by_byte(store: Store) -> None:
    """Upper case before lower case and 'Z' before 'a', as SQLite sorts, on both backends
    (PostgreSQL's columns are created with COLLATE "C", whatever the database's locale)."""
    for name in ("beta", "Zed", "alpha", "Alpha"):
        store.add_user(name)
    assert [u["name"] for u in store.list_users()] == ["Alpha", "Zed", "alpha", "beta"]


def test_names_sort_byte_by_byte_in_a_linguistic_database(pg_cluster: Any) -> None:
    """A PostgreSQL database whose locale sorts 'alpha' before 'Zed' (ICU en-US) still
    orders the store's names as SQLite does."""
    s = Store.create(pg_cluster.new_database(icu_locale="en-US"))
    for name in ("beta", "Zed", "alpha", "Alpha"):
        s.add_user(name)
    assert [u["name"] for u in s.list_users()] == ["Alpha", "Zed", "alpha", "beta"]
    plain = s._one("SELECT 'Zed' < 'alpha' AS linguistic_says")
    assert plain is not None and plain["linguistic_says"] is False  # the locale differs
    s.close()


def test_sqlite_idioms_the_steps_use_run_on_both(store: Store) -> None:
    """A literal '%', INSERT OR IGNORE and deferred foreign keys behave alike on both."""
    store.add_user("dora")
    assert store._one("SELECT COUNT(*) AS n FROM users WHERE name LIKE 'd%'") == {"n": 1}
    assert store._one("SELECT '100%' AS p, ? AS q", ("50%",)) == {"p": "100%", "q": "50%"}
    with store.tx() as c:
        c.execute("INSERT OR IGNORE INTO users (name, created) VALUES ('dora', 'x')")
    assert store.get_user("dora")["created"] != "x"  # type: ignore[index]
    with store.tx() as c:  # a child before its parent is fine when checked at COMMIT
        c.execute("PRAGMA defer_foreign_keys = ON")
        c.execute("INSERT INTO spaces (name, owner, created) VALUES ('s', 'later', 't')")
        c.execute("INSERT INTO users (name, created) VALUES ('later', 't')")
    assert store.get_space("s") is not None
    with pytest.raises(sqlite3.IntegrityError), store.tx() as c:
        c.execute("PRAGMA defer_foreign_keys = ON")
        c.execute("INSERT INTO spaces (name, owner, created) VALUES ('t', 'nobody', 't')")
    assert store.get_space("t") is None


def test_references_to_models_are_found_on_both(store: Store) -> None:
    """What a model rename must move, read from the schema the same way on both backends."""
    refs = store.references_to("models")
    assert ("model_roles", "model") in refs and ("tasks", "model") in refs
    assert ("lfs_objects", "model") in refs and ("access_requests", "model") in refs
    assert all(table != "users" for table, _ in refs)
    assert ("keys", "user") in store.references_to("users")


def _found(store: Store, text: str) -> list[str]:
    return [r["id"] for r in store.hub_models_for(None, "", 100, contains=text)]


def test_text_search_filters_in_sql_on_both(store: Store) -> None:
    """``search_text`` follows the id, display name and card tags through create, settings,
    a card push and a rename; LIKE's wildcards in the asked text are plain characters."""
    store.add_user("o")
    store.add_space("s", "o", None)
    store.add_model("s/bert-base", "o", display_name="BERT Base")
    store.add_model("s/gpt", "o")
    store.add_model("s/x_1", "o", display_name="100% real")
    assert _found(store, "bert") == ["s/bert-base"]
    assert _found(store, "bert base") == ["s/bert-base"]  # display name, lower-cased
    assert _found(store, "x_1") == ["s/x_1"] and _found(store, "x%") == []
    assert _found(store, "0% r") == ["s/x_1"] and _found(store, "s/_") == []
    store.update_model("s/gpt", card='{"index": {"tags": ["Vision", "nlp"]}}')
    assert _found(store, "vision") == ["s/gpt"]
    store.update_model("s/gpt", display_name="Generative")
    assert _found(store, "generative vision") == ["s/gpt"]  # across name and tags
    store.rename_model("s/gpt", "s/llm", space="s", name="llm", redirect_seconds=0)
    assert _found(store, "s/llm") == ["s/llm"] and _found(store, "gpt") == []
    assert _found(store, "nlp") == ["s/llm"]
    with store.tx() as c:  # a row written by SQL that does not know the column
        c.execute("INSERT INTO models (id, space, name, owner, created)"
                  " VALUES ('s/raw', 's', 'raw', 'o', 'now')")
    assert "s/raw" in _found(store, "zzz")  # not computed yet: always a candidate
    # The administrator's listing (`modelgit model list --search`) pre-filters the same way.
    assert [r["id"] for r in store.list_models("nlp")] == ["s/llm", "s/raw"]
    assert len(store.list_models()) == 4
    assert store.fill_search_text() == 1
    assert _found(store, "zzz") == [] and _found(store, "s/raw") == ["s/raw"]


def test_search_step_fills_the_text_of_existing_models(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0012_model_search: models made before it are found by id, name and card tags."""
    steps = store_mod.MIGRATIONS
    names = [n for n, _ in steps]
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps[:names.index("0012_model_search")])
    old = Store.create(db_path)
    old.add_user("o")
    old.add_space("s", "o", None)
    _add_old_model(old, "s/a", "o")
    with old.tx() as c:
        c.execute("UPDATE models SET display_name = 'Alpha', card = ? WHERE id = 's/a'",
                  ('{"index": {"tags": ["Speech"]}}',))
    _add_old_model(old, "s/b", "o")
    old.close()
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps)
    new = Store(db_path)
    assert new.migrate() == names[names.index("0012_model_search"):]
    assert new.get_model("s/a")["search_text"] == "s/a alpha speech"
    assert _found(new, "speech") == ["s/a"] and _found(new, "s/") == ["s/a", "s/b"]
    new.close()


def test_xet_rows_on_both_backends(store: Store) -> None:
    """The Xet tables' statements (upserts, the dedupe join, reconstructions, uploaders,
    gc of unreferenced xorbs) on SQLite and on PostgreSQL."""
    store.add_user("xena")
    store.add_space("xs", "xena", None)
    store.add_model("xs/a", "xena")
    store.add_model("xs/b", "xena")
    one, two = "1" * 64, "2" * 64
    assert store.add_xorb("xs/a", one, "a" * 64, 100, 120, 2) is True
    assert store.add_xorb("xs/a", one, "a" * 64, 100, 120, 2) is False  # idempotent
    store.add_xorb("xs/a", two, "b" * 64, 50, 60, 1)
    store.add_dedupe_chunks(one, ["c" * 64, "c" * 64])
    assert store.dedupe_xorb("xs/a", "c" * 64) == one
    assert store.dedupe_xorb("xs/b", "c" * 64) is None  # another model's xorb is not offered
    store.add_file("xs/a", "f" * 64, "d" * 64, 180, [(one, 0, 2, 120), (two, 0, 1, 60)])
    store.add_file("xs/a", "f" * 64, "d" * 64, 180, [(one, 0, 2, 120), (two, 0, 1, 60)])
    assert [t["xorb"] for t in store.file_terms("xs/a", "f" * 64)] == [one, two]
    assert store.file_by_sha256("xs/a", "d" * 64)["size"] == 180  # type: ignore[index]
    assert store.xorbs_beside("xs/a", one, 32) == [two]
    assert store.models_with_xorb(one) == ["xs/a"]
    store.note_uploader("xena", one)
    store.note_uploader("xena", one)
    assert store.uploaded_by("xena", one) and not store.uploaded_by("xena", two)
    store.link_xorb("xs/b", one)
    assert store.models_with_xorb(one) == ["xs/a", "xs/b"]
    assert store.xorb_bytes() == 150
    store.delete_model("xs/a")
    store.delete_model("xs/b")
    gone = store.drop_unreferenced_xorbs()
    assert sorted(x["hash"] for x in gone) == [one, two]
    assert store.get_xorb(one) is None and not store.uploaded_by("xena", one)
