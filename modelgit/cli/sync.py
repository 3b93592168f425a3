"""``sync start|retry|list``: replicate a model to another region (see :mod:`modelgit.sync`).

Without ``--wait`` a task is queued and ``modelgit serve``'s worker runs it; with ``--wait``
this process runs it (the task is created already claimed, so no worker runs it as well),
shows a progress bar when stderr is a terminal, and exits 1 when the task fails.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from modelgit.cli.model import require_model
from modelgit.cli.output import Ctx, done, emit, handle_errors
from modelgit.errors import Refused
from modelgit.units import human_size

LIST_COLUMNS = ["id", "model", "region", "ref", "commit", "status", "objects", "bytes",
                "finished", "error"]


def _summary(task: dict[str, Any]) -> str:
    head = (f"sync task {task['id']}: {task['model']} {task['ref']} at {task['commit'][:12]}"
            f" -> region {task['region']}: {task['status']}")
    total = task.get("objects_total")
    if total is None:
        return head
    sent = (f"sent {task['objects_sent']} of the {total} LFS object(s) the commit needs"
            f" ({human_size(task['bytes_sent'])} of {human_size(task.get('bytes_total'))})")
    if task["objects_sent"] < total:
        sent += "; the target had the rest"
    return f"{head}; {sent}"


def _run_foreground(ctx: Ctx, task_id: int, worker: str) -> None:
    """Run a claimed task here; a rich progress bar on a terminal, one line otherwise."""
    from modelgit import sync

    progress_fn = None
    bar: Any = None
    if sys.stderr.isatty() and not ctx.json:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn(),
                       console=Console(stderr=True), transient=False)
        line = bar.add_task("checking the target", total=None)
        labels = {"preflight": "checking the target", "lfs": "sending LFS objects",
                  "push": "pushing the commit", "done": "done"}

        def progress_fn(state: dict[str, Any]) -> None:
            total = state.get("bytes_total")
            label = labels.get(state["phase"], state["phase"])
            if state["phase"] == "lfs" and state.get("objects_total") is not None:
                label += f" ({state['objects_sent']}/{state['objects_total']} sent)"
            bar.update(line, description=label, completed=state["bytes_sent"],
                       total=total if total else None)

        bar.start()
    try:
        task = sync.run_task(ctx.cfg, ctx.store, task_id, progress_fn, worker=worker)
    finally:
        if bar is not None:
            bar.stop()
    if ctx.json:
        click.echo(json.dumps(task, indent=2, default=str))
        if task["status"] != "done":
            sys.exit(1)
        return
    if task["status"] != "done":
        raise Refused(f"sync task {task_id} failed: {task['error']}",
                      hint=f"fix that, then `modelgit sync retry {task_id}` (what the target"
                           " already has is not sent again)")
    click.echo(_summary(task))


def register(cli: click.Group) -> None:
    """Register the sync commands."""

    @cli.group("sync")
    def sync_group() -> None:
        """Replicate a model's branch, tag or commit (with its LFS objects) to another
        region named under `regions:` in config.yaml."""

    @sync_group.command("start")
    @click.argument("model_id", metavar="ID")
    @click.option("--region", required=True, help="A region named in config.yaml.")
    @click.option("--ref", default=None,
                  help="Branch or tag (default: the default branch); with --commit, the"
                       " branch to push that commit to.")
    @click.option("--commit", default=None, metavar="SHA",
                  help="A commit; pushed to refs/heads/sync/<sha> unless --ref is given.")
    @click.option("--wait", is_flag=True,
                  help="Run it here and now (progress bar; exit 1 if it fails).")
    @click.pass_obj
    @handle_errors
    def start(ctx: Ctx, model_id: str, region: str, ref: str | None, commit: str | None,
              wait: bool) -> None:
        """Start a sync task for ID."""
        from modelgit import sync

        require_model(ctx, model_id)
        worker = sync.new_worker_token() if wait else None
        task_id = sync.create_task(ctx.cfg, ctx.store, model_id, region, ref=ref,
                                   commit=commit, worker=worker)
        if worker is not None:
            _run_foreground(ctx, task_id, worker)
            return
        task = sync.task_view(ctx.store.get_task(task_id, "sync") or {})
        done(ctx, f"queued sync task {task_id}: {model_id} {task['ref']} at"
                  f" {task['commit'][:12]} -> region {region}; `modelgit serve` runs it"
                  f" (follow it with `modelgit sync list {model_id}`)", task=task)

    @sync_group.command("retry")
    @click.argument("task_id", metavar="TASK", type=int)
    @click.option("--wait", is_flag=True, help="Run it here and now (exit 1 if it fails).")
    @click.pass_obj
    @handle_errors
    def retry(ctx: Ctx, task_id: int, wait: bool) -> None:
        """Run a failed or interrupted task again (objects the target has are not resent)."""
        from modelgit import sync

        worker = sync.new_worker_token() if wait else None
        sync.retry_task(ctx.store, task_id, worker=worker)
        if worker is not None:
            _run_foreground(ctx, task_id, worker)
            return
        done(ctx, f"queued sync task {task_id} again; `modelgit serve` runs it"
                  " (follow it with `modelgit sync list`)", task=task_id)

    @sync_group.command("list")
    @click.argument("model_id", metavar="[ID]", required=False)
    @click.option("--limit", default=200, show_default=True, help="Newest tasks shown.")
    @click.pass_obj
    @handle_errors
    def list_(ctx: Ctx, model_id: str | None, limit: int) -> None:
        """Sync tasks, newest first (of one model, or all)."""
        from modelgit import sync

        if model_id is not None:
            require_model(ctx, model_id)
        rows = sync.list_tasks(ctx.store, model_id, limit=limit)
        if ctx.json:
            emit(ctx, rows, LIST_COLUMNS)
            return
        shown = []
        for row in rows:
            total = row["objects_total"]
            shown.append({**row, "commit": row["commit"][:12],
                          "objects": f"{row['objects_sent']}/{'?' if total is None else total}",
                          "bytes": human_size(row["bytes_sent"])})
        emit(ctx, shown, LIST_COLUMNS, "sync tasks")
