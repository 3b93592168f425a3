"""The admin CLI run in-process, as a person would type it, with its rules for every run:
no traceback ever escapes, and a refusal is exit 1 with one ``error:`` line (and an optional
``hint:``), as docs/access.md says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from modelgit.cli.main import cli


@dataclass
class Run:
    code: int
    out: str
    err: str
    exception: BaseException | None

    def json(self) -> Any:
        return json.loads(self.out)


def mg(data: Path, *args: str) -> Run:
    """Run ``modelgit --data DATA ARGS`` in-process; no traceback may ever escape."""
    result = CliRunner().invoke(cli, ["--data", str(data), *args])
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"modelgit {' '.join(args)} raised {exc!r}")
    run = Run(result.exit_code, result.stdout, result.stderr, exc)
    assert "Traceback" not in run.out + run.err, run
    return run


def ok(data: Path, *args: str) -> Run:
    run = mg(data, *args)
    assert run.code == 0, f"modelgit {' '.join(args)} -> {run.code}\n{run.out}\n{run.err}"
    return run


def assert_refused(run: Run, *, mentions: str | None = None, hint: bool | None = None) -> None:
    """Exit 1 and exactly one ``error:`` line, optionally followed by one ``hint:`` line."""
    assert run.code == 1, f"expected exit 1, got {run.code}\nstdout: {run.out}\nstderr: {run.err}"
    lines = run.err.splitlines()
    assert 1 <= len(lines) <= 2, f"expected one error line (+ hint), got:\n{run.err}"
    assert lines[0].startswith("error: ") and lines[0].strip() != "error:", run.err
    if len(lines) == 2:
        assert lines[1].startswith("hint: "), run.err
    if hint is not None:
        assert (len(lines) == 2) is hint, run.err
    if mentions is not None:
        assert mentions in lines[0], run.err
