"""One way to print rows (a rich table for people, JSON for scripts) and one way to fail.

Every listing command builds rows and hands them to ``emit``; every expected failure is a
``Refused`` printed as one line (plus ``hint:``) with exit 1. Anything unexpected is logged
with its traceback to the data folder's log and reported in one line.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from modelgit.config import Config
from modelgit.errors import ModelgitError, Refused
from modelgit.names import InvalidName
from modelgit.store import Store, StoreError, StoreUnavailable
from modelgit.units import human_size as human_size  # cli/lfs.py still takes it here

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Ctx:
    cfg: Config
    json: bool = False
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            store = Store(self.cfg.store_target)
            store.check_schema()
            self._store = store
        return self._store


#: Columns of names and ids (model ids like ``acme/bert-small``, key ids, user names): a table
#: shows them whole on one line; only the other columns wrap.
ID_COLUMNS = frozenset({"id", "name", "user", "owner", "model", "space", "repo", "granted_by",
                        "region"})
#: The narrowest a wrapping column may become; a table that cannot fit the terminal with its
#: ids whole and every other column this wide is shown as one block of lines per row instead.
MIN_WRAP_WIDTH = 6


def emit(ctx: Ctx, rows: Sequence[dict[str, Any]], columns: Sequence[str],
         title: str | None = None) -> None:
    """Rows as JSON (every field, nothing shortened) or, for people, a table that never cuts
    a value: ids stay whole, other columns wrap, and a terminal too narrow for that gets one
    block per row."""
    if ctx.json:
        click.echo(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        click.echo(f"(no {title or 'rows'})")
        return
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    cells = [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = [max([cell_len(col)] + [cell_len(line) for r in cells for line in r[i].splitlines()])
              for i, col in enumerate(columns)]
    needed = sum(w if c in ID_COLUMNS else min(w, MIN_WRAP_WIDTH)
                 for c, w in zip(columns, widths, strict=True)) + 3 * len(columns) + 1
    if needed > console.width:
        _emit_blocks(columns, cells, title)
        return
    table = Table(title=title, show_lines=False)
    for col, width in zip(columns, widths, strict=True):
        if col in ID_COLUMNS:
            table.add_column(col, no_wrap=True, overflow="fold", min_width=width)
        else:
            table.add_column(col, overflow="fold", min_width=min(width, MIN_WRAP_WIDTH))
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)


def _emit_blocks(columns: Sequence[str], cells: Sequence[Sequence[str]],
                 title: str | None) -> None:
    """One row per block: its first column, then ``column: value`` for the rest (a narrow
    terminal wraps these lines itself; nothing is cut)."""
    if title:
        click.echo(f"{title}:")
    for row_cells in cells:
        click.echo(f"{columns[0]}: {row_cells[0]}")
        for col, value in zip(columns[1:], row_cells[1:], strict=True):
            if value:
                click.echo(f"  {col}: {value}")


def emit_one(ctx: Ctx, obj: dict[str, Any], title: str | None = None) -> None:
    if ctx.json:
        click.echo(json.dumps(obj, indent=2, default=str))
        return
    if title:
        click.echo(title)
    for key, value in obj.items():
        if isinstance(value, (list, dict)):
            continue
        click.echo(f"  {key}: {'' if value is None else value}")


def done(ctx: Ctx, message: str, **data: Any) -> None:
    """A one-line confirmation, or ``{"ok": true, ...}`` with --json."""
    if ctx.json:
        click.echo(json.dumps({"ok": True, "message": message, **data}, default=str))
    else:
        click.echo(message)


JSON_HELP = "Machine-readable output (before or after the command)."


def accept_json_everywhere(root: click.Group) -> None:
    """Give every command and group under ``root`` the ``--json`` flag that ``root`` has, so
    ``modelgit --json key list U`` and ``modelgit key list U --json`` mean the same.

    It is an ordinary click option of each command (parsed where click parses options, never
    taken for an argument's value) that sets the one switch, ``Ctx.json``; the root's own
    callback has made the ``Ctx`` before any subcommand parses its options.
    """
    def switch_on(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        obj = ctx.find_object(Ctx)
        if value and obj is not None:
            obj.json = True

    def visit(command: click.Command) -> None:
        if not any(isinstance(p, click.Option) and "--json" in p.opts for p in command.params):
            command.params.append(click.Option(["--json"], is_flag=True, expose_value=False,
                                               callback=switch_on, help=JSON_HELP))
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                visit(sub)

    for sub in root.commands.values():
        visit(sub)


def yes_option(fn: F) -> F:
    """``--yes``/``-y`` for a destructive command; the command calls :func:`confirm`."""
    return click.option("--yes", "-y", "yes", is_flag=True,
                        help="Do it without asking (needed when not run in a terminal).")(fn)


def confirm(yes: bool, question: str, *, what: str) -> None:
    """Ask ``question`` on the terminal unless ``--yes``; refuse (exit 1) when the answer is
    no, or when there is no terminal to ask on (a script, cron, a pipe): then ``--yes`` says it.

    ``what`` names the action in the refusal, e.g. ``delete acme/bert``.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refused(f"not confirmed: {what} asks first, and there is no terminal to ask on",
                      hint="add --yes to do it without asking")
    try:
        answer = click.confirm(question, default=False, err=True)
    except click.Abort:
        answer = False
        click.echo("", err=True)
    if not answer:
        raise Refused(f"cancelled: nothing was changed ({what})",
                      hint="add --yes to do it without asking")


def handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable as exc:  # the operator wants where and why, not "try later"
            click.echo(f"error: {exc.detail}", err=True)
            sys.exit(1)
        except ModelgitError as exc:
            fail(exc)
        except (InvalidName, StoreError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            ctx = click.get_current_context(silent=True)
            where = _log_crash(ctx.obj.cfg if ctx and isinstance(ctx.obj, Ctx) else None)
            click.echo(f"error: unexpected {type(exc).__name__}: {exc} (details in {where})",
                       err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def fail(exc: ModelgitError) -> NoReturn:
    """The CLI's one rendering of an expected failure: ``error:`` and the first line, the
    further lines indented under it, ``hint:`` last; exit status 1."""
    first, *more = exc.message.splitlines() or ["refused"]
    click.echo("\n  ".join([f"error: {first}", *more]), err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(1)


def _log_crash(cfg: Config | None) -> str:
    text = traceback.format_exc()
    if cfg is not None:
        try:
            cfg.log_dir.mkdir(parents=True, exist_ok=True)
            path = cfg.log_dir / "cli.log"
            with path.open("a", encoding="utf-8") as fh:
                fh.write(text + "\n")
            return str(path)
        except OSError:
            pass
    logging.getLogger("modelgit.cli").error(text)
    return "stderr"


SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2,
              "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
              "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_size(text: str) -> int:
    """'10GB', '500MiB', '123' -> bytes."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text or "")
    unit = match.group(2).lower() if match else None
    if not match or unit not in SIZE_UNITS:
        raise Refused(f"invalid size {text!r}", hint="use a number with a unit, e.g. 10GB or "
                                                     "500MiB")
    return int(float(match.group(1)) * SIZE_UNITS[unit])


def data_path(ctx: Ctx, *parts: str) -> Path:
    return ctx.cfg.data_dir.joinpath(*parts)
