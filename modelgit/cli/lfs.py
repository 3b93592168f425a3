"""``gc``: remove LFS objects (and Xet xorbs) that no model links any more.

Objects are stored once and linked to each model that uploaded them; deleting a model drops
its links (the database cascades), and the bytes stay until ``gc`` finds that nothing links
them. ``gc`` is safe to run while the server serves uploads:

- every candidate is re-checked against the links just before its file is deleted, so a
  link made during the run keeps its object;
- an upload stores its bytes and then links them, two steps: objects younger than
  ``--grace`` seconds (default an hour) are kept, so an upload between the two steps is
  never collected;
- upload temporaries left by a crash are swept once they are older than a day;
- Xet xorbs live in the same storage: a xorb no model links is forgotten first, and its
  bytes are then collected like any unlinked object (the same grace applies).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from modelgit.cli.output import Ctx, confirm, done, handle_errors, human_size, yes_option
from modelgit.config import Config
from modelgit.lfs.storage import storage_for
from modelgit.store import Store

#: Unlinked objects younger than this are kept: an upload links right after it stores.
DEFAULT_GRACE_SECONDS = 3600


def collect_garbage(cfg: Config, store: Store, *, dry_run: bool = False,
                    grace_seconds: int = DEFAULT_GRACE_SECONDS,
                    now: float | None = None) -> dict[str, Any]:
    """Delete unlinked objects (and stale upload temporaries); return what was done.

    ``{"removed": [{"oid", "size"}], "freed_bytes", "kept_young", "linked",
    "temp_files_removed", "dry_run"}``.
    """
    storage = storage_for(cfg)
    clock = time.time() if now is None else now
    xorbs = store.drop_unreferenced_xorbs(dry_run=dry_run)
    unused_xorb_oids = {row["oid"] for row in xorbs} if dry_run else set()
    all_oids = [item.oid for item in storage.iter_objects()]
    candidates = [oid for oid in all_oids
                  if oid in unused_xorb_oids or not store.is_linked_anywhere(oid)]
    removed: list[dict[str, Any]] = []
    kept_young = 0
    for oid in candidates:
        info = storage.stat(oid)  # now, not from the listing: it may have been re-stored
        if info is None:
            continue  # gone already (another gc)
        if clock - info.mtime < grace_seconds:
            kept_young += 1
            continue
        if store.is_linked_anywhere(oid) and oid not in unused_xorb_oids:
            continue  # linked since the first look: keep it
        if not dry_run:
            storage.delete(oid)
        removed.append({"oid": oid, "size": info.size})
    temp_removed = 0 if dry_run else storage.sweep_temp()
    return {
        "removed": removed,
        "freed_bytes": sum(r["size"] for r in removed),
        "kept_young": kept_young,
        "linked": len(all_oids) - len(candidates),
        "temp_files_removed": temp_removed,
        "xorbs_dropped": len(xorbs),
        "dry_run": dry_run,
    }


def register(cli: click.Group) -> None:
    """Register the LFS maintenance commands."""

    @cli.command("gc")
    @click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
    @click.option("--grace", "grace_seconds", type=click.IntRange(min=0),
                  default=DEFAULT_GRACE_SECONDS, show_default=True,
                  help="Keep unlinked objects younger than this many seconds (one hour by"
                       " default).")
    @yes_option
    @click.pass_obj
    @handle_errors
    def gc(ctx: Ctx, dry_run: bool, grace_seconds: int, yes: bool) -> None:
        """Remove LFS objects that no model links (e.g. after `model delete`); asks first
        unless --yes or --dry-run.

        An object that no model links is kept for a grace period of one hour after it was
        stored (--grace), because an upload stores its bytes first and links them to its
        model a moment later; gc is safe to run while the server serves uploads. Upload
        temporaries left by a crash are removed once they are a day old.
        """
        if not dry_run and not yes:
            # Without a terminal this refuses even when nothing is due, so that a script
            # learns that it needs --yes on its first run, not on the day it matters.
            preview = collect_garbage(ctx.cfg, ctx.store, dry_run=True,
                                      grace_seconds=grace_seconds)
            count = len(preview["removed"])
            if count or not sys.stdin.isatty():
                confirm(yes, f"Remove {count} unlinked LFS object{'s' if count != 1 else ''}"
                             f" ({human_size(preview['freed_bytes'])})? This cannot be undone.",
                        what="gc")
        result = collect_garbage(ctx.cfg, ctx.store, dry_run=dry_run,
                                 grace_seconds=grace_seconds)
        count = len(result["removed"])
        verb = "would remove" if dry_run else "removed"
        message = (f"gc: {verb} {count} unlinked LFS object{'s' if count != 1 else ''},"
                   f" {'would free' if dry_run else 'freed'} {human_size(result['freed_bytes'])}"
                   f"; {result['linked']} linked kept")
        if result["kept_young"]:
            message += (f", {result['kept_young']} unlinked kept (younger than"
                        f" {grace_seconds} s)")
        if result["temp_files_removed"]:
            message += f"; {result['temp_files_removed']} stale upload temporaries removed"
        if not ctx.json:
            for item in result["removed"]:
                click.echo(f"  {item['oid']}  {human_size(item['size'])}")
        done(ctx, message, **result)
