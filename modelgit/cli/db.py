"""``db migrate`` and ``db copy``: bring the site's database to the current schema, and move
a site's data from SQLite to PostgreSQL (modelgit/store/copy.py) with every table compared."""

from __future__ import annotations

import sys

import click

from modelgit.cli.output import Ctx, done, emit, handle_errors
from modelgit.errors import Refused
from modelgit.store import Store
from modelgit.store.pg import is_postgres, redact


def register(cli: click.Group) -> None:
    @cli.group("db")
    def db() -> None:
        """The site's database: migrate it, copy it to PostgreSQL."""

    @db.command("migrate")
    @click.pass_obj
    @handle_errors
    def migrate_cmd(ctx: Ctx) -> None:
        """Apply the schema steps this modelgit has and the database lacks."""
        store = Store.create(ctx.cfg.store_target)
        steps = store.migrate()
        done(ctx, f"modelgit: {store.where} is at schema version {store.schema_version()}"
             + (f" (applied {', '.join(steps)})" if steps else " (nothing to do)"),
             applied=steps)

    @db.command("copy")
    @click.option("--to", "target", required=True, metavar="postgresql://...",
                  help="The empty PostgreSQL database to copy into.")
    @click.pass_obj
    @handle_errors
    def copy_cmd(ctx: Ctx, target: str) -> None:
        """Copy every table into an empty PostgreSQL database, then compare each table's row
        count and checksum on both sides. Stop `modelgit serve` first: writes made during
        the copy would not be in it. Exits 1 when any table differs."""
        from modelgit.store.copy import copy_database

        if not is_postgres(target):
            raise Refused(f"--to must be a postgresql:// URL, not {redact(target)!r}")
        source = Store(ctx.cfg.store_target)
        report = copy_database(source, Store(target))
        emit(ctx, [{"table": t.table, "source rows": t.source_rows,
                    "target rows": t.target_rows, "source sha256": t.source_sum,
                    "target sha256": t.target_sum, "same": "yes" if t.same else "NO"}
                   for t in report],
             ["table", "source rows", "target rows", "source sha256", "target sha256",
              "same"], title="tables")
        bad = [t.table for t in report if not t.same]
        if bad:
            click.echo(f"modelgit: the copy differs in {', '.join(bad)}; do not switch the"
                       " site to it", err=True)
            sys.exit(1)
        click.echo(f"modelgit: copied {sum(t.source_rows for t in report)} rows in"
                   f" {len(report)} tables to {redact(target)}, every table identical; set"
                   f" `database: {redact(target)}` in config.yaml to use it", err=True)
