"""Copying a site's database to another backend (SQLite to PostgreSQL) with nothing lost.

The target is migrated to the same schema steps and must be empty; rows go table by table in
foreign-key order inside one transaction, ids included (identity sequences are moved past
them). Afterwards both sides are read back and compared per table: the row count and a
checksum that does not depend on row order (the sorted SHA-256 of every row's values), so a
difference in collation between the backends cannot hide or fake a difference in data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from modelgit.store.connection import StoreBase, StoreError
from modelgit.store.migrations import PG_MIGRATIONS

BATCH = 1000


@dataclass(frozen=True)
class TableCopy:
    """One table's outcome: counts and checksums on both sides."""

    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def same(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


def tables(store: StoreBase) -> list[str]:
    """The site's tables (not the migration bookkeeping), parents before children."""
    if store.is_postgres:
        names = [r["table_name"] for r in store._all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_type = 'BASE TABLE' AND table_name <> ?",
            (PG_MIGRATIONS,))]
        deps = {n: {r["parent"] for r in store._all(
            "SELECT DISTINCT ccu.table_name AS parent FROM information_schema"
            ".table_constraints tc JOIN information_schema.constraint_column_usage ccu"
            " ON ccu.constraint_name = tc.constraint_name WHERE tc.constraint_type ="
            " 'FOREIGN KEY' AND tc.table_name = ?", (n,))} for n in names}
    else:
        names = [r["name"] for r in store._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name <> '_sqlite_migrations'")]
        deps = {n: {r["table"] for r in store._all(
            "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)", (n,))} for n in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = sorted(n for n in names if n not in ordered
                       and deps[n] - {n} <= set(ordered))
        if not ready:
            raise StoreError(f"cyclic foreign keys among {sorted(set(names) - set(ordered))}")
        ordered.extend(ready)
    return ordered


def columns(store: StoreBase, table: str) -> list[str]:
    if store.is_postgres:
        return [r["column_name"] for r in store._all(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]
    return [r["name"] for r in store._all("SELECT name FROM pragma_table_info(?)", (table,))]


def _select(table: str, cols: list[str]) -> str:
    names = ", ".join(f'"{c}"' for c in cols)
    return f'SELECT {names} FROM "{table}"'  # noqa: S608  # nosec  # names from the schema


def checksum(store: StoreBase, table: str, cols: list[str]) -> tuple[int, str]:
    """(rows, checksum) of a table: order-independent, exact for text, integers and floats."""
    digests = []
    for row in store._all(_select(table, sorted(cols))):
        values = [row[c] for c in sorted(cols)]
        text = json.dumps([repr(v) if isinstance(v, float) else v for v in values])
        digests.append(hashlib.sha256(text.encode()).hexdigest())
    digests.sort()
    return len(digests), hashlib.sha256("".join(digests).encode()).hexdigest()


def copy_database(source: StoreBase, target: StoreBase) -> list[TableCopy]:
    """Copy every row of ``source`` into the empty, migrated ``target``; compare both."""
    from modelgit.store.migrations import Schema

    assert isinstance(source, Schema) and isinstance(target, Schema)
    source.check_schema()
    target.migrate()
    if source.applied_migrations() != target.applied_migrations():
        raise StoreError("source and target are at different schema steps; upgrade modelgit"
                         " and run `modelgit db migrate` on both first")
    names = tables(source)
    missing = sorted(set(names) - set(tables(target)))
    if missing:
        raise StoreError(f"the target has no table(s) {', '.join(missing)}")
    busy = [n for n in names if target._one(f'SELECT 1 AS x FROM "{n}" LIMIT 1')]  # noqa: S608  # nosec
    if busy:
        raise StoreError(f"the target database is not empty (rows in {', '.join(busy)});"
                         " copy into a new, empty database")
    with target.tx() as c:
        for table in names:
            cols = columns(source, table)
            rows = source._all(_select(table, cols))
            names_sql = ", ".join(f'"{col}"' for col in cols)
            marks = ", ".join("?" * len(cols))
            insert = f'INSERT INTO "{table}" ({names_sql}) VALUES ({marks})'  # noqa: S608  # nosec
            for start in range(0, len(rows), BATCH):
                c.executemany(insert, [tuple(r[col] for col in cols)
                                       for r in rows[start:start + BATCH]])
    if target.is_postgres:
        from modelgit.store.pg import PgConnection, sync_identities

        conn: Any = target.conn
        assert isinstance(conn, PgConnection)
        sync_identities(conn)
    return compare(source, target, names)


def compare(source: StoreBase, target: StoreBase, names: list[str]) -> list[TableCopy]:
    out = []
    for table in names:
        cols = columns(source, table)
        n1, s1 = checksum(source, table, cols)
        n2, s2 = checksum(target, table, cols)
        out.append(TableCopy(table, n1, n2, s1, s2))
    return out
